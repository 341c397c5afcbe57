//! Arrow on the Spark Connect wire: result batches as Arrow IPC streams, local
//! relations from IPC, and Arrow types as Spark `DataType`s.

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef, TimeUnit};
use arrow::ipc::writer::StreamWriter;
use sparkling_proto::spark::{DataType, data_type};

use sparkling_engine::EngineError;

/// Largest Arrow payload put in one response; bigger batches are split by rows.
pub const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;

/// Encodes `batch` as one Arrow IPC stream (schema message, one record batch).
pub fn batch_to_ipc(batch: &RecordBatch) -> Result<Vec<u8>, EngineError> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    let mut writer = StreamWriter::try_new(&mut out, batch.schema_ref())
        .map_err(|e| EngineError::Internal(format!("encoding results: {e}")))?;
    writer
        .write(batch)
        .and_then(|_| writer.finish())
        .map_err(|e| EngineError::Internal(format!("encoding results: {e}")))?;
    drop(writer);
    Ok(out)
}

/// Encodes batches as one Arrow IPC stream (a command's result as a local relation).
pub fn batches_to_ipc(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, EngineError> {
    let fail =
        |e: arrow::error::ArrowError| EngineError::Internal(format!("encoding results: {e}"));
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, schema).map_err(fail)?;
    for batch in batches {
        writer.write(batch).map_err(fail)?;
    }
    writer.finish().map_err(fail)?;
    drop(writer);
    Ok(out)
}

/// Splits a batch into pieces of at most about [`MAX_BATCH_BYTES`].
pub fn split_batch(batch: RecordBatch) -> Vec<RecordBatch> {
    let size = batch.get_array_memory_size();
    let rows = batch.num_rows();
    if size <= MAX_BATCH_BYTES || rows <= 1 {
        return vec![batch];
    }
    let pieces = size.div_ceil(MAX_BATCH_BYTES).min(rows);
    let per_piece = rows.div_ceil(pieces);
    (0..rows)
        .step_by(per_piece)
        .map(|start| batch.slice(start, per_piece.min(rows - start)))
        .collect()
}

/// The Spark type of an Arrow schema (a struct of its fields).
pub fn spark_schema(schema: &Schema) -> DataType {
    DataType {
        kind: Some(data_type::Kind::Struct(data_type::Struct {
            fields: schema.fields().iter().map(|f| spark_field(f)).collect(),
            type_variation_reference: 0,
        })),
    }
}

fn spark_field(field: &Field) -> data_type::StructField {
    data_type::StructField {
        name: field.name().clone(),
        data_type: Some(spark_type(field.data_type())),
        nullable: field.is_nullable(),
        metadata: None,
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

/// Spark's `StructType.treeString` of an Arrow schema.
pub fn tree_string(schema: &Schema) -> String {
    let mut out = String::from("root\n");
    for f in schema.fields() {
        out.push_str(&format!(
            " |-- {}: {} (nullable = {})\n",
            f.name(),
            simple_type_name(f.data_type()),
            f.is_nullable()
        ));
    }
    out
}

/// Spark's simple name of a type (`bigint`, `string`, `decimal(15,2)` ...).
pub fn simple_type_name(t: &ArrowType) -> String {
    match t {
        ArrowType::Null => "void".into(),
        ArrowType::Boolean => "boolean".into(),
        ArrowType::Int8 => "tinyint".into(),
        ArrowType::Int16 | ArrowType::UInt8 => "smallint".into(),
        ArrowType::Int32 | ArrowType::UInt16 => "int".into(),
        ArrowType::Int64 | ArrowType::UInt32 => "bigint".into(),
        ArrowType::Float16 | ArrowType::Float32 => "float".into(),
        ArrowType::Float64 => "double".into(),
        ArrowType::Decimal128(p, s) | ArrowType::Decimal256(p, s) => format!("decimal({p},{s})"),
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => "string".into(),
        ArrowType::Binary | ArrowType::LargeBinary | ArrowType::BinaryView => "binary".into(),
        ArrowType::Date32 | ArrowType::Date64 => "date".into(),
        ArrowType::Timestamp(
            TimeUnit::Microsecond | TimeUnit::Nanosecond | TimeUnit::Millisecond | TimeUnit::Second,
            Some(_),
        ) => "timestamp".into(),
        ArrowType::Timestamp(_, None) => "timestamp_ntz".into(),
        ArrowType::List(f) | ArrowType::LargeList(f) => {
            format!("array<{}>", simple_type_name(f.data_type()))
        }
        ArrowType::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}:{}", f.name(), simple_type_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use sparkling_engine::bind::ipc_to_batches;
    use std::sync::Arc;

    #[test]
    fn ipc_round_trip_and_split() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", ArrowType::Int64, false),
            Field::new("s", ArrowType::Utf8, true),
        ]));
        let n = 300_000;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("row {i}")),
                )),
            ],
        )
        .unwrap();
        let pieces = split_batch(batch.clone());
        assert!(pieces.len() > 1);
        assert_eq!(
            pieces.iter().map(|b| b.num_rows()).sum::<usize>(),
            n as usize
        );
        let ipc = batch_to_ipc(&pieces[0]).unwrap();
        let (back_schema, back) = ipc_to_batches(&ipc).unwrap();
        assert_eq!(back_schema, schema);
        assert_eq!(back[0], pieces[0]);
        assert!(ipc_to_batches(b"not arrow").is_err());
    }

    #[test]
    fn spark_types() {
        let schema = Schema::new(vec![Field::new("p", ArrowType::Decimal128(15, 2), false)]);
        assert_eq!(
            tree_string(&schema),
            "root\n |-- p: decimal(15,2) (nullable = false)\n"
        );
        let DataType {
            kind: Some(data_type::Kind::Struct(s)),
        } = spark_schema(&schema)
        else {
            panic!("not a struct")
        };
        assert_eq!(s.fields[0].name, "p");
    }
}
