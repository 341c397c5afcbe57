//! Spark's DDL for Iceberg tables, which DataFusion's SQL does not speak:
//! `CREATE/DROP/SHOW NAMESPACE`, `CREATE TABLE ... [USING iceberg] [PARTITIONED BY
//! (col, days(ts), bucket(16, id), ...)] [TBLPROPERTIES (...)] [AS SELECT ...]`,
//! `DROP TABLE ... [PURGE]` and `ALTER TABLE ... ADD COLUMN(S)`; and the dataset
//! definitions of pipelines (`CREATE STREAMING TABLE`, `CREATE MATERIALIZED VIEW`).
//!
//! Statements are recognised from their leading keywords on sqlparser's tokens; column
//! lists and queries are handed back to DataFusion as text. Anything else is not a
//! lakehouse statement and goes to DataFusion unchanged.

use std::collections::BTreeMap;

use crate::error::{Result, SqlError};
use crate::partition::PartitionTerm;
use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A lakehouse DDL statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub enum Statement {
    /// `CREATE NAMESPACE|SCHEMA|DATABASE [IF NOT EXISTS] name [WITH (DB)PROPERTIES (...)]`
    CreateNamespace {
        /// Name parts.
        name: Vec<String>,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// Properties.
        properties: BTreeMap<String, String>,
    },
    /// `DROP NAMESPACE|SCHEMA|DATABASE [IF EXISTS] name [CASCADE]`
    DropNamespace {
        /// Name parts.
        name: Vec<String>,
        /// `IF EXISTS`.
        if_exists: bool,
        /// `CASCADE`: drop its tables too.
        cascade: bool,
    },
    /// `SHOW NAMESPACES|SCHEMAS|DATABASES`
    ShowNamespaces,
    /// `CREATE TABLE ...`
    CreateTable(CreateTable),
    /// `DROP TABLE [IF EXISTS] name [PURGE]`
    DropTable {
        /// Name parts.
        name: Vec<String>,
        /// `IF EXISTS`.
        if_exists: bool,
        /// `PURGE`: delete the data and metadata files too.
        purge: bool,
    },
    /// `CREATE [OR REFRESH] STREAMING TABLE name [PARTITIONED BY ...]
    /// [TBLPROPERTIES ...] AS SELECT ... FROM STREAM(...)`
    CreateStreamingTable {
        /// The table and its query.
        table: CreateTable,
        /// `OR REFRESH`: an existing table is fine; its query resumes.
        or_refresh: bool,
    },
    /// `CREATE [OR REFRESH] MATERIALIZED VIEW name [(CONSTRAINT ...)] [PARTITIONED BY
    /// ...] [TBLPROPERTIES ...] AS SELECT ...`: a dataset of a pipeline.
    CreateMaterializedView {
        /// The view's table and its query.
        table: CreateTable,
        /// `OR REFRESH` (or `OR REPLACE`).
        or_refresh: bool,
    },
    /// `INSERT INTO name SELECT ... FROM STREAM(...)`: a streaming query into an
    /// existing table.
    InsertStream {
        /// Table name parts.
        table: Vec<String>,
        /// The query, as SQL.
        query: String,
    },
    /// `SHOW STREAMS`: the cluster's streaming queries.
    ShowStreams,
    /// `ALTER TABLE name ADD COLUMN[S] [(]col type, ...[)]`
    AddColumns {
        /// Table name parts.
        table: Vec<String>,
        /// The column definitions, as SQL.
        columns: String,
    },
}

/// `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct CreateTable {
    /// Name parts.
    pub name: Vec<String>,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `OR REPLACE`.
    pub or_replace: bool,
    /// Column definitions as SQL (`a INT, b STRING`).
    pub columns: Option<String>,
    /// `USING format` (`iceberg`, or `parquet` for a managed table).
    pub using: Option<String>,
    /// `PARTITIONED BY` terms.
    pub partitioned_by: Vec<PartitionTerm>,
    /// `TBLPROPERTIES`.
    pub properties: BTreeMap<String, String>,
    /// `LOCATION`.
    pub location: Option<String>,
    /// `AS query`, as SQL.
    pub query: Option<String>,
}

/// Parses `sql` if it is a lakehouse statement; `Ok(None)` if it is anything else.
pub fn parse(sql: &str) -> Result<Option<Statement>> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Ok(None);
    };
    let mut p = Parser { tokens, pos: 0 };
    let statement = if p.keyword("CREATE") {
        let or_replace = p.keywords(&["OR", "REPLACE"]);
        let or_refresh = !or_replace && p.keywords(&["OR", "REFRESH"]);
        if p.keywords(&["STREAMING", "TABLE"]) {
            if or_replace {
                return Err(SqlError::Unsupported(
                    "CREATE OR REPLACE STREAMING TABLE is not supported; use CREATE OR REFRESH \
                     STREAMING TABLE to resume a table's stream, or drop the table first"
                        .into(),
                ));
            }
            let table = p.create_table(false)?;
            if table.query.is_none() {
                return Err(syntax(
                    "CREATE STREAMING TABLE needs AS SELECT ... FROM STREAM(...)".to_string(),
                ));
            }
            return Ok(Some(Statement::CreateStreamingTable { table, or_refresh }));
        }
        if p.keywords(&["MATERIALIZED", "VIEW"]) {
            let table = p.create_table(false)?;
            if table.query.is_none() {
                return Err(syntax(
                    "CREATE MATERIALIZED VIEW needs AS SELECT ...".to_string(),
                ));
            }
            return Ok(Some(Statement::CreateMaterializedView {
                table,
                or_refresh: or_refresh || or_replace,
            }));
        }
        if or_refresh {
            return Err(syntax(
                "OR REFRESH applies to STREAMING TABLE only".to_string(),
            ));
        }
        if p.namespace_keyword() && !or_replace {
            let if_not_exists = p.keywords(&["IF", "NOT", "EXISTS"]);
            let name = p.name()?;
            let mut properties = BTreeMap::new();
            loop {
                if p.keyword("COMMENT") {
                    properties.insert("comment".to_string(), p.string()?);
                } else if p.keyword("LOCATION") {
                    properties.insert("location".to_string(), p.string()?);
                } else if p.keywords(&["WITH", "DBPROPERTIES"])
                    || p.keywords(&["WITH", "PROPERTIES"])
                {
                    properties.extend(p.properties()?);
                } else {
                    break;
                }
            }
            Statement::CreateNamespace {
                name,
                if_not_exists,
                properties,
            }
        } else if p.keyword("TABLE") {
            Statement::CreateTable(p.create_table(or_replace)?)
        } else {
            return Ok(None);
        }
    } else if p.keyword("DROP") {
        if p.namespace_keyword() {
            let if_exists = p.keywords(&["IF", "EXISTS"]);
            let name = p.name()?;
            let cascade = p.keyword("CASCADE");
            if !cascade {
                p.keyword("RESTRICT");
            }
            Statement::DropNamespace {
                name,
                if_exists,
                cascade,
            }
        } else if p.keyword("TABLE") {
            let if_exists = p.keywords(&["IF", "EXISTS"]);
            let name = p.name()?;
            let purge = p.keyword("PURGE");
            Statement::DropTable {
                name,
                if_exists,
                purge,
            }
        } else {
            return Ok(None);
        }
    } else if p.keywords(&["INSERT", "INTO"]) {
        p.keyword("TABLE");
        let table = p.name()?;
        let query = p.rest();
        if crate::stream_syntax::rewrite(&query)?.is_none() {
            return Ok(None);
        }
        if query.starts_with('(')
            && !query[1..]
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("SELECT")
        {
            return Err(SqlError::Unsupported(
                "INSERT INTO t (columns) ... FROM STREAM(...) is not supported: select the \
                 table's columns in order instead"
                    .into(),
            ));
        }
        Statement::InsertStream { table, query }
    } else if p.keyword("SHOW") {
        if p.keyword("NAMESPACES") || p.keyword("SCHEMAS") || p.keyword("DATABASES") {
            Statement::ShowNamespaces
        } else if p.keyword("STREAMS") {
            Statement::ShowStreams
        } else {
            return Ok(None);
        }
    } else if p.keywords(&["ALTER", "TABLE"]) {
        let table = p.name()?;
        if !p.keyword("ADD") {
            return Ok(None);
        }
        if !(p.keyword("COLUMNS") || p.keyword("COLUMN")) {
            return Ok(None);
        }
        let columns = match p.parenthesized()? {
            Some(inner) => text(&inner),
            None => p.rest(),
        };
        Statement::AddColumns {
            table,
            columns: columns.trim().to_string(),
        }
    } else {
        return Ok(None);
    };
    p.skip_trivia();
    if p.pos < p.tokens.len() && !matches!(p.tokens[p.pos], Token::SemiColon) {
        return Err(syntax(format!(
            "unexpected {} after the statement",
            p.tokens[p.pos]
        )));
    }
    Ok(Some(statement))
}

fn syntax(message: String) -> SqlError {
    SqlError::Invalid(format!("syntax error: {message}"))
}

fn text(tokens: &[Token]) -> String {
    tokens.iter().map(|t| t.to_string()).collect()
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn skip_trivia(&mut self) {
        while matches!(self.tokens.get(self.pos), Some(Token::Whitespace(_))) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<&Token> {
        self.skip_trivia();
        self.tokens.get(self.pos)
    }

    /// Consumes `kw` (case-insensitive) if it is next.
    fn keyword(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// Consumes all of `kws` if they are next, or nothing.
    fn keywords(&mut self, kws: &[&str]) -> bool {
        let start = self.pos;
        if kws.iter().all(|kw| self.keyword(kw)) {
            true
        } else {
            self.pos = start;
            false
        }
    }

    fn namespace_keyword(&mut self) -> bool {
        self.keyword("NAMESPACE") || self.keyword("SCHEMA") || self.keyword("DATABASE")
    }

    fn expect(&mut self, token: Token) -> Result<()> {
        match self.peek() {
            Some(t) if *t == token => {
                self.pos += 1;
                Ok(())
            }
            other => Err(syntax(format!(
                "expected {token}, found {}",
                other.map_or("the end".to_string(), |t| t.to_string())
            ))),
        }
    }

    fn ident(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Token::Word(w)) => {
                self.pos += 1;
                Ok(if w.quote_style.is_some() {
                    w.value
                } else {
                    w.value.to_lowercase()
                })
            }
            other => Err(syntax(format!(
                "expected a name, found {}",
                other.map_or("the end".to_string(), |t| t.to_string())
            ))),
        }
    }

    /// A dotted name.
    fn name(&mut self) -> Result<Vec<String>> {
        let mut parts = vec![self.ident()?];
        while matches!(self.peek(), Some(Token::Period)) {
            self.pos += 1;
            parts.push(self.ident()?);
        }
        Ok(parts)
    }

    fn string(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)) => {
                self.pos += 1;
                Ok(s)
            }
            other => Err(syntax(format!(
                "expected a quoted string, found {}",
                other.map_or("the end".to_string(), |t| t.to_string())
            ))),
        }
    }

    /// The tokens between a `(` and its matching `)`, if a `(` is next.
    fn parenthesized(&mut self) -> Result<Option<Vec<Token>>> {
        if !matches!(self.peek(), Some(Token::LParen)) {
            return Ok(None);
        }
        let start = self.pos + 1;
        let mut depth = 0;
        while let Some(token) = self.tokens.get(self.pos) {
            match token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        let inner = self.tokens[start..self.pos].to_vec();
                        self.pos += 1;
                        return Ok(Some(inner));
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        Err(syntax("unbalanced parentheses".to_string()))
    }

    /// `('k' = 'v', ...)`.
    fn properties(&mut self) -> Result<BTreeMap<String, String>> {
        self.expect(Token::LParen)?;
        let mut out = BTreeMap::new();
        loop {
            if matches!(self.peek(), Some(Token::RParen)) {
                self.pos += 1;
                return Ok(out);
            }
            let key = match self.peek().cloned() {
                Some(Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)) => {
                    self.pos += 1;
                    s
                }
                _ => self.name()?.join("."),
            };
            self.expect(Token::Eq)?;
            let value = match self.peek().cloned() {
                Some(Token::Number(n, _)) => {
                    self.pos += 1;
                    n
                }
                Some(Token::Word(w)) => {
                    self.pos += 1;
                    w.value
                }
                _ => self.string()?,
            };
            out.insert(key, value);
            if matches!(self.peek(), Some(Token::Comma)) {
                self.pos += 1;
            }
        }
    }

    /// `(term, ...)` of `PARTITIONED BY`.
    fn partition_terms(&mut self) -> Result<Vec<PartitionTerm>> {
        self.expect(Token::LParen)?;
        let mut terms = Vec::new();
        loop {
            let first = self.ident()?;
            let term = if matches!(self.peek(), Some(Token::LParen)) {
                self.pos += 1;
                let mut args = Vec::new();
                loop {
                    match self.peek().cloned() {
                        Some(Token::Number(n, _)) => {
                            self.pos += 1;
                            args.push(n);
                        }
                        Some(Token::Word(_)) => args.push(self.ident()?),
                        other => {
                            return Err(syntax(format!(
                                "expected a column or a number in {first}(), found {}",
                                other.map_or("the end".to_string(), |t| t.to_string())
                            )));
                        }
                    }
                    if matches!(self.peek(), Some(Token::Comma)) {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                self.expect(Token::RParen)?;
                PartitionTerm::parse(Some(&first), &args)
            } else {
                PartitionTerm::parse(None, &[first])
            }?;
            terms.push(term);
            match self.peek() {
                Some(Token::Comma) => self.pos += 1,
                Some(Token::RParen) => {
                    self.pos += 1;
                    return Ok(terms);
                }
                other => {
                    return Err(syntax(format!(
                        "expected , or ) in PARTITIONED BY, found {}",
                        other.map_or("the end".to_string(), |t| t.to_string())
                    )));
                }
            }
        }
    }

    /// Everything left, as SQL (a trailing `;` dropped).
    fn rest(&mut self) -> String {
        self.skip_trivia();
        let mut end = self.tokens.len();
        while end > self.pos
            && matches!(
                self.tokens[end - 1],
                Token::Whitespace(_) | Token::SemiColon
            )
        {
            end -= 1;
        }
        let rest = text(&self.tokens[self.pos..end]);
        self.pos = self.tokens.len();
        rest
    }

    /// Whether a query (without `AS`) starts here.
    fn query_starts(&mut self) -> bool {
        self.peek().is_some_and(|t| match t {
            Token::Word(w) => {
                w.value.eq_ignore_ascii_case("SELECT") || w.value.eq_ignore_ascii_case("WITH")
            }
            Token::LParen => true,
            _ => false,
        })
    }

    fn create_table(&mut self, or_replace: bool) -> Result<CreateTable> {
        let if_not_exists = self.keywords(&["IF", "NOT", "EXISTS"]);
        let name = self.name()?;
        let columns = self.parenthesized()?.map(|inner| text(&inner));
        let mut table = CreateTable {
            name,
            if_not_exists,
            or_replace,
            columns,
            using: None,
            partitioned_by: Vec::new(),
            properties: BTreeMap::new(),
            location: None,
            query: None,
        };
        loop {
            if self.keyword("USING") {
                table.using = Some(self.ident()?);
            } else if self.keywords(&["PARTITIONED", "BY"]) {
                table.partitioned_by = self.partition_terms()?;
            } else if self.keyword("TBLPROPERTIES") {
                table.properties = self.properties()?;
            } else if self.keyword("LOCATION") {
                table.location = Some(self.string()?);
            } else if self.keyword("COMMENT") {
                let comment = self.string()?;
                table.properties.insert("comment".to_string(), comment);
            } else if self.keyword("AS") || self.query_starts() {
                table.query = Some(self.rest());
            } else {
                return Ok(table);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(sql: &str) -> CreateTable {
        match parse(sql).unwrap() {
            Some(Statement::CreateTable(t)) => t,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn spark_create_table_with_partitions_and_properties() {
        let t = create(
            "CREATE TABLE IF NOT EXISTS Sales.Events (id BIGINT NOT NULL, ts TIMESTAMP, \
             kind STRING) USING iceberg PARTITIONED BY (days(ts), bucket(16, id), kind) \
             TBLPROPERTIES ('format-version' = '2', 'write.x' = 3);",
        );
        assert_eq!(t.name, ["sales", "events"]);
        assert!(t.if_not_exists);
        assert_eq!(
            t.columns.as_deref(),
            Some("id BIGINT NOT NULL, ts TIMESTAMP, kind STRING")
        );
        assert_eq!(t.using.as_deref(), Some("iceberg"));
        assert_eq!(
            t.partitioned_by,
            [
                PartitionTerm::Day("ts".into()),
                PartitionTerm::Bucket(16, "id".into()),
                PartitionTerm::Identity("kind".into())
            ]
        );
        assert_eq!(t.properties["format-version"], "2");
        assert_eq!(t.properties["write.x"], "3");
        assert!(t.query.is_none());
    }

    #[test]
    fn create_table_as_select_keeps_the_query_text() {
        let t = create("create table t partitioned by (region) as select * from s where a = 'x;y'");
        assert_eq!(t.name, ["t"]);
        assert_eq!(t.query.as_deref(), Some("select * from s where a = 'x;y'"));
        let t = create("CREATE TABLE t AS (SELECT 1)");
        assert_eq!(t.query.as_deref(), Some("(SELECT 1)"));
    }

    #[test]
    fn namespaces_drops_and_alters() {
        assert_eq!(
            parse("create namespace if not exists lake with dbproperties ('owner'='me')").unwrap(),
            Some(Statement::CreateNamespace {
                name: vec!["lake".into()],
                if_not_exists: true,
                properties: BTreeMap::from([("owner".into(), "me".into())]),
            })
        );
        assert_eq!(
            parse("DROP DATABASE lake CASCADE").unwrap(),
            Some(Statement::DropNamespace {
                name: vec!["lake".into()],
                if_exists: false,
                cascade: true
            })
        );
        assert_eq!(
            parse("drop table if exists a.b purge").unwrap(),
            Some(Statement::DropTable {
                name: vec!["a".into(), "b".into()],
                if_exists: true,
                purge: true
            })
        );
        assert_eq!(
            parse("ALTER TABLE a.b ADD COLUMNS (c INT, d STRING)").unwrap(),
            Some(Statement::AddColumns {
                table: vec!["a".into(), "b".into()],
                columns: "c INT, d STRING".into()
            })
        );
        assert_eq!(
            parse("show schemas").unwrap(),
            Some(Statement::ShowNamespaces)
        );
    }

    #[test]
    fn other_statements_are_left_to_datafusion_and_bad_ddl_is_reported() {
        for sql in [
            "SELECT 1",
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 'x'",
            "CREATE VIEW v AS SELECT 1",
            "CREATE TEMPORARY VIEW v AS SELECT 1",
            "INSERT INTO t VALUES (1)",
            "SHOW TABLES",
            "ALTER TABLE t RENAME TO u",
        ] {
            assert_eq!(parse(sql).unwrap(), None, "{sql}");
        }
        let err = parse("CREATE TABLE t (a INT) PARTITIONED BY (weeks(a))").unwrap_err();
        assert!(err.to_string().contains("weeks"), "{err}");
        let err = parse("CREATE TABLE t (a INT) PARTITIONED BY (a").unwrap_err();
        assert!(err.to_string().contains("syntax error"), "{err}");
        let err = parse("CREATE NAMESPACE a b").unwrap_err();
        assert!(err.to_string().contains("unexpected"), "{err}");
    }

    #[test]
    fn streaming_statements() {
        let sql = "CREATE OR REFRESH STREAMING TABLE bronze.listens PARTITIONED BY (days(ts)) AS \
                   SELECT * FROM STREAM(read_kafka(subscribe => 'x'))";
        match parse(sql).unwrap() {
            Some(Statement::CreateStreamingTable { table, or_refresh }) => {
                assert!(or_refresh);
                assert_eq!(table.name, vec!["bronze", "listens"]);
                assert_eq!(table.partitioned_by.len(), 1);
                assert!(table.query.unwrap().starts_with("SELECT * FROM STREAM("));
            }
            other => panic!("{other:?}"),
        }
        match parse("insert into TABLE t SELECT value FROM STREAM read_kafka('a', 'b');").unwrap() {
            Some(Statement::InsertStream { table, query }) => {
                assert_eq!(table, vec!["t"]);
                assert_eq!(query, "SELECT value FROM STREAM read_kafka('a', 'b')");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse("INSERT INTO t SELECT 1").unwrap(), None);
        assert_eq!(parse("SHOW STREAMS").unwrap(), Some(Statement::ShowStreams));
        assert!(parse("CREATE STREAMING TABLE t").is_err());
        assert!(parse("CREATE OR REPLACE STREAMING TABLE t AS SELECT 1").is_err());
    }
}
