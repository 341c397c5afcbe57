//! A pipeline's dataset graph: the datasets its SQL files define (`CREATE STREAMING
//! TABLE`, `CREATE MATERIALIZED VIEW`, with their expectations), each query's inputs
//! (tables it reads, and the table a `STREAM(table)` follows), and the order to run
//! them in. Unqualified names are the pipeline's namespace; a name that is neither a
//! dataset of the pipeline nor (checked when the update starts) an existing table, a
//! cycle, a stream over a materialized view and a dataset defined twice are errors
//! before anything runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, Ident, ObjectName, ObjectNamePart, Query,
    TableFactor, Value, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use serde::{Deserialize, Serialize};
use sparkling_sql::PartitionTerm;

use crate::datasets::DatasetName;
use crate::error::{JobsError, Result};
use sparkling_engine::session::DEFAULT_CATALOG;
use sparkling_lakehouse::expectations::{Expectation, OnViolation};
use sparkling_lakehouse::streaming::TableName;
use sparkling_sql::ddl::{self, CreateTable, Statement};
use sparkling_sql::pipeline_spec::{PipelineBundle, PipelineSpec, substitute};
use sparkling_sql::script;
use sparkling_sql::stream_syntax;

/// What a dataset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DatasetKind {
    /// Appended to batch by batch from a `STREAM(...)` source.
    StreamingTable,
    /// Recomputed in full on each update.
    MaterializedView,
}

/// A table a dataset's query reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The table.
    pub table: TableName,
    /// Read as a stream of its appends (`STREAM(table)`), not as a whole.
    pub streaming: bool,
}

/// One dataset of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Its table.
    pub name: TableName,
    /// What it is.
    pub kind: DatasetKind,
    /// Its query, names qualified and `STREAM(...)` in the engine's form.
    pub query: String,
    /// `PARTITIONED BY`.
    pub partitioned_by: Vec<PartitionTerm>,
    /// `TBLPROPERTIES` and `COMMENT`.
    pub properties: BTreeMap<String, String>,
    /// Its expectations.
    pub expectations: Vec<Expectation>,
    /// The tables its query reads.
    pub inputs: Vec<Input>,
    /// What else it reads (Kafka topics, the event generator), for lineage.
    pub sources: Vec<DatasetName>,
    /// Where it is defined (`file:line`).
    pub defined_at: String,
}

/// A pipeline ready to run.
#[derive(Debug, Clone)]
pub struct PipelineGraph {
    /// The spec.
    pub spec: PipelineSpec,
    /// The datasets, each after the datasets it reads.
    pub datasets: Vec<Dataset>,
    /// Session settings (`SET` statements and the configuration).
    pub settings: Vec<(String, String)>,
}

impl PipelineGraph {
    /// Builds the graph of `bundle`, with `overrides` (the submission's settings)
    /// taking precedence over the spec's configuration.
    pub fn build(bundle: &PipelineBundle, overrides: &BTreeMap<String, String>) -> Result<Self> {
        let spec = PipelineSpec::parse(&bundle.spec)?;
        let namespace = spec.namespace();
        let mut values = spec.configuration();
        for (k, v) in overrides {
            values.insert(k.clone(), v.clone());
        }
        let mut settings: Vec<(String, String)> = values
            .iter()
            .filter(|(k, _)| k.starts_with("spark."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut datasets: Vec<Dataset> = Vec::new();
        for file in &bundle.files {
            let sql = substitute(&file.content, &values, &file.path)?;
            let statements = match script::split(&sql) {
                Ok(statements) => statements,
                Err(sparkling_sql::SqlError::NoStatements) => {
                    continue;
                }
                Err(e) => return Err(JobsError::InvalidInput(format!("{}: {e}", file.path))),
            };
            for statement in statements {
                let at = format!("{}:{}", file.path, statement.line);
                if let Some(setting) = set_statement(&statement.text) {
                    settings.push(setting);
                    continue;
                }
                let parsed = ddl::parse(&statement.text)
                    .map_err(|e| JobsError::InvalidInput(format!("{at}: {e}")))?;
                let (table, kind) = match parsed {
                    Some(Statement::CreateStreamingTable { table, .. }) => {
                        (table, DatasetKind::StreamingTable)
                    }
                    Some(Statement::CreateMaterializedView { table, .. }) => {
                        (table, DatasetKind::MaterializedView)
                    }
                    _ => {
                        return Err(JobsError::InvalidInput(format!(
                            "{at}: a pipeline's SQL defines datasets (CREATE STREAMING TABLE, \
                             CREATE MATERIALIZED VIEW) and SET settings; this is neither: {}",
                            sparkling_sql::script::first_line(&statement.text, 80)
                        )));
                    }
                };
                let dataset = dataset(table, kind, &namespace, at)?;
                if let Some(other) = datasets.iter().find(|d| d.name == dataset.name) {
                    return Err(JobsError::InvalidInput(format!(
                        "{}: dataset {} is defined twice (first at {})",
                        dataset.defined_at, dataset.name, other.defined_at
                    )));
                }
                datasets.push(dataset);
            }
        }
        if datasets.is_empty() {
            return Err(JobsError::InvalidInput(format!(
                "pipeline {}: its SQL files define no datasets",
                spec.name
            )));
        }
        let datasets = order(datasets)?;
        Ok(Self {
            spec,
            datasets,
            settings,
        })
    }

    /// The dataset named `name`.
    pub fn dataset(&self, name: &TableName) -> Option<&Dataset> {
        self.datasets.iter().find(|d| &d.name == name)
    }
}

/// `SET key = value` (value quoted or not).
fn set_statement(text: &str) -> Option<(String, String)> {
    let rest = text.trim();
    if rest.len() < 4 || !rest[..4].eq_ignore_ascii_case("SET ") {
        return None;
    }
    let (key, value) = rest[4..].split_once('=')?;
    let value = value.trim().trim_end_matches(';').trim();
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value);
    Some((key.trim().to_string(), value.to_string()))
}

/// A dataset from its `CREATE` statement.
fn dataset(
    table: CreateTable,
    kind: DatasetKind,
    namespace: &str,
    defined_at: String,
) -> Result<Dataset> {
    let invalid = |message: String| JobsError::InvalidInput(format!("{defined_at}: {message}"));
    let name = qualify(&table.name, namespace).map_err(&invalid)?;
    if table.using.is_some() || table.location.is_some() || table.if_not_exists {
        return Err(invalid(format!(
            "dataset {name}: USING, LOCATION and IF NOT EXISTS do not apply to pipeline datasets"
        )));
    }
    let expectations = match &table.columns {
        Some(columns) => {
            expectations(columns).map_err(|e| invalid(format!("dataset {name}: {e}")))?
        }
        None => Vec::new(),
    };
    let query = table.query.clone().unwrap_or_default();
    let QualifiedQuery {
        sql: query,
        inputs,
        sources,
    } = qualify_query(&query, namespace).map_err(|e| invalid(format!("dataset {name}: {e}")))?;
    let streams = inputs.iter().filter(|i| i.streaming).count();
    match kind {
        DatasetKind::StreamingTable if streams == 0 && !reads_stream_function(&query) => {
            return Err(invalid(format!(
                "streaming table {name} reads no STREAM(...) source; a table recomputed from \
                 batch reads is a MATERIALIZED VIEW"
            )));
        }
        DatasetKind::MaterializedView if streams > 0 || reads_stream_function(&query) => {
            return Err(invalid(format!(
                "materialized view {name} reads STREAM(...); streams feed STREAMING TABLEs"
            )));
        }
        _ => {}
    }
    Ok(Dataset {
        name,
        kind,
        query,
        partitioned_by: table.partitioned_by,
        properties: table.properties,
        expectations,
        inputs,
        sources,
        defined_at,
    })
}

fn reads_stream_function(query: &str) -> bool {
    let lower = query.to_ascii_lowercase();
    lower.contains("sparkling_stream_kafka") || lower.contains("sparkling_stream_events")
}

/// `name` as a table of the pipeline's catalog.
fn qualify(parts: &[String], namespace: &str) -> Result<TableName, String> {
    match parts {
        [t] => Ok(TableName {
            namespace: namespace.to_string(),
            name: t.to_lowercase(),
        }),
        [ns, t] => Ok(TableName {
            namespace: ns.to_lowercase(),
            name: t.to_lowercase(),
        }),
        [c, ns, t] if c.eq_ignore_ascii_case(DEFAULT_CATALOG) => Ok(TableName {
            namespace: ns.to_lowercase(),
            name: t.to_lowercase(),
        }),
        _ => Err(format!(
            "{}: tables are named [{DEFAULT_CATALOG}.]namespace.table",
            parts.join(".")
        )),
    }
}

/// The expectations of a dataset's parenthesized list:
/// `CONSTRAINT name EXPECT (condition) [ON VIOLATION DROP ROW | FAIL UPDATE], ...`.
pub fn expectations(list: &str) -> Result<Vec<Expectation>, String> {
    let tokens = Tokenizer::new(&GenericDialect {}, list)
        .with_unescape(false)
        .tokenize()
        .map_err(|e| e.to_string())?;
    // Split at top-level commas.
    let mut items: Vec<Vec<Token>> = vec![Vec::new()];
    let mut depth = 0usize;
    for token in tokens {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => {
                items.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(item) = items.last_mut()
            && (!matches!(token, Token::Whitespace(_)) || !item.is_empty())
        {
            item.push(token);
        }
    }
    let mut out = Vec::new();
    for item in items {
        let text: String = item.iter().map(|t| t.to_string()).collect();
        let significant: Vec<&Token> = item
            .iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        if significant.is_empty() {
            continue;
        }
        let word = |i: usize| match significant.get(i) {
            Some(Token::Word(w)) => Some(w.value.to_ascii_uppercase()),
            _ => None,
        };
        if word(0).as_deref() != Some("CONSTRAINT") {
            return Err(format!(
                "{}: a dataset takes its columns from its query; list only CONSTRAINT name \
                 EXPECT (condition) clauses",
                text.trim()
            ));
        }
        let name = match significant.get(1) {
            Some(Token::Word(w)) => w.value.clone(),
            _ => return Err(format!("{}: CONSTRAINT needs a name", text.trim())),
        };
        if word(2).as_deref() != Some("EXPECT") || significant.get(3) != Some(&&Token::LParen) {
            return Err(format!(
                "{}: expected CONSTRAINT {name} EXPECT (condition)",
                text.trim()
            ));
        }
        // The condition: the tokens inside the parentheses after EXPECT.
        let Some(open) = item.iter().position(|t| t == significant[3]) else {
            return Err(format!("{}: EXPECT needs a condition", text.trim()));
        };
        let mut depth = 0usize;
        let mut close = None;
        for (i, t) in item.iter().enumerate().skip(open) {
            match t {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close.ok_or_else(|| format!("{}: unbalanced parentheses", text.trim()))?;
        let condition: String = item[open + 1..close]
            .iter()
            .map(|t| t.to_string())
            .collect();
        if condition.trim().is_empty() {
            return Err(format!("CONSTRAINT {name}: the condition is empty"));
        }
        let rest: Vec<String> = item[close + 1..]
            .iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .map(|t| t.to_string().to_ascii_uppercase())
            .collect();
        let on_violation = match rest
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            [] => OnViolation::Warn,
            ["ON", "VIOLATION", "DROP", "ROW"] => OnViolation::DropRow,
            ["ON", "VIOLATION", "FAIL", "UPDATE"] => OnViolation::FailUpdate,
            _ => {
                return Err(format!(
                    "CONSTRAINT {name}: expected ON VIOLATION DROP ROW or ON VIOLATION FAIL \
                     UPDATE after the condition, got {}",
                    rest.join(" ")
                ));
            }
        };
        if out.iter().any(|e: &Expectation| e.name == name) {
            return Err(format!("CONSTRAINT {name} is listed twice"));
        }
        out.push(Expectation {
            name,
            condition: condition.trim().to_string(),
            on_violation,
        });
    }
    Ok(out)
}

/// A statement with its names qualified, and what it reads.
pub struct QualifiedQuery {
    /// The statement, `STREAM(...)` in the engine's form, names qualified.
    pub sql: String,
    /// The tables it reads.
    pub inputs: Vec<Input>,
    /// The other sources it reads (Kafka topics, generated events).
    pub sources: Vec<DatasetName>,
}

/// `query` (one statement) with `STREAM(...)` in the engine's form and every table
/// name qualified (unqualified ones in `namespace`), and what it reads.
pub fn qualify_query(query: &str, namespace: &str) -> Result<QualifiedQuery, String> {
    let rewritten = sparkling_sql::rewrite::rewrite(query, false).map_err(|e| e.to_string())?;
    let mut statements = Parser::parse_sql(&GenericDialect {}, &rewritten)
        .map_err(|e| format!("the query does not parse: {e}"))?;
    if statements.len() != 1 {
        return Err("expected one query after AS".to_string());
    }
    let statement = &mut statements[0];
    let mut ctes = CteNames::default();
    let _ = Visit::visit(&*statement, &mut ctes);
    let mut qualifier = Qualifier {
        namespace: namespace.to_string(),
        ctes: ctes.0,
        inputs: Vec::new(),
        sources: Vec::new(),
        error: None,
    };
    let _ = VisitMut::visit(statement, &mut qualifier);
    if let Some(e) = qualifier.error {
        return Err(e);
    }
    let mut inputs: Vec<Input> = Vec::new();
    for input in qualifier.inputs {
        if !inputs.contains(&input) {
            inputs.push(input);
        }
    }
    Ok(QualifiedQuery {
        sql: statement.to_string(),
        inputs,
        sources: qualifier.sources,
    })
}

/// Names of the common table expressions of a statement (not tables).
#[derive(Default)]
struct CteNames(BTreeSet<String>);

impl Visitor for CteNames {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.0.insert(cte.alias.name.value.to_lowercase());
            }
        }
        ControlFlow::Continue(())
    }
}

/// Qualifies table names and records them as inputs.
struct Qualifier {
    namespace: String,
    ctes: BTreeSet<String>,
    inputs: Vec<Input>,
    sources: Vec<DatasetName>,
    error: Option<String>,
}

fn name_parts(name: &ObjectName) -> Option<Vec<String>> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(ident) => Some(ident.value.clone()),
            _ => None,
        })
        .collect()
}

fn object_name(table: &TableName) -> ObjectName {
    ObjectName::from(vec![
        Ident::with_quote('"', table.namespace.clone()),
        Ident::with_quote('"', table.name.clone()),
    ])
}

impl VisitorMut for Qualifier {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, args, .. } = factor else {
            return ControlFlow::Continue(());
        };
        let Some(parts) = name_parts(name) else {
            return ControlFlow::Continue(());
        };
        match args {
            // STREAM(table), in its engine form: qualify the name it carries.
            Some(args)
                if parts.len() == 1
                    && parts[0].eq_ignore_ascii_case(stream_syntax::TABLE_FUNCTION) =>
            {
                let literal = match args.args.as_slice() {
                    [FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Value(v)))] => {
                        match &v.value {
                            Value::SingleQuotedString(s) => Some(s.clone()),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                let Some(literal) = literal else {
                    self.error = Some("STREAM(...) names one table".to_string());
                    return ControlFlow::Break(());
                };
                let split: Vec<String> = literal.split('.').map(str::to_string).collect();
                match qualify(&split, &self.namespace) {
                    Ok(table) => {
                        if let [FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Value(v)))] =
                            args.args.as_mut_slice()
                        {
                            v.value = Value::SingleQuotedString(table.to_string());
                        }
                        self.inputs.push(Input {
                            table,
                            streaming: true,
                        });
                    }
                    Err(e) => {
                        self.error = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
            // Other table functions (read_kafka, generate_events, range, ...): their
            // option pairs name what they read.
            Some(args) => {
                let literals: Vec<String> = args
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Value(v))) => {
                            match &v.value {
                                Value::SingleQuotedString(s) => Some(s.clone()),
                                Value::Number(n, _) => Some(n.clone()),
                                _ => None,
                            }
                        }
                        _ => None,
                    })
                    .collect();
                let pairs: Vec<(String, String)> = literals
                    .chunks(2)
                    .filter(|c| c.len() == 2)
                    .map(|c| (c[0].clone(), c[1].clone()))
                    .collect();
                for source in crate::datasets::source_datasets(&parts.join("."), &pairs) {
                    if !self.sources.contains(&source) {
                        self.sources.push(source);
                    }
                }
            }
            None => {
                if parts.len() == 1 && self.ctes.contains(&parts[0].to_lowercase()) {
                    return ControlFlow::Continue(());
                }
                match qualify(&parts, &self.namespace) {
                    Ok(table) => {
                        *name = object_name(&table);
                        self.inputs.push(Input {
                            table,
                            streaming: false,
                        });
                    }
                    Err(e) => {
                        self.error = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The datasets, each after the pipeline datasets it reads (definition order
/// otherwise); a cycle or a stream over a materialized view is an error.
fn order(datasets: Vec<Dataset>) -> Result<Vec<Dataset>> {
    let index: HashMap<TableName, usize> = datasets
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.clone(), i))
        .collect();
    for d in &datasets {
        for input in d.inputs.iter().filter(|i| i.streaming) {
            if let Some(&j) = index.get(&input.table)
                && datasets[j].kind == DatasetKind::MaterializedView
            {
                return Err(JobsError::InvalidInput(format!(
                    "{}: {} reads STREAM({}), a materialized view, which each update rewrites; \
                     a stream follows a streaming table's appends",
                    d.defined_at, d.name, input.table
                )));
            }
        }
    }
    let deps: Vec<Vec<usize>> = datasets
        .iter()
        .map(|d| {
            d.inputs
                .iter()
                .filter_map(|i| index.get(&i.table).copied())
                .collect()
        })
        .collect();
    // Depth-first, in definition order; a node met again while on the path closes a
    // cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::OnPath => {
                let from = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[i] = Mark::OnPath;
        path.push(i);
        for &d in &deps[i] {
            visit(d, deps, marks, path, out)?;
        }
        path.pop();
        marks[i] = Mark::Done;
        out.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; datasets.len()];
    let mut out = Vec::with_capacity(datasets.len());
    for i in 0..datasets.len() {
        let mut path = Vec::new();
        if let Err(cycle) = visit(i, &deps, &mut marks, &mut path, &mut out) {
            let names: Vec<String> = cycle
                .iter()
                .map(|&c| datasets[c].name.to_string())
                .collect();
            return Err(JobsError::InvalidInput(format!(
                "the pipeline's datasets read each other in a cycle: {} (defined at {})",
                names.join(" -> "),
                datasets[cycle[0]].defined_at
            )));
        }
    }
    let mut slots: Vec<Option<Dataset>> = datasets.into_iter().map(Some).collect();
    // `out` holds each index once, so every slot is taken once.
    Ok(out.into_iter().filter_map(|i| slots[i].take()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparkling_sql::pipeline_spec::BundledFile;

    fn bundle(files: &[(&str, &str)]) -> PipelineBundle {
        PipelineBundle {
            spec_path: "spark-pipeline.yml".into(),
            spec: "name: p\ndatabase: lake\nconfiguration:\n  n: 10\nlibraries:\n  - glob:\n      include: t\n".into(),
            files: files
                .iter()
                .map(|(path, content)| BundledFile {
                    path: path.to_string(),
                    content: content.to_string(),
                })
                .collect(),
        }
    }

    fn names(graph: &PipelineGraph) -> Vec<String> {
        graph.datasets.iter().map(|d| d.name.to_string()).collect()
    }

    #[test]
    fn datasets_run_after_what_they_read() {
        let graph = PipelineGraph::build(
            &bundle(&[
                (
                    "t/gold.sql",
                    "CREATE MATERIALIZED VIEW gold AS WITH s AS (SELECT * FROM silver) \
                     SELECT count(*) FROM s JOIN other.dim d ON true;",
                ),
                (
                    "t/silver.sql",
                    "CREATE OR REFRESH MATERIALIZED VIEW silver (\n  CONSTRAINT has_user \
                     EXPECT (user_id IS NOT NULL) ON VIOLATION DROP ROW,\n  CONSTRAINT \
                     recent EXPECT (ts > (1 + 2))\n) AS SELECT * FROM bronze;\n\
                     CREATE STREAMING TABLE bronze PARTITIONED BY (kind) AS SELECT * FROM \
                     STREAM(generate_events(kind => 'listen', count => ${n}));\n\
                     CREATE STREAMING TABLE clean AS SELECT * FROM STREAM(bronze) WHERE ts > 0;",
                ),
            ]),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            names(&graph),
            ["lake.bronze", "lake.silver", "lake.gold", "lake.clean"]
        );
        let gold = &graph.datasets[2];
        assert_eq!(
            gold.inputs,
            [
                Input {
                    table: TableName {
                        namespace: "lake".into(),
                        name: "silver".into()
                    },
                    streaming: false
                },
                Input {
                    table: TableName {
                        namespace: "other".into(),
                        name: "dim".into()
                    },
                    streaming: false
                }
            ]
        );
        assert!(
            gold.query.contains("FROM \"lake\".\"silver\""),
            "{}",
            gold.query
        );
        assert!(gold.query.contains("FROM s JOIN"), "{}", gold.query);
        let silver = &graph.datasets[1];
        assert_eq!(silver.expectations.len(), 2);
        assert_eq!(silver.expectations[0].condition, "user_id IS NOT NULL");
        assert_eq!(silver.expectations[0].on_violation, OnViolation::DropRow);
        assert_eq!(silver.expectations[1].condition, "ts > (1 + 2)");
        assert_eq!(silver.expectations[1].on_violation, OnViolation::Warn);
        let bronze = &graph.datasets[0];
        assert_eq!(bronze.sources[0].name, "generate_events/listen");
        assert!(bronze.query.contains("'count', 10"), "{}", bronze.query);
        let clean = &graph.datasets[3];
        assert!(
            clean
                .query
                .contains("sparkling_stream_table('lake.bronze')"),
            "{}",
            clean.query
        );
        assert!(clean.inputs[0].streaming);
    }

    #[test]
    fn broken_graphs_are_refused_before_anything_runs() {
        let build = |sql: &str| {
            PipelineGraph::build(&bundle(&[("t/a.sql", sql)]), &BTreeMap::new())
                .unwrap_err()
                .to_string()
        };
        let e = build(
            "CREATE MATERIALIZED VIEW a AS SELECT * FROM b;\nCREATE MATERIALIZED VIEW b AS \
             SELECT * FROM c;\nCREATE MATERIALIZED VIEW c AS SELECT * FROM a;",
        );
        assert!(
            e.contains("cycle: lake.a -> lake.b -> lake.c -> lake.a"),
            "{e}"
        );
        let e = build("CREATE MATERIALIZED VIEW a AS SELECT * FROM a");
        assert!(e.contains("cycle"), "{e}");
        let e = build(
            "CREATE MATERIALIZED VIEW a AS SELECT 1 x;\nCREATE STREAMING TABLE b AS SELECT * \
             FROM STREAM(a)",
        );
        assert!(e.contains("a materialized view"), "{e}");
        let e = build(
            "CREATE MATERIALIZED VIEW a AS SELECT 1;\nCREATE MATERIALIZED VIEW A AS SELECT 2",
        );
        assert!(
            e.contains("t/a.sql:2: dataset lake.a is defined twice"),
            "{e}"
        );
        let e = build("DROP TABLE x");
        assert!(
            e.contains("t/a.sql:1: a pipeline's SQL defines datasets"),
            "{e}"
        );
        let e = build("CREATE STREAMING TABLE s AS SELECT 1");
        assert!(e.contains("reads no STREAM"), "{e}");
        let e = build("CREATE MATERIALIZED VIEW v (id INT) AS SELECT 1");
        assert!(e.contains("list only CONSTRAINT"), "{e}");
        let e = build(
            "CREATE MATERIALIZED VIEW v (CONSTRAINT c EXPECT (x) ON VIOLATION SKIP) AS SELECT 1",
        );
        assert!(e.contains("ON VIOLATION DROP ROW"), "{e}");
        let e = build("CREATE MATERIALIZED VIEW v AS SELECT * FROM a.b.c.d");
        assert!(e.contains("a.b.c.d"), "{e}");
        let e = build("CREATE MATERIALIZED VIEW v AS SELECT ${missing}");
        assert!(
            e.contains("${missing} is not in the pipeline's configuration"),
            "{e}"
        );
        let e = build("CREATE MATERIALIZED VIEW v AS SELEC 1");
        assert!(e.contains("does not parse"), "{e}");
    }

    #[test]
    fn settings_come_from_set_and_spark_configuration() {
        let graph = PipelineGraph::build(
            &bundle(&[(
                "t/a.sql",
                "SET spark.sql.shuffle.partitions = 4;\nCREATE MATERIALIZED VIEW a AS SELECT 1 AS x",
            )]),
            &BTreeMap::from([("spark.sparkling.streaming.trigger".into(), "once".into())]),
        )
        .unwrap();
        assert_eq!(
            graph.settings,
            [
                (
                    "spark.sparkling.streaming.trigger".to_string(),
                    "once".to_string()
                ),
                ("spark.sql.shuffle.partitions".to_string(), "4".to_string())
            ]
        );
    }
}
