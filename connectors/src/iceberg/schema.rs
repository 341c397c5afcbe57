//! Table definitions from the engine's terms: an Arrow schema (what SQL column lists
//! and queries produce) as an Iceberg schema, and Spark's `PARTITIONED BY` terms as an
//! Iceberg partition spec.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema as ArrowSchema, TimeUnit};
use datafusion::common::{Result, plan_err};
use iceberg::spec::{Schema, Transform, UnboundPartitionSpec};

pub use sparkling_sql::PartitionTerm;

use super::table::iceberg_error;

/// The transform and the partition field's name (Spark's naming).
fn transform(term: &PartitionTerm) -> (Transform, String) {
    let c = term.column();
    match term {
        PartitionTerm::Identity(_) => (Transform::Identity, c.to_string()),
        PartitionTerm::Year(_) => (Transform::Year, format!("{c}_year")),
        PartitionTerm::Month(_) => (Transform::Month, format!("{c}_month")),
        PartitionTerm::Day(_) => (Transform::Day, format!("{c}_day")),
        PartitionTerm::Hour(_) => (Transform::Hour, format!("{c}_hour")),
        PartitionTerm::Bucket(n, _) => (Transform::Bucket(*n), format!("{c}_bucket")),
        PartitionTerm::Truncate(w, _) => (Transform::Truncate(*w), format!("{c}_trunc")),
    }
}

/// The partition spec for `terms` over `schema`.
pub fn partition_spec(schema: &Schema, terms: &[PartitionTerm]) -> Result<UnboundPartitionSpec> {
    let mut builder = UnboundPartitionSpec::builder();
    for term in terms {
        let column = term.column();
        let Some(field) = schema.field_by_name_case_insensitive(column) else {
            return plan_err!("cannot partition by {column}: the table has no such column");
        };
        let (transform, name) = transform(term);
        let result_type = transform.result_type(&field.field_type);
        if let Err(e) = result_type {
            return plan_err!("cannot partition by {term:?}: {e}");
        }
        builder = builder
            .add_partition_field(field.id, name, transform)
            .map_err(iceberg_error)?;
    }
    Ok(builder.build())
}

/// The Iceberg schema (fresh field ids) of columns described in Arrow. Types Iceberg
/// does not have are widened: small integers to int, nanosecond and millisecond
/// timestamps to microseconds, string and binary views to string and binary.
pub fn iceberg_schema(arrow: &ArrowSchema) -> Result<Schema> {
    let fields: Vec<Field> = arrow.fields().iter().map(|f| normalize_field(f)).collect();
    iceberg::arrow::arrow_schema_to_schema_auto_assign_ids(&ArrowSchema::new(fields))
        .map_err(iceberg_error)
}

fn normalize_field(field: &Field) -> Field {
    Field::new(
        field.name(),
        normalize_type(field.data_type()),
        field.is_nullable(),
    )
}

fn normalize_type(ty: &DataType) -> DataType {
    match ty {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 | DataType::UInt16 => DataType::Int32,
        // Iceberg has no unsigned types. DataFusion's row_number(), rank() and
        // similar are UInt64 where Spark's are integers; values past i64::MAX fail
        // the write's cast rather than wrap.
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 => DataType::Float32,
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::Date64 => DataType::Date32,
        DataType::Timestamp(_, tz) => DataType::Timestamp(
            TimeUnit::Microsecond,
            tz.as_ref().map(|_| Arc::from("+00:00")),
        ),
        DataType::Dictionary(_, value) => normalize_type(value),
        DataType::List(item) | DataType::LargeList(item) | DataType::ListView(item) => {
            DataType::List(Arc::new(normalize_field(item)))
        }
        DataType::Struct(fields) => DataType::Struct(Fields::from(
            fields
                .iter()
                .map(|f| normalize_field(f))
                .collect::<Vec<_>>(),
        )),
        DataType::Map(entries, sorted) => {
            DataType::Map(Arc::new(normalize_field(entries)), *sorted)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_types_become_iceberg_types_and_partition_terms_bind() {
        let arrow = ArrowSchema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
            Field::new("name", DataType::Utf8View, true),
            Field::new("small", DataType::Int16, true),
        ]);
        let schema = iceberg_schema(&arrow).unwrap();
        let back = iceberg::arrow::schema_to_arrow_schema(&schema).unwrap();
        assert_eq!(
            back.field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert!(schema.field_by_name("id").unwrap().required);
        let spec = partition_spec(
            &schema,
            &[
                PartitionTerm::Day("ts".into()),
                PartitionTerm::Bucket(16, "id".into()),
                PartitionTerm::Identity("name".into()),
            ],
        )
        .unwrap();
        let names: Vec<_> = spec.fields().iter().map(|f| f.name.clone()).collect();
        assert_eq!(names, ["ts_day", "id_bucket", "name"]);
        assert!(partition_spec(&schema, &[PartitionTerm::Identity("nope".into())]).is_err());
        // days() of a string is not a valid partition.
        assert!(partition_spec(&schema, &[PartitionTerm::Day("name".into())]).is_err());
    }
}
