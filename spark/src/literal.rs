//! Spark literals as DataFusion scalars, and the text Spark names them by.

use std::sync::Arc;

use arrow::array::{ArrayRef, new_empty_array};
use arrow::datatypes::{DataType as ArrowType, Field, Fields, TimeUnit};
use datafusion::common::ScalarValue;
use sparkling_proto::spark::expression::literal::LiteralType;
use sparkling_proto::spark::expression::{self};

use crate::error::{Result, SparkError};
use crate::types::{UTC, arrow_type};

/// The SQL text of a Spark literal, keeping its type (a bound SQL parameter).
pub fn sql_text(literal: &expression::Literal) -> Result<String> {
    let value = scalar(literal)?;
    Ok(match &value {
        // Written as `1.5`, a float would parse as a decimal.
        ScalarValue::Float64(Some(v)) => format!("CAST('{}' AS DOUBLE)", java_double(*v)),
        ScalarValue::Float32(Some(v)) => format!("CAST('{v}' AS FLOAT)"),
        _ => datafusion::sql::unparser::Unparser::default()
            .expr_to_sql(&datafusion::logical_expr::Expr::Literal(value, None))?
            .to_string(),
    })
}

/// The DataFusion scalar of a Spark literal.
pub fn scalar(literal: &expression::Literal) -> Result<ScalarValue> {
    let Some(value) = &literal.literal_type else {
        return Err(SparkError::invalid("a literal without a value"));
    };
    Ok(match value {
        LiteralType::Null(t) => ScalarValue::try_from(&arrow_type(t)?)?,
        LiteralType::Binary(b) => ScalarValue::Binary(Some(b.to_vec())),
        LiteralType::Boolean(b) => ScalarValue::Boolean(Some(*b)),
        LiteralType::Byte(v) => ScalarValue::Int8(Some(*v as i8)),
        LiteralType::Short(v) => ScalarValue::Int16(Some(*v as i16)),
        LiteralType::Integer(v) => ScalarValue::Int32(Some(*v)),
        LiteralType::Long(v) => ScalarValue::Int64(Some(*v)),
        LiteralType::Float(v) => ScalarValue::Float32(Some(*v)),
        LiteralType::Double(v) => ScalarValue::Float64(Some(*v)),
        LiteralType::Decimal(d) => decimal(&d.value, d.precision, d.scale)?,
        LiteralType::String(s) => ScalarValue::Utf8(Some(s.clone())),
        LiteralType::Date(days) => ScalarValue::Date32(Some(*days)),
        LiteralType::Timestamp(us) => {
            ScalarValue::TimestampMicrosecond(Some(*us), Some(UTC.into()))
        }
        LiteralType::TimestampNtz(us) => ScalarValue::TimestampMicrosecond(Some(*us), None),
        LiteralType::DayTimeInterval(us) => ScalarValue::DurationMicrosecond(Some(*us)),
        LiteralType::YearMonthInterval(months) => ScalarValue::IntervalYearMonth(Some(*months)),
        LiteralType::CalendarInterval(i) => {
            ScalarValue::IntervalMonthDayNano(Some(arrow::datatypes::IntervalMonthDayNano::new(
                i.months,
                i.days,
                i.microseconds.saturating_mul(1000),
            )))
        }
        #[allow(deprecated)]
        LiteralType::Array(a) => {
            let values = a.elements.iter().map(scalar).collect::<Result<Vec<_>>>()?;
            let element = match (values.first(), literal.data_type.as_ref(), &a.element_type) {
                (Some(v), _, _) => v.data_type(),
                (None, Some(t), _) => match arrow_type(t)? {
                    ArrowType::List(f) => f.data_type().clone(),
                    other => other,
                },
                #[allow(deprecated)]
                (None, None, Some(t)) => arrow_type(t)?,
                (None, None, None) => ArrowType::Null,
            };
            let array: ArrayRef = if values.is_empty() {
                new_empty_array(&element)
            } else {
                ScalarValue::iter_to_array(values)?
            };
            ScalarValue::List(Arc::new(
                arrow::array::ListArray::try_new(
                    Arc::new(Field::new("element", element, true)),
                    arrow::buffer::OffsetBuffer::from_lengths([array.len()]),
                    array,
                    None,
                )
                .map_err(datafusion::error::DataFusionError::from)?,
            ))
        }
        LiteralType::Struct(s) => {
            let values = s.elements.iter().map(scalar).collect::<Result<Vec<_>>>()?;
            let names: Vec<String> = match literal.data_type.as_ref().map(arrow_type) {
                Some(Ok(ArrowType::Struct(fields))) => {
                    fields.iter().map(|f| f.name().clone()).collect()
                }
                _ => (1..=values.len()).map(|i| format!("col{i}")).collect(),
            };
            let fields = Fields::from(
                names
                    .iter()
                    .zip(&values)
                    .map(|(n, v)| Field::new(n, v.data_type(), true))
                    .collect::<Vec<_>>(),
            );
            let arrays = values
                .iter()
                .map(|v| v.to_array())
                .collect::<datafusion::error::Result<Vec<_>>>()?;
            ScalarValue::Struct(Arc::new(
                arrow::array::StructArray::try_new(fields, arrays, None)
                    .map_err(datafusion::error::DataFusionError::from)?,
            ))
        }
        LiteralType::Map(_) => return Err(SparkError::unsupported("map literals")),
        other => {
            return Err(SparkError::unsupported(format!(
                "the literal {}",
                crate::names::variant_name(other)
            )));
        }
    })
}

/// A value as a protocol literal (for results PySpark reads as literals, such as
/// observed metrics).
pub fn from_scalar(value: &ScalarValue) -> Result<expression::Literal> {
    let literal_type = match value {
        v if v.is_null() => LiteralType::Null(crate::types::spark_type(&v.data_type())),
        ScalarValue::Boolean(Some(b)) => LiteralType::Boolean(*b),
        ScalarValue::Int8(Some(v)) => LiteralType::Byte(i32::from(*v)),
        ScalarValue::Int16(Some(v)) => LiteralType::Short(i32::from(*v)),
        ScalarValue::Int32(Some(v)) => LiteralType::Integer(*v),
        ScalarValue::Int64(Some(v)) => LiteralType::Long(*v),
        ScalarValue::UInt8(Some(v)) => LiteralType::Short(i32::from(*v)),
        ScalarValue::UInt16(Some(v)) => LiteralType::Integer(i32::from(*v)),
        ScalarValue::UInt32(Some(v)) => LiteralType::Long(i64::from(*v)),
        ScalarValue::UInt64(Some(v)) => LiteralType::Long(*v as i64),
        ScalarValue::Float32(Some(v)) => LiteralType::Float(*v),
        ScalarValue::Float64(Some(v)) => LiteralType::Double(*v),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => LiteralType::String(s.clone()),
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b)) => LiteralType::Binary(b.clone().into()),
        ScalarValue::Decimal128(Some(_), precision, scale) => {
            LiteralType::Decimal(expression::literal::Decimal {
                value: value.to_string(),
                precision: Some(i32::from(*precision)),
                scale: Some(i32::from(*scale)),
            })
        }
        ScalarValue::Date32(Some(days)) => LiteralType::Date(*days),
        ScalarValue::TimestampMicrosecond(Some(us), zone) => match zone {
            Some(_) => LiteralType::Timestamp(*us),
            None => LiteralType::TimestampNtz(*us),
        },
        other => {
            return Err(SparkError::unsupported(format!(
                "a {} value as a literal",
                crate::types::type_name(&other.data_type())
            )));
        }
    };
    Ok(expression::Literal {
        literal_type: Some(literal_type),
        ..Default::default()
    })
}

fn decimal(text: &str, precision: Option<i32>, scale: Option<i32>) -> Result<ScalarValue> {
    let text = text.trim();
    let (digits, frac) = match text.split_once('.') {
        Some((int, frac)) => (format!("{int}{frac}"), frac.len() as i32),
        None => (text.to_string(), 0),
    };
    let scale_of_text = frac;
    let unscaled: i128 = digits
        .parse()
        .map_err(|_| SparkError::invalid(format!("not a decimal: {text:?}")))?;
    let scale = scale.unwrap_or(scale_of_text);
    let unscaled = if scale >= scale_of_text {
        unscaled * 10i128.pow((scale - scale_of_text) as u32)
    } else {
        unscaled / 10i128.pow((scale_of_text - scale) as u32)
    };
    let digits_needed = unscaled.unsigned_abs().to_string().len() as i32;
    let precision = precision.unwrap_or(digits_needed.max(scale).max(1));
    Ok(ScalarValue::Decimal128(
        Some(unscaled),
        precision as u8,
        scale as i8,
    ))
}

/// The text Spark names a literal column by (`1`, `a` for the string 'a', `true`,
/// `NULL`, `DATE '2024-01-01'`).
pub fn name(literal: &expression::Literal) -> String {
    match &literal.literal_type {
        None | Some(LiteralType::Null(_)) => "NULL".into(),
        Some(LiteralType::String(s)) => s.clone(),
        Some(LiteralType::Boolean(b)) => b.to_string(),
        Some(LiteralType::Byte(v) | LiteralType::Short(v) | LiteralType::Integer(v)) => {
            v.to_string()
        }
        Some(LiteralType::Long(v)) => v.to_string(),
        Some(LiteralType::Float(v)) => java_double(*v as f64),
        Some(LiteralType::Double(v)) => java_double(*v),
        Some(LiteralType::Decimal(d)) => d.value.clone(),
        Some(LiteralType::Binary(b)) => format!(
            "X'{}'",
            b.iter().map(|x| format!("{x:02X}")).collect::<String>()
        ),
        Some(other) => match scalar(literal) {
            Ok(ScalarValue::Date32(Some(d))) => format!(
                "DATE '{}'",
                arrow::temporal_conversions::date32_to_datetime(d)
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default()
            ),
            Ok(ScalarValue::TimestampMicrosecond(Some(us), tz)) => {
                let t = arrow::temporal_conversions::timestamp_us_to_datetime(us)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S%.f").to_string())
                    .unwrap_or_default();
                if tz.is_some() {
                    format!("TIMESTAMP '{t}'")
                } else {
                    format!("TIMESTAMP_NTZ '{t}'")
                }
            }
            Ok(v) => v.to_string(),
            Err(_) => format!("{other:?}"),
        },
    }
}

/// A double as Java's `Double.toString` prints it (`1.0`, `0.5`, `1.0E10`, `NaN`).
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let abs = v.abs();
    if (1e-3..1e7).contains(&abs) {
        let s = format!("{v}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        // Shortest round-trip digits, in Java's scientific form.
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

/// The Arrow type Spark gives a timestamp literal (`TIMESTAMP '...'`).
pub fn timestamp_type() -> ArrowType {
    ArrowType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_doubles() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(3.5), "3.5");
        assert_eq!(java_double(1e10), "1.0E10");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(123456.789), "123456.789");
    }

    #[test]
    fn decimals() {
        assert_eq!(
            decimal("12.50", None, None).unwrap(),
            ScalarValue::Decimal128(Some(1250), 4, 2)
        );
        assert_eq!(
            decimal("3", Some(10), Some(2)).unwrap(),
            ScalarValue::Decimal128(Some(300), 10, 2)
        );
    }
}
