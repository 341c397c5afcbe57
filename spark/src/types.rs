//! Spark's types and Arrow's: the protocol's `DataType`, DDL strings (`"x int, y
//! string"`), the JSON form PySpark sends (`StructType.json()`), and the names Spark
//! prints (`bigint`, `decimal(15,2)`, `CAST(x AS INT)`).

use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Field, Fields, Schema, TimeUnit};
use sparkling_proto::spark::{DataType, data_type};

use crate::error::{Result, SparkError};

/// The time zone of Spark's `timestamp` (instants) in Arrow.
pub const UTC: &str = "UTC";

/// The Spark type of an Arrow schema (a struct of its fields).
pub fn spark_schema(schema: &Schema) -> DataType {
    DataType {
        kind: Some(data_type::Kind::Struct(data_type::Struct {
            fields: schema.fields().iter().map(|f| spark_field(f)).collect(),
            type_variation_reference: 0,
        })),
    }
}

/// The key of the Arrow field metadata holding a column's Spark metadata (JSON).
pub const SPARK_METADATA: &str = "spark.metadata";

fn spark_field(field: &Field) -> data_type::StructField {
    data_type::StructField {
        name: field.name().clone(),
        data_type: Some(spark_type(field.data_type())),
        nullable: field.is_nullable(),
        metadata: field.metadata().get(SPARK_METADATA).cloned(),
    }
}

/// The Spark type closest to an Arrow type.
pub fn spark_type(t: &ArrowType) -> DataType {
    use data_type::Kind;
    let kind = match t {
        ArrowType::Null => Kind::Null(Default::default()),
        ArrowType::Boolean => Kind::Boolean(Default::default()),
        ArrowType::Int8 => Kind::Byte(Default::default()),
        ArrowType::Int16 | ArrowType::UInt8 => Kind::Short(Default::default()),
        ArrowType::Int32 | ArrowType::UInt16 => Kind::Integer(Default::default()),
        ArrowType::Int64 | ArrowType::UInt32 => Kind::Long(Default::default()),
        ArrowType::UInt64 => Kind::Decimal(data_type::Decimal {
            precision: Some(20),
            scale: Some(0),
            type_variation_reference: 0,
        }),
        ArrowType::Float16 | ArrowType::Float32 => Kind::Float(Default::default()),
        ArrowType::Float64 => Kind::Double(Default::default()),
        ArrowType::Decimal32(p, s)
        | ArrowType::Decimal64(p, s)
        | ArrowType::Decimal128(p, s)
        | ArrowType::Decimal256(p, s) => Kind::Decimal(data_type::Decimal {
            precision: Some(*p as i32),
            scale: Some(*s as i32),
            type_variation_reference: 0,
        }),
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => {
            Kind::String(Default::default())
        }
        ArrowType::Binary
        | ArrowType::LargeBinary
        | ArrowType::BinaryView
        | ArrowType::FixedSizeBinary(_) => Kind::Binary(Default::default()),
        ArrowType::Date32 | ArrowType::Date64 => Kind::Date(Default::default()),
        ArrowType::Timestamp(_, Some(_)) => Kind::Timestamp(Default::default()),
        ArrowType::Timestamp(_, None) => Kind::TimestampNtz(Default::default()),
        ArrowType::Time32(_) | ArrowType::Time64(_) => Kind::Time(Default::default()),
        ArrowType::Duration(_) | ArrowType::Interval(_) => {
            Kind::DayTimeInterval(Default::default())
        }
        ArrowType::List(f)
        | ArrowType::LargeList(f)
        | ArrowType::ListView(f)
        | ArrowType::LargeListView(f)
        | ArrowType::FixedSizeList(f, _) => Kind::Array(Box::new(data_type::Array {
            element_type: Some(Box::new(spark_type(f.data_type()))),
            contains_null: f.is_nullable(),
            type_variation_reference: 0,
        })),
        ArrowType::Struct(fields) => Kind::Struct(data_type::Struct {
            fields: fields.iter().map(|f| spark_field(f)).collect(),
            type_variation_reference: 0,
        }),
        ArrowType::Map(entries, _) => match entries.data_type() {
            ArrowType::Struct(kv) if kv.len() == 2 => Kind::Map(Box::new(data_type::Map {
                key_type: Some(Box::new(spark_type(kv[0].data_type()))),
                value_type: Some(Box::new(spark_type(kv[1].data_type()))),
                value_contains_null: kv[1].is_nullable(),
                type_variation_reference: 0,
            })),
            _ => Kind::Binary(Default::default()),
        },
        ArrowType::Dictionary(_, value) => return spark_type(value),
        ArrowType::RunEndEncoded(_, value) => return spark_type(value.data_type()),
        ArrowType::Union(_, _) => Kind::Binary(Default::default()),
    };
    DataType { kind: Some(kind) }
}

/// The Arrow type of a Spark type.
pub fn arrow_type(t: &DataType) -> Result<ArrowType> {
    use data_type::Kind;
    let Some(kind) = &t.kind else {
        return Err(SparkError::invalid("a data type without a kind"));
    };
    Ok(match kind {
        Kind::Null(_) => ArrowType::Null,
        Kind::Binary(_) => ArrowType::Binary,
        Kind::Boolean(_) => ArrowType::Boolean,
        Kind::Byte(_) => ArrowType::Int8,
        Kind::Short(_) => ArrowType::Int16,
        Kind::Integer(_) => ArrowType::Int32,
        Kind::Long(_) => ArrowType::Int64,
        Kind::Float(_) => ArrowType::Float32,
        Kind::Double(_) => ArrowType::Float64,
        Kind::Decimal(d) => decimal(d.precision.unwrap_or(10), d.scale.unwrap_or(0))?,
        Kind::String(_) | Kind::Char(_) | Kind::VarChar(_) => ArrowType::Utf8,
        Kind::Date(_) => ArrowType::Date32,
        Kind::Timestamp(_) => ArrowType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        Kind::TimestampNtz(_) => ArrowType::Timestamp(TimeUnit::Microsecond, None),
        Kind::DayTimeInterval(_) => ArrowType::Duration(TimeUnit::Microsecond),
        Kind::YearMonthInterval(_) => {
            ArrowType::Interval(arrow::datatypes::IntervalUnit::YearMonth)
        }
        Kind::CalendarInterval(_) => {
            ArrowType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano)
        }
        Kind::Array(a) => {
            let element = a
                .element_type
                .as_deref()
                .ok_or_else(|| SparkError::invalid("an array type without an element type"))?;
            ArrowType::List(Arc::new(Field::new(
                "element",
                arrow_type(element)?,
                a.contains_null,
            )))
        }
        Kind::Struct(s) => ArrowType::Struct(arrow_fields(&s.fields)?),
        Kind::Map(m) => {
            let (Some(k), Some(v)) = (m.key_type.as_deref(), m.value_type.as_deref()) else {
                return Err(SparkError::invalid("a map type without key or value type"));
            };
            map_type(arrow_type(k)?, arrow_type(v)?, m.value_contains_null)
        }
        Kind::Unparsed(u) => parse_type(&u.data_type_string)?,
        Kind::Udt(u) => match u.sql_type.as_deref() {
            Some(t) => arrow_type(t)?,
            None => return Err(SparkError::unsupported("user-defined types")),
        },
        other => {
            return Err(SparkError::unsupported(format!(
                "the data type {}",
                kind_name(other)
            )));
        }
    })
}

fn kind_name(kind: &data_type::Kind) -> String {
    crate::names::variant_name(kind).to_lowercase()
}

/// Arrow fields of Spark struct fields.
pub fn arrow_fields(fields: &[data_type::StructField]) -> Result<Fields> {
    fields
        .iter()
        .map(|f| {
            let t = f
                .data_type
                .as_ref()
                .ok_or_else(|| SparkError::invalid(format!("field {} has no type", f.name)))?;
            Ok(Field::new(&f.name, arrow_type(t)?, f.nullable))
        })
        .collect::<Result<Vec<_>>>()
        .map(Fields::from)
}

/// An Arrow schema from a Spark struct type.
pub fn arrow_schema(t: &DataType) -> Result<Schema> {
    match arrow_type(t)? {
        ArrowType::Struct(fields) => Ok(Schema::new(fields)),
        other => Ok(Schema::new(vec![Field::new("value", other, true)])),
    }
}

fn decimal(precision: i32, scale: i32) -> Result<ArrowType> {
    if !(1..=38).contains(&precision) || scale < 0 || scale > precision {
        return Err(SparkError::invalid(format!(
            "decimal({precision},{scale}) is not a valid decimal type (precision 1 to 38, scale 0 to precision)"
        )));
    }
    Ok(ArrowType::Decimal128(precision as u8, scale as i8))
}

fn map_type(key: ArrowType, value: ArrowType, value_nullable: bool) -> ArrowType {
    ArrowType::Map(
        Arc::new(Field::new(
            "entries",
            ArrowType::Struct(Fields::from(vec![
                Field::new("key", key, false),
                Field::new("value", value, value_nullable),
            ])),
            false,
        )),
        false,
    )
}

/// A schema string as `LocalRelation.schema` and `createDataFrame` carry it: Spark's
/// JSON form (`{"type":"struct","fields":[...]}`) or DDL (`x int, y string`, or one
/// type such as `int`, whose column is called `value`).
pub fn parse_schema(text: &str) -> Result<Schema> {
    let text = text.trim();
    if text.starts_with('{') || text.starts_with('"') {
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| SparkError::invalid(format!("schema is not valid JSON: {e}")))?;
        return match json_type(&json)? {
            ArrowType::Struct(fields) => Ok(Schema::new(fields)),
            other => Ok(Schema::new(vec![Field::new("value", other, true)])),
        };
    }
    let mut parser = DdlParser::new(text);
    let schema = parser.schema_or_type()?;
    parser.end()?;
    Ok(schema)
}

/// One type in Spark's DDL (`int`, `array<string>`, `struct<a:int>`, `decimal(10,2)`).
pub fn parse_type(text: &str) -> Result<ArrowType> {
    let mut parser = DdlParser::new(text);
    let t = parser.data_type()?;
    parser.end()?;
    Ok(t)
}

/// What `DDLParse` answers: one type (`int`, `array<string>`) as itself, a column
/// list (`a int, b string`) as a struct.
pub fn ddl_type(text: &str) -> Result<DataType> {
    if let Ok(t) = parse_type(text) {
        return Ok(spark_type(&t));
    }
    Ok(spark_schema(&parse_schema(text)?))
}

/// A JSON schema as a DDL column list (`a INT, b STRING`), as `JsonToDDL` answers.
pub fn json_to_ddl(json: &str) -> Result<String> {
    let schema = parse_schema(json)?;
    Ok(schema
        .fields()
        .iter()
        .map(|f| {
            format!(
                "{} {}{}",
                f.name(),
                sql_type_name(f.data_type()),
                if f.is_nullable() { "" } else { " NOT NULL" }
            )
        })
        .collect::<Vec<_>>()
        .join(","))
}

fn json_type(v: &serde_json::Value) -> Result<ArrowType> {
    use serde_json::Value;
    match v {
        Value::String(name) => parse_type(name),
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
            let nullable = |key: &str| o.get(key).and_then(Value::as_bool).unwrap_or(true);
            let child = |key: &str| {
                o.get(key)
                    .ok_or_else(|| SparkError::invalid(format!("{kind} type without {key}")))
                    .and_then(json_type)
            };
            match kind {
                "struct" => {
                    let fields = o
                        .get("fields")
                        .and_then(Value::as_array)
                        .ok_or_else(|| SparkError::invalid("struct type without fields"))?;
                    let fields = fields
                        .iter()
                        .map(|f| {
                            let name = f.get("name").and_then(Value::as_str).ok_or_else(|| {
                                SparkError::invalid("struct field without a name")
                            })?;
                            let t = f.get("type").ok_or_else(|| {
                                SparkError::invalid(format!("field {name} has no type"))
                            })?;
                            let nullable =
                                f.get("nullable").and_then(Value::as_bool).unwrap_or(true);
                            Ok(Field::new(name, json_type(t)?, nullable))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Ok(ArrowType::Struct(Fields::from(fields)))
                }
                "array" => Ok(ArrowType::List(Arc::new(Field::new(
                    "element",
                    child("elementType")?,
                    nullable("containsNull"),
                )))),
                "map" => Ok(map_type(
                    child("keyType")?,
                    child("valueType")?,
                    nullable("valueContainsNull"),
                )),
                "udt" => child("sqlType"),
                other => Err(SparkError::unsupported(format!("the JSON type {other:?}"))),
            }
        }
        other => Err(SparkError::invalid(format!(
            "not a JSON data type: {other}"
        ))),
    }
}

/// A small recursive-descent parser for Spark's DDL types and column lists.
struct DdlParser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> DdlParser<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.text[self.pos..].chars().next() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }

    fn error(&self, what: &str) -> SparkError {
        SparkError::invalid(format!(
            "[PARSE_SYNTAX_ERROR] cannot parse the data type {:?}: {what} at position {}",
            self.text, self.pos
        ))
    }

    fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("unexpected text")),
        }
    }

    /// A name: letters, digits and `_`, or a backquoted name.
    fn name(&mut self) -> Result<String> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        if let Some(quoted) = rest.strip_prefix('`') {
            let mut name = String::new();
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                if c == '`' {
                    if quoted[i + 1..].starts_with('`') {
                        name.push('`');
                        chars.next();
                        continue;
                    }
                    self.pos += 1 + i + 1;
                    return Ok(name);
                }
                name.push(c);
            }
            return Err(self.error("unterminated backquoted name"));
        }
        let len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error("expected a name"));
        }
        self.pos += len;
        Ok(rest[..len].to_string())
    }

    fn number(&mut self) -> Result<i32> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest
            .char_indices()
            .find(|(_, c)| !c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let n = rest[..len]
            .parse()
            .map_err(|_| self.error("expected a number"))?;
        self.pos += len;
        Ok(n)
    }

    /// `a int, b string` (optionally `a: int`, `NOT NULL`, `COMMENT '...'`), or one
    /// type alone.
    fn schema_or_type(&mut self) -> Result<Schema> {
        let start = self.pos;
        if let Ok(t) = self.data_type()
            && self.peek().is_none()
        {
            return Ok(match t {
                ArrowType::Struct(fields) => Schema::new(fields),
                other => Schema::new(vec![Field::new("value", other, true)]),
            });
        }
        self.pos = start;
        let mut fields = Vec::new();
        loop {
            fields.push(self.field()?);
            if !self.eat(',') {
                break;
            }
        }
        Ok(Schema::new(fields))
    }

    fn field(&mut self) -> Result<Field> {
        let name = self.name()?;
        self.eat(':');
        let t = self.data_type()?;
        let mut nullable = true;
        loop {
            let save = self.pos;
            match self.name().map(|w| w.to_ascii_lowercase()) {
                Ok(w) if w == "not" => {
                    let null = self.name()?;
                    if !null.eq_ignore_ascii_case("null") {
                        return Err(self.error("expected NULL after NOT"));
                    }
                    nullable = false;
                }
                Ok(w) if w == "comment" => {
                    self.string()?;
                }
                _ => {
                    self.pos = save;
                    break;
                }
            }
        }
        Ok(Field::new(name, t, nullable))
    }

    fn string(&mut self) -> Result<String> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let quote = rest
            .chars()
            .next()
            .filter(|c| *c == '\'' || *c == '"')
            .ok_or_else(|| self.error("expected a string"))?;
        let body = &rest[1..];
        let end = body
            .find(quote)
            .ok_or_else(|| self.error("unterminated string"))?;
        self.pos += end + 2;
        Ok(body[..end].to_string())
    }

    fn data_type(&mut self) -> Result<ArrowType> {
        let name = self.name()?.to_ascii_lowercase();
        Ok(match name.as_str() {
            "boolean" | "bool" => ArrowType::Boolean,
            "tinyint" | "byte" => ArrowType::Int8,
            "smallint" | "short" => ArrowType::Int16,
            "int" | "integer" => ArrowType::Int32,
            "bigint" | "long" => ArrowType::Int64,
            "float" | "real" => ArrowType::Float32,
            "double" => ArrowType::Float64,
            "string" | "text" => ArrowType::Utf8,
            "char" | "varchar" | "character" => {
                if self.eat('(') {
                    self.number()?;
                    self.expect(')')?;
                }
                ArrowType::Utf8
            }
            "binary" => ArrowType::Binary,
            "date" => ArrowType::Date32,
            "timestamp" | "timestamp_ltz" => {
                ArrowType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
            }
            "timestamp_ntz" => ArrowType::Timestamp(TimeUnit::Microsecond, None),
            "void" | "null" => ArrowType::Null,
            "decimal" | "dec" | "numeric" => {
                if self.eat('(') {
                    let precision = self.number()?;
                    let scale = if self.eat(',') { self.number()? } else { 0 };
                    self.expect(')')?;
                    decimal(precision, scale)?
                } else {
                    decimal(10, 0)?
                }
            }
            "array" => {
                self.expect('<')?;
                let element = self.data_type()?;
                self.expect('>')?;
                ArrowType::List(Arc::new(Field::new("element", element, true)))
            }
            "map" => {
                self.expect('<')?;
                let key = self.data_type()?;
                self.expect(',')?;
                let value = self.data_type()?;
                self.expect('>')?;
                map_type(key, value, true)
            }
            "struct" => {
                self.expect('<')?;
                let mut fields = Vec::new();
                if !self.eat('>') {
                    loop {
                        fields.push(self.field()?);
                        if !self.eat(',') {
                            break;
                        }
                    }
                    self.expect('>')?;
                }
                ArrowType::Struct(Fields::from(fields))
            }
            other => return Err(self.error(&format!("unknown type {other:?}"))),
        })
    }
}

/// Whether `t` is text (Spark's `string`).
pub fn is_string(t: &ArrowType) -> bool {
    matches!(
        t,
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View
    )
}

/// The Arrow type Spark's clients read for `t`, where it differs: unsigned integers
/// as the signed type (or decimal) [`spark_type`] reports them as, string and binary
/// views as plain strings and binaries (PySpark cannot convert views), inside lists,
/// maps and structs too.
pub fn client_type(t: &ArrowType) -> Option<ArrowType> {
    let field = |f: &Arc<Field>| -> Option<Arc<Field>> {
        client_type(f.data_type()).map(|t| Arc::new(f.as_ref().clone().with_data_type(t)))
    };
    Some(match t {
        ArrowType::UInt8 => ArrowType::Int16,
        ArrowType::UInt16 => ArrowType::Int32,
        ArrowType::UInt32 => ArrowType::Int64,
        ArrowType::UInt64 => ArrowType::Decimal128(20, 0),
        ArrowType::Utf8View => ArrowType::Utf8,
        ArrowType::BinaryView => ArrowType::Binary,
        ArrowType::List(f) => ArrowType::List(field(f)?),
        ArrowType::LargeList(f) => ArrowType::LargeList(field(f)?),
        ArrowType::Map(f, sorted) => ArrowType::Map(field(f)?, *sorted),
        ArrowType::Struct(fields) => {
            if fields.iter().all(|f| client_type(f.data_type()).is_none()) {
                return None;
            }
            ArrowType::Struct(
                fields
                    .iter()
                    .map(|f| field(f).unwrap_or_else(|| Arc::clone(f)))
                    .collect(),
            )
        }
        _ => return None,
    })
}

/// `batch` with its columns cast to the types [`client_type`] gives.
pub fn client_batch(
    batch: arrow::record_batch::RecordBatch,
) -> Result<arrow::record_batch::RecordBatch> {
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| client_type(f.data_type()).is_some())
    {
        return Ok(batch);
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        match client_type(f.data_type()) {
            Some(t) => {
                columns.push(
                    arrow::compute::cast(c, &t)
                        .map_err(|e| SparkError::invalid(format!("column {}: {e}", f.name())))?,
                );
                fields.push(f.as_ref().clone().with_data_type(t));
            }
            None => {
                columns.push(Arc::clone(c));
                fields.push(f.as_ref().clone());
            }
        }
    }
    arrow::record_batch::RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| SparkError::invalid(e.to_string()))
}

/// Spark's `StructType.treeString` of an Arrow schema.
pub fn tree_string(schema: &Schema) -> String {
    let mut out = String::from("root\n");
    for f in schema.fields() {
        tree_field(&mut out, f, 1);
    }
    out
}

fn tree_field(out: &mut String, f: &Field, depth: usize) {
    let indent = " |   ".repeat(depth - 1);
    out.push_str(&format!(
        "{indent} |-- {}: {} (nullable = {})\n",
        f.name(),
        type_name(f.data_type()),
        f.is_nullable()
    ));
    match f.data_type() {
        ArrowType::Struct(fields) => {
            for child in fields {
                tree_field(out, child, depth + 1);
            }
        }
        ArrowType::List(element) | ArrowType::LargeList(element) => {
            let indent = " |   ".repeat(depth);
            out.push_str(&format!(
                "{indent} |-- element: {} (containsNull = {})\n",
                type_name(element.data_type()),
                element.is_nullable()
            ));
        }
        _ => {}
    }
}

/// Spark's simple name of a type (`bigint`, `string`, `decimal(15,2)` ...), as
/// `DataType.simpleString` prints it.
pub fn type_name(t: &ArrowType) -> String {
    match t {
        ArrowType::Null => "void".into(),
        ArrowType::Boolean => "boolean".into(),
        ArrowType::Int8 => "tinyint".into(),
        ArrowType::Int16 | ArrowType::UInt8 => "smallint".into(),
        ArrowType::Int32 | ArrowType::UInt16 => "int".into(),
        ArrowType::Int64 | ArrowType::UInt32 => "bigint".into(),
        ArrowType::UInt64 => "decimal(20,0)".into(),
        ArrowType::Float16 | ArrowType::Float32 => "float".into(),
        ArrowType::Float64 => "double".into(),
        ArrowType::Decimal32(p, s)
        | ArrowType::Decimal64(p, s)
        | ArrowType::Decimal128(p, s)
        | ArrowType::Decimal256(p, s) => format!("decimal({p},{s})"),
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => "string".into(),
        ArrowType::Binary
        | ArrowType::LargeBinary
        | ArrowType::BinaryView
        | ArrowType::FixedSizeBinary(_) => "binary".into(),
        ArrowType::Date32 | ArrowType::Date64 => "date".into(),
        ArrowType::Timestamp(_, Some(_)) => "timestamp".into(),
        ArrowType::Timestamp(_, None) => "timestamp_ntz".into(),
        ArrowType::List(f)
        | ArrowType::LargeList(f)
        | ArrowType::ListView(f)
        | ArrowType::LargeListView(f)
        | ArrowType::FixedSizeList(f, _) => format!("array<{}>", type_name(f.data_type())),
        ArrowType::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}:{}", f.name(), type_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(",")
        ),
        ArrowType::Map(entries, _) => match entries.data_type() {
            ArrowType::Struct(kv) if kv.len() == 2 => format!(
                "map<{},{}>",
                type_name(kv[0].data_type()),
                type_name(kv[1].data_type())
            ),
            other => other.to_string().to_lowercase(),
        },
        ArrowType::Duration(_) => "interval day to second".into(),
        ArrowType::Interval(arrow::datatypes::IntervalUnit::YearMonth) => {
            "interval year to month".into()
        }
        ArrowType::Interval(_) => "interval".into(),
        ArrowType::Dictionary(_, value) => type_name(value),
        other => other.to_string().to_lowercase(),
    }
}

/// Spark's SQL name of a type, as in `CAST(x AS DECIMAL(10,2))`.
pub fn sql_type_name(t: &ArrowType) -> String {
    type_name(t).to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_schemas() {
        let s = parse_schema("x int, y string").unwrap();
        assert_eq!(s.field(0).name(), "x");
        assert_eq!(s.field(0).data_type(), &ArrowType::Int32);
        assert_eq!(s.field(1).data_type(), &ArrowType::Utf8);
        let s = parse_schema("a: bigint NOT NULL, `b c` decimal(10, 2), m map<string, array<int>>")
            .unwrap();
        assert!(!s.field(0).is_nullable());
        assert_eq!(s.field(1).name(), "b c");
        assert_eq!(s.field(1).data_type(), &ArrowType::Decimal128(10, 2));
        assert_eq!(type_name(s.field(2).data_type()), "map<string,array<int>>");
        let s = parse_schema("int").unwrap();
        assert_eq!(s.field(0).name(), "value");
        let s = parse_schema("struct<a:int,b:string>").unwrap();
        assert_eq!(s.fields().len(), 2);
        assert!(parse_schema("x int,").is_err());
        assert!(parse_schema("x nosuchtype").is_err());
        assert!(parse_schema("d decimal(50, 2)").is_err());
    }

    #[test]
    fn json_schemas() {
        let s = parse_schema(
            r#"{"type":"struct","fields":[{"name":"id","type":"long","nullable":false,"metadata":{}},
                {"name":"tags","type":{"type":"array","elementType":"string","containsNull":true},"nullable":true,"metadata":{}},
                {"name":"p","type":"decimal(15,2)","nullable":true,"metadata":{}}]}"#,
        )
        .unwrap();
        assert_eq!(s.field(0).data_type(), &ArrowType::Int64);
        assert_eq!(type_name(s.field(1).data_type()), "array<string>");
        assert_eq!(s.field(2).data_type(), &ArrowType::Decimal128(15, 2));
    }

    #[test]
    fn spark_types_round_trip() {
        let schema = Schema::new(vec![Field::new("p", ArrowType::Decimal128(15, 2), false)]);
        assert_eq!(
            tree_string(&schema),
            "root\n |-- p: decimal(15,2) (nullable = false)\n"
        );
        let back = arrow_schema(&spark_schema(&schema)).unwrap();
        assert_eq!(back, schema);
    }
}
