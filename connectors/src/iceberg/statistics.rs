//! Scan statistics of an Iceberg table from its manifests: every data file's entry
//! carries its row count and, per column, null counts and lower and upper bounds.
//! Summed over the files a scan reads, they give DataFusion what a Parquet table's
//! footers give it (rows, nulls, min/max per column), so filters, joins and
//! aggregates above an Iceberg scan are estimated, and joins planned, as they are over
//! the same data in Parquet files.
//!
//! Everything is `Inexact`: bounds may be truncated (long strings), a scan's filters
//! drop rows the counts include, and the numbers are for sizing only, never for
//! answering a query (`count(*)`, `min`) without reading the files.

use std::collections::HashMap;

use arrow::datatypes::{DataType, Schema as ArrowSchema, TimeUnit};
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, ScalarValue, Statistics};
use iceberg::spec::{DataFile, Datum, PrimitiveLiteral, PrimitiveType, Schema};

/// The statistics of a scan of `files` (data files of a table with `schema`, seen
/// through DataFusion as `arrow_schema`, the same top-level columns in the same order).
pub fn scan_statistics(
    schema: &Schema,
    arrow_schema: &ArrowSchema,
    files: &[&DataFile],
) -> Statistics {
    let rows: u64 = files.iter().map(|f| f.record_count()).sum();
    let fields = schema.as_struct().fields();
    let column_statistics = arrow_schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, arrow_field)| match fields.get(i) {
            Some(field) if field.name == *arrow_field.name() => {
                column_statistics(field.id, arrow_field.data_type(), rows, files)
            }
            _ => ColumnStatistics::new_unknown(),
        })
        .collect();
    Statistics {
        num_rows: Precision::Inexact(rows as usize),
        // As for Parquet files: the projection computes it from the columns it keeps.
        total_byte_size: Precision::Absent,
        column_statistics,
    }
}

/// One column's statistics over `files`: known only where every file has them.
fn column_statistics(
    id: i32,
    data_type: &DataType,
    rows: u64,
    files: &[&DataFile],
) -> ColumnStatistics {
    let null_count = files
        .iter()
        .map(|f| f.null_value_counts().get(&id).copied())
        .sum::<Option<u64>>();
    // A NaN is neither below the lower bound nor above the upper one.
    let has_nan = files
        .iter()
        .any(|f| f.nan_value_counts().get(&id).is_none_or(|n| *n > 0))
        && matches!(data_type, DataType::Float32 | DataType::Float64);
    let bound = |bounds: fn(&DataFile) -> &HashMap<i32, Datum>, pick_max: bool| {
        if has_nan {
            return Precision::Absent;
        }
        let mut acc: Option<ScalarValue> = None;
        for file in files {
            let Some(value) = bounds(file).get(&id).and_then(|d| scalar(d, data_type)) else {
                return Precision::Absent;
            };
            acc = Some(match acc {
                None => value,
                Some(a) => match a.partial_cmp(&value) {
                    Some(order) if (order.is_lt()) == pick_max => value,
                    Some(_) => a,
                    None => return Precision::Absent,
                },
            });
        }
        acc.map_or(Precision::Absent, Precision::Inexact)
    };
    ColumnStatistics {
        null_count: null_count.map_or(Precision::Absent, |n| Precision::Inexact(n as usize)),
        max_value: bound(DataFile::upper_bounds, true),
        min_value: bound(DataFile::lower_bounds, false),
        sum_value: Precision::Absent,
        distinct_count: Precision::Absent,
        // As for Parquet files: known for fixed-width types only.
        byte_size: data_type
            .primitive_width()
            .map_or(Precision::Absent, |w| Precision::Inexact(w * rows as usize)),
    }
}

/// An Iceberg bound as a value of the column's Arrow type (`None` if it has no such
/// value, e.g. a binary bound or a decimal out of range).
fn scalar(datum: &Datum, data_type: &DataType) -> Option<ScalarValue> {
    let value = match (datum.data_type(), datum.literal()) {
        (PrimitiveType::Boolean, PrimitiveLiteral::Boolean(b)) => ScalarValue::Boolean(Some(*b)),
        (PrimitiveType::Int, PrimitiveLiteral::Int(v)) => ScalarValue::Int32(Some(*v)),
        (PrimitiveType::Date, PrimitiveLiteral::Int(v)) => ScalarValue::Date32(Some(*v)),
        (PrimitiveType::Long, PrimitiveLiteral::Long(v)) => ScalarValue::Int64(Some(*v)),
        (PrimitiveType::Time, PrimitiveLiteral::Long(v)) => {
            ScalarValue::Time64Microsecond(Some(*v))
        }
        (PrimitiveType::Timestamp | PrimitiveType::Timestamptz, PrimitiveLiteral::Long(v)) => {
            timestamp(data_type, TimeUnit::Microsecond, *v)?
        }
        (PrimitiveType::TimestampNs | PrimitiveType::TimestamptzNs, PrimitiveLiteral::Long(v)) => {
            timestamp(data_type, TimeUnit::Nanosecond, *v)?
        }
        (PrimitiveType::Float, PrimitiveLiteral::Float(v)) => ScalarValue::Float32(Some(v.0)),
        (PrimitiveType::Double, PrimitiveLiteral::Double(v)) => ScalarValue::Float64(Some(v.0)),
        (PrimitiveType::Decimal { precision, scale }, PrimitiveLiteral::Int128(v)) => {
            ScalarValue::Decimal128(
                Some(*v),
                u8::try_from(*precision).ok()?,
                i8::try_from(*scale).ok()?,
            )
        }
        (PrimitiveType::String, PrimitiveLiteral::String(s)) => ScalarValue::Utf8(Some(s.clone())),
        _ => return None,
    };
    if value.data_type() == *data_type {
        Some(value)
    } else {
        value.cast_to(data_type).ok()
    }
}

/// A timestamp bound in the column's own unit and time zone.
fn timestamp(data_type: &DataType, unit: TimeUnit, v: i64) -> Option<ScalarValue> {
    let DataType::Timestamp(column_unit, tz) = data_type else {
        return None;
    };
    if *column_unit != unit {
        return None;
    }
    Some(match unit {
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(v), tz.clone()),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(v), tz.clone()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use iceberg::spec::{
        DataContentType, DataFileBuilder, DataFileFormat, NestedField, PrimitiveType, Type,
    };

    use super::*;

    fn schema() -> Schema {
        Schema::builder()
            .with_fields(vec![
                NestedField::required(1, "k", Type::Primitive(PrimitiveType::Long)).into(),
                NestedField::optional(2, "d", Type::Primitive(PrimitiveType::Date)).into(),
                NestedField::optional(3, "s", Type::Primitive(PrimitiveType::String)).into(),
                NestedField::optional(
                    4,
                    "p",
                    Type::Primitive(PrimitiveType::Decimal {
                        precision: 15,
                        scale: 2,
                    }),
                )
                .into(),
            ])
            .build()
            .unwrap()
    }

    fn file(
        rows: u64,
        k: (i64, i64),
        d: (i32, i32),
        s: Option<(&str, &str)>,
        nulls: u64,
    ) -> DataFile {
        let mut lower = HashMap::from([(1, Datum::long(k.0)), (2, Datum::date(d.0))]);
        let mut upper = HashMap::from([(1, Datum::long(k.1)), (2, Datum::date(d.1))]);
        if let Some((lo, hi)) = s {
            lower.insert(3, Datum::string(lo));
            upper.insert(3, Datum::string(hi));
        }
        lower.insert(4, Datum::decimal_from_str("1.50").unwrap());
        upper.insert(4, Datum::decimal_from_str("99.25").unwrap());
        DataFileBuilder::default()
            .content(DataContentType::Data)
            .file_path(format!("file:///t/{rows}.parquet"))
            .file_format(DataFileFormat::Parquet)
            .record_count(rows)
            .file_size_in_bytes(1000)
            .null_value_counts(HashMap::from([(1, 0), (2, nulls), (3, 0), (4, 0)]))
            .lower_bounds(lower)
            .upper_bounds(upper)
            .build()
            .unwrap()
    }

    #[test]
    fn rows_nulls_and_bounds_are_summed_over_the_files_read() {
        let schema = schema();
        let arrow = iceberg::arrow::schema_to_arrow_schema(&schema).unwrap();
        let a = file(10, (5, 50), (100, 200), Some(("apple", "melon")), 1);
        let b = file(30, (1, 20), (150, 300), Some(("banana", "zucchini")), 2);
        let stats = scan_statistics(&schema, &arrow, &[&a, &b]);
        assert_eq!(stats.num_rows, Precision::Inexact(40));
        let k = &stats.column_statistics[0];
        assert_eq!(k.min_value, Precision::Inexact(ScalarValue::Int64(Some(1))));
        assert_eq!(
            k.max_value,
            Precision::Inexact(ScalarValue::Int64(Some(50)))
        );
        assert_eq!(k.null_count, Precision::Inexact(0));
        assert_eq!(k.byte_size, Precision::Inexact(40 * 8));
        let d = &stats.column_statistics[1];
        assert_eq!(
            d.min_value,
            Precision::Inexact(ScalarValue::Date32(Some(100)))
        );
        assert_eq!(
            d.max_value,
            Precision::Inexact(ScalarValue::Date32(Some(300)))
        );
        assert_eq!(d.null_count, Precision::Inexact(3));
        let s = &stats.column_statistics[2];
        assert_eq!(
            s.min_value,
            Precision::Inexact(ScalarValue::Utf8(Some("apple".into())))
        );
        assert_eq!(
            s.max_value,
            Precision::Inexact(ScalarValue::Utf8(Some("zucchini".into())))
        );
        assert_eq!(s.byte_size, Precision::Absent);
        let p = &stats.column_statistics[3];
        assert_eq!(
            p.min_value,
            Precision::Inexact(ScalarValue::Decimal128(Some(150), 15, 2))
        );
        assert_eq!(
            p.max_value,
            Precision::Inexact(ScalarValue::Decimal128(Some(9925), 15, 2))
        );
    }

    #[test]
    fn a_bound_missing_from_one_file_is_unknown() {
        let schema = schema();
        let arrow = iceberg::arrow::schema_to_arrow_schema(&schema).unwrap();
        let a = file(10, (5, 50), (100, 200), Some(("apple", "melon")), 0);
        let b = file(30, (1, 20), (150, 300), None, 0);
        let stats = scan_statistics(&schema, &arrow, &[&a, &b]);
        let s = &stats.column_statistics[2];
        assert_eq!(s.min_value, Precision::Absent);
        assert_eq!(s.max_value, Precision::Absent);
        assert_eq!(s.null_count, Precision::Inexact(0));
        // The other columns still have theirs.
        assert_eq!(
            stats.column_statistics[0].max_value,
            Precision::Inexact(ScalarValue::Int64(Some(50)))
        );
    }
}
