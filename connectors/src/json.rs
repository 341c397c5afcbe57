//! Spark's JSON functions. `from_json(json, schema [, options])`: JSON text to a
//! struct, with the schema given as a DDL string (`'id BIGINT, user STRING'` or
//! `'struct<id:bigint>'`). `to_json(struct)`: a struct to JSON text (null fields left
//! out, as Spark does by default).
//!
//! Malformed records follow Spark's modes: `PERMISSIVE` (the default) gives a struct of
//! nulls and, when the schema has a string field named `_corrupt_record` (or the
//! `columnNameOfCorruptRecord` option), the raw text in it; `FAILFAST` fails the query.
//! A record is malformed when it is not one JSON object or a value does not fit its
//! field's type.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray, StructArray, new_null_array};
use arrow::compute::concat;
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, TimeUnit};
use arrow::json::ReaderBuilder;
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// Spark's default name of the corrupt-record column.
pub const CORRUPT_RECORD: &str = "_corrupt_record";

/// `from_json`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FromJson {
    signature: Signature,
}

impl Default for FromJson {
    fn default() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

/// How malformed records are handled.
#[derive(Debug, Clone, PartialEq)]
struct Mode {
    fail_fast: bool,
    corrupt_column: String,
}

fn literal_string(value: Option<&ScalarValue>, what: &str) -> Result<String> {
    match value {
        Some(ScalarValue::Utf8(Some(s)))
        | Some(ScalarValue::LargeUtf8(Some(s)))
        | Some(ScalarValue::Utf8View(Some(s))) => Ok(s.clone()),
        _ => plan_err!("from_json: {what} must be a string literal"),
    }
}

fn options(value: Option<&ScalarValue>) -> Result<Mode> {
    let mut mode = Mode {
        fail_fast: false,
        corrupt_column: CORRUPT_RECORD.to_string(),
    };
    let Some(value) = value else {
        return Ok(mode);
    };
    let pairs: HashMap<String, String> = match value {
        ScalarValue::Map(map) => {
            let entries = map.value(0);
            let entries = entries
                .as_any()
                .downcast_ref::<StructArray>()
                .ok_or_else(|| DataFusionError::Plan("from_json: bad options map".into()))?;
            let keys = arrow::compute::cast(entries.column(0), &DataType::Utf8)?;
            let values = arrow::compute::cast(entries.column(1), &DataType::Utf8)?;
            let (Some(keys), Some(values)) = (
                keys.as_any().downcast_ref::<StringArray>(),
                values.as_any().downcast_ref::<StringArray>(),
            ) else {
                return Err(DataFusionError::Internal(
                    "from_json: options did not cast to strings".into(),
                ));
            };
            (0..keys.len())
                .map(|i| {
                    (
                        keys.value(i).to_ascii_lowercase(),
                        values.value(i).to_string(),
                    )
                })
                .collect()
        }
        other => return plan_err!("from_json: options must be a map(...), got {other}"),
    };
    for (key, value) in pairs {
        match key.as_str() {
            "mode" => match value.to_ascii_uppercase().as_str() {
                "PERMISSIVE" => mode.fail_fast = false,
                "FAILFAST" => mode.fail_fast = true,
                other => {
                    return plan_err!(
                        "from_json: mode {other} is not supported (PERMISSIVE or FAILFAST)"
                    );
                }
            },
            "columnnameofcorruptrecord" => mode.corrupt_column = value,
            // Accepted for compatibility; parsing follows the schema's types.
            "timestampformat" | "dateformat" | "allownumericleadingzeros" => {}
            other => return plan_err!("from_json: unknown option '{other}'"),
        }
    }
    Ok(mode)
}

impl ScalarUDFImpl for FromJson {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "from_json"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("from_json's type comes from its schema argument")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if !(2..=3).contains(&args.arg_fields.len()) {
            return plan_err!("from_json takes (json, schema [, options])");
        }
        if !matches!(
            args.arg_fields[0].data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        ) {
            return plan_err!(
                "from_json takes JSON text, got {} (cast binary Kafka values with CAST(value AS STRING))",
                args.arg_fields[0].data_type()
            );
        }
        let schema = literal_string(args.scalar_arguments[1], "the schema")?;
        options(args.scalar_arguments.get(2).copied().flatten())?;
        let fields = parse_ddl_schema(&schema)?;
        Ok(Arc::new(Field::new(
            "from_json",
            DataType::Struct(fields),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::Struct(fields) = args.return_field.data_type().clone() else {
            return exec_err!("from_json returns a struct");
        };
        let mode = match args.args.get(2) {
            Some(ColumnarValue::Scalar(v)) => options(Some(v))?,
            Some(_) => return exec_err!("from_json: options must be a literal map"),
            None => options(None)?,
        };
        let input = args.args[0].to_array(args.number_rows)?;
        let input = arrow::compute::cast(&input, &DataType::Utf8)?;
        let input = input
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| {
                DataFusionError::Internal("from_json: input did not cast to utf8".into())
            })?;
        Ok(ColumnarValue::Array(parse_json_column(
            input, &fields, &mode,
        )?))
    }
}

/// `to_json`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToJson {
    signature: Signature,
}

impl Default for ToJson {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ToJson {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "to_json"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Struct(_)] => Ok(DataType::Utf8),
            [other] => plan_err!(
                "to_json takes a struct (e.g. named_struct('id', id) or struct(a, b)), got {other}"
            ),
            _ => plan_err!("to_json takes one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let Some(structs) = input.as_any().downcast_ref::<StructArray>() else {
            return exec_err!("to_json takes a struct");
        };
        Ok(ColumnarValue::Array(Arc::new(struct_to_json(structs)?)))
    }
}

/// One JSON object per row of `structs` (null for a null row).
fn struct_to_json(structs: &StructArray) -> Result<StringArray> {
    // Rows that are null as a whole come out null below, whatever their fields hold.
    let fields: Vec<FieldRef> = structs
        .fields()
        .iter()
        .map(|f| Arc::new(f.as_ref().clone().with_nullable(true)))
        .collect();
    let batch = arrow::array::RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        structs.columns().to_vec(),
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(structs.len())),
    )?;
    let mut buf = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut buf);
        writer.write(&batch)?;
        writer.finish()?;
    }
    let text = String::from_utf8(buf)
        .map_err(|e| DataFusionError::Execution(format!("to_json produced invalid UTF-8: {e}")))?;
    let mut lines = text.lines();
    let mut out = Vec::with_capacity(structs.len());
    for i in 0..structs.len() {
        let line = lines.next().unwrap_or("{}");
        out.push(structs.is_valid(i).then_some(line));
    }
    Ok(StringArray::from(out))
}

/// Parses each string of `input` into a struct of `fields`.
fn parse_json_column(input: &StringArray, fields: &Fields, mode: &Mode) -> Result<ArrayRef> {
    let corrupt_index = fields
        .iter()
        .position(|f| f.name() == &mode.corrupt_column && f.data_type() == &DataType::Utf8);
    // The fields JSON fills: all but the corrupt-record column.
    let data_fields: Fields = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != corrupt_index)
        .map(|(_, f)| Arc::new(f.as_ref().clone().with_nullable(true)))
        .collect::<Vec<FieldRef>>()
        .into();
    let schema = Arc::new(Schema::new(data_fields.clone()));
    // Fast path: all rows in one decode; on any error, row by row.
    let rows: Vec<Option<&str>> = (0..input.len())
        .map(|i| input.is_valid(i).then(|| input.value(i)))
        .collect();
    let present: Vec<&str> = rows.iter().flatten().copied().collect();
    let parsed: Vec<Option<ArrayRef>> = match decode(&schema, &present) {
        Ok(Some(all)) if all.len() == present.len() => {
            let mut next = 0;
            rows.iter()
                .map(|r| {
                    r.map(|_| {
                        next += 1;
                        all.slice(next - 1, 1)
                    })
                })
                .collect()
        }
        _ => rows
            .iter()
            .map(|r| match r {
                None => Ok(None),
                Some(text) => match decode(&schema, &[*text]) {
                    Ok(Some(one)) if one.len() == 1 => Ok(Some(one)),
                    Ok(_) | Err(_) if mode.fail_fast => {
                        exec_err!("from_json (FAILFAST): malformed record: {}", preview(text))
                    }
                    _ => Ok(None),
                },
            })
            .collect::<Result<_>>()?,
    };
    // Assemble: data fields from the parsed rows (nulls for null input or malformed
    // rows), the corrupt-record column holding the text of malformed rows.
    let null_row: ArrayRef = Arc::new(StructArray::new_null(data_fields.clone(), 1));
    let pieces: Vec<&dyn Array> = parsed
        .iter()
        .map(|p| p.as_deref().unwrap_or(null_row.as_ref()))
        .collect();
    let data = if pieces.is_empty() {
        new_null_array(&DataType::Struct(data_fields.clone()), 0)
    } else {
        concat(&pieces)?
    };
    let data = data
        .as_any()
        .downcast_ref::<StructArray>()
        .ok_or_else(|| DataFusionError::Internal("from_json: rows are not structs".into()))?
        .clone();
    let (_, data_columns, _) = data.into_parts();
    let mut columns = data_columns;
    if let Some(i) = corrupt_index {
        let corrupt: StringArray = rows
            .iter()
            .zip(&parsed)
            .map(|(text, parsed)| match (text, parsed) {
                (Some(text), None) => Some(*text),
                _ => None,
            })
            .collect();
        columns.insert(i, Arc::new(corrupt));
    }
    let fields: Fields = fields
        .iter()
        .map(|f| Arc::new(f.as_ref().clone().with_nullable(true)))
        .collect::<Vec<FieldRef>>()
        .into();
    let validity =
        arrow::buffer::NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<bool>>());
    Ok(Arc::new(StructArray::try_new(
        fields,
        columns,
        Some(validity),
    )?))
}

fn preview(text: &str) -> String {
    let mut s: String = text.chars().take(200).collect();
    if s.len() < text.len() {
        s.push_str("...");
    }
    s
}

/// Decodes JSON objects, one per item; `None` if there were none. Anything other than
/// an object per item is an error.
fn decode(schema: &Arc<Schema>, rows: &[&str]) -> Result<Option<ArrayRef>> {
    let mut decoder = ReaderBuilder::new(Arc::clone(schema))
        .with_batch_size(rows.len().max(1))
        .build_decoder()?;
    let mut any = false;
    for row in rows {
        let trimmed = row.trim();
        if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
            return exec_err!("not a JSON object");
        }
        let before = decoder.len();
        let read = decoder.decode(trimmed.as_bytes())?;
        decoder.decode(b"\n")?;
        // One row, one object: `{"a":1}{"a":2}` must not shift later rows.
        if read != trimmed.len() || decoder.len() != before + 1 {
            return exec_err!("not exactly one JSON object");
        }
        any = true;
    }
    if !any {
        return Ok(None);
    }
    Ok(decoder
        .flush()?
        .map(|batch| Arc::new(StructArray::from(batch)) as ArrayRef))
}

/// Parses a Spark DDL schema: `a INT, b STRING NOT NULL, c ARRAY<STRUCT<x: DOUBLE>>`
/// or `STRUCT<a: INT, b: STRING>`.
pub fn parse_ddl_schema(ddl: &str) -> Result<Fields> {
    let mut p = Ddl {
        tokens: tokenize(ddl)?,
        pos: 0,
        text: ddl,
    };
    let fields = if p.peek_word("struct") && p.tokens.get(1).map(String::as_str) == Some("<") {
        match p.data_type()? {
            DataType::Struct(fields) => fields,
            _ => unreachable!("a struct type"),
        }
    } else {
        p.fields(None)?
    };
    if p.pos != p.tokens.len() {
        return p.error("unexpected text after the schema");
    }
    if fields.is_empty() {
        return plan_err!("the schema {ddl:?} has no fields");
    }
    Ok(fields)
}

fn tokenize(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '`' {
            chars.next();
            let mut name = String::from("`");
            loop {
                match chars.next() {
                    Some('`') if chars.peek() == Some(&'`') => {
                        chars.next();
                        name.push('`');
                    }
                    Some('`') => break,
                    Some(c) => name.push(c),
                    None => return plan_err!("unterminated `name` in schema {s:?}"),
                }
            }
            out.push(name);
        } else if c == '\'' {
            chars.next();
            let mut text = String::from("'");
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(c) => text.push(c),
                    None => return plan_err!("unterminated string in schema {s:?}"),
                }
            }
            out.push(text);
        } else if c.is_alphanumeric() || c == '_' {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_alphanumeric() || c == '_' {
                    word.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(word);
        } else {
            out.push(c.to_string());
            chars.next();
        }
    }
    Ok(out)
}

struct Ddl<'a> {
    tokens: Vec<String>,
    pos: usize,
    text: &'a str,
}

impl Ddl<'_> {
    fn error<T>(&self, what: &str) -> Result<T> {
        let at = self
            .tokens
            .get(self.pos)
            .map(String::as_str)
            .unwrap_or("the end");
        plan_err!("invalid schema {:?}: {what} at '{at}'", self.text)
    }

    fn peek_word(&self, word: &str) -> bool {
        self.tokens
            .get(self.pos)
            .is_some_and(|t| t.eq_ignore_ascii_case(word))
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.peek_word(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) -> Result<()> {
        if self.eat(token) {
            Ok(())
        } else {
            self.error(&format!("expected '{token}'"))
        }
    }

    fn name(&mut self) -> Result<String> {
        match self.tokens.get(self.pos) {
            Some(t) if t.starts_with('`') => {
                self.pos += 1;
                Ok(t[1..].to_string())
            }
            Some(t) if t.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                self.pos += 1;
                Ok(t.clone())
            }
            _ => self.error("expected a field name"),
        }
    }

    /// `name [:] TYPE [NOT NULL] [COMMENT '...'], ...` up to `end` (or the end).
    fn fields(&mut self, end: Option<&str>) -> Result<Fields> {
        let mut fields = Vec::new();
        loop {
            if end.is_some_and(|e| self.peek_word(e)) || self.pos == self.tokens.len() {
                break;
            }
            let name = self.name()?;
            self.eat(":");
            let data_type = self.data_type()?;
            let mut nullable = true;
            if self.eat("not") {
                self.expect("null")?;
                nullable = false;
            }
            if self.eat("comment") {
                match self.tokens.get(self.pos) {
                    Some(t) if t.starts_with('\'') => self.pos += 1,
                    _ => return self.error("expected a comment string"),
                }
            }
            fields.push(Field::new(name, data_type, nullable));
            if !self.eat(",") {
                break;
            }
        }
        Ok(fields.into())
    }

    fn number(&mut self) -> Result<u8> {
        let n = self.tokens.get(self.pos).and_then(|t| t.parse::<u8>().ok());
        match n {
            Some(n) => {
                self.pos += 1;
                Ok(n)
            }
            None => self.error("expected a number"),
        }
    }

    fn data_type(&mut self) -> Result<DataType> {
        let Some(word) = self.tokens.get(self.pos).map(|t| t.to_ascii_lowercase()) else {
            return self.error("expected a type");
        };
        self.pos += 1;
        Ok(match word.as_str() {
            "boolean" | "bool" => DataType::Boolean,
            "tinyint" | "byte" => DataType::Int8,
            "smallint" | "short" => DataType::Int16,
            "int" | "integer" => DataType::Int32,
            "bigint" | "long" => DataType::Int64,
            "float" | "real" => DataType::Float32,
            "double" => DataType::Float64,
            "string" | "text" => DataType::Utf8,
            "varchar" | "char" => {
                if self.eat("(") {
                    self.number()?;
                    self.expect(")")?;
                }
                DataType::Utf8
            }
            "binary" => DataType::Binary,
            "date" => DataType::Date32,
            "timestamp" | "timestamp_ltz" => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            "timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
            "decimal" | "dec" | "numeric" => {
                let (mut precision, mut scale) = (10, 0);
                if self.eat("(") {
                    precision = self.number()?;
                    if self.eat(",") {
                        scale = self.number()?;
                    }
                    self.expect(")")?;
                }
                if precision == 0 || precision > 38 || scale > precision {
                    return self.error("invalid decimal precision or scale");
                }
                DataType::Decimal128(precision, scale as i8)
            }
            "array" => {
                self.expect("<")?;
                let item = self.data_type()?;
                self.expect(">")?;
                DataType::List(Arc::new(Field::new("element", item, true)))
            }
            "map" => {
                self.expect("<")?;
                let key = self.data_type()?;
                self.expect(",")?;
                let value = self.data_type()?;
                self.expect(">")?;
                DataType::Map(
                    Arc::new(Field::new(
                        "entries",
                        DataType::Struct(Fields::from(vec![
                            Field::new("key", key, false),
                            Field::new("value", value, true),
                        ])),
                        false,
                    )),
                    false,
                )
            }
            "struct" => {
                self.expect("<")?;
                let fields = self.fields(Some(">"))?;
                self.expect(">")?;
                DataType::Struct(fields)
            }
            _ => {
                self.pos -= 1;
                return self.error("unknown type");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int64Array};

    #[test]
    fn ddl_schemas() {
        let fields = parse_ddl_schema(
            "id BIGINT NOT NULL, `user name` STRING COMMENT 'who', price DECIMAL(10,2), \
             tags ARRAY<STRING>, props MAP<STRING, INT>, geo STRUCT<lat: DOUBLE, lon: DOUBLE>, \
             ts TIMESTAMP, d DATE",
        )
        .unwrap();
        assert_eq!(fields.len(), 8);
        assert_eq!(fields[0].data_type(), &DataType::Int64);
        assert!(!fields[0].is_nullable());
        assert_eq!(fields[1].name(), "user name");
        assert_eq!(fields[2].data_type(), &DataType::Decimal128(10, 2));
        assert!(matches!(fields[5].data_type(), DataType::Struct(f) if f.len() == 2));
        let same = parse_ddl_schema("struct<id:bigint,name:string>").unwrap();
        assert_eq!(same.len(), 2);
        for bad in [
            "",
            "id",
            "id WHATEVER",
            "a INT,, b INT",
            "a DECIMAL(50,2)",
            "a INT b",
        ] {
            assert!(parse_ddl_schema(bad).is_err(), "{bad:?} should not parse");
        }
    }

    fn run(rows: Vec<Option<&str>>, schema: &str, mode: Mode) -> Result<StructArray> {
        let fields = parse_ddl_schema(schema).unwrap();
        let input = StringArray::from(rows);
        let out = parse_json_column(&input, &fields, &mode)?;
        Ok(out.as_struct().clone())
    }

    fn permissive() -> Mode {
        Mode {
            fail_fast: false,
            corrupt_column: CORRUPT_RECORD.into(),
        }
    }

    #[test]
    fn permissive_keeps_good_rows_and_the_text_of_bad_ones() {
        let out = run(
            vec![
                Some(r#"{"id": 1, "user": "a"}"#),
                Some("not json"),
                None,
                Some(r#"{"id": "x"}"#),
                Some(r#"{"id": 4, "extra": true}"#),
                Some(r#"{"id": 5}{"id": 6}"#),
                Some(r#"{"id": 7}"#),
            ],
            "id BIGINT, user STRING, _corrupt_record STRING",
            permissive(),
        )
        .unwrap();
        assert_eq!(out.len(), 7);
        let ids7 = out.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        assert!(ids7.is_null(5), "two objects in one record are malformed");
        assert_eq!(ids7.value(6), 7, "and do not shift the rows after them");
        assert!(out.is_null(2), "null input gives a null struct");
        let ids = out.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(ids.value(0), 1);
        assert!(ids.is_null(1) && ids.is_null(3));
        assert_eq!(ids.value(4), 4);
        let corrupt = out.column(2).as_string::<i32>();
        assert!(corrupt.is_null(0) && corrupt.is_null(4));
        assert_eq!(corrupt.value(1), "not json");
        assert_eq!(corrupt.value(3), r#"{"id": "x"}"#);
    }

    #[test]
    fn to_json_writes_objects_and_keeps_null_rows_null() {
        let parsed = run(
            vec![
                Some(r#"{"id": 1, "user": "a"}"#),
                None,
                Some(r#"{"id": 2}"#),
            ],
            "id BIGINT, user STRING",
            permissive(),
        )
        .unwrap();
        let json = struct_to_json(&parsed).unwrap();
        assert_eq!(json.value(0), r#"{"id":1,"user":"a"}"#);
        assert!(json.is_null(1));
        assert_eq!(json.value(2), r#"{"id":2}"#);
    }

    #[test]
    fn failfast_fails_on_the_first_bad_row() {
        let err = run(
            vec![Some(r#"{"id": 1}"#), Some("{broken")],
            "id BIGINT",
            Mode {
                fail_fast: true,
                corrupt_column: CORRUPT_RECORD.into(),
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("{broken"), "{err}");
    }
}
