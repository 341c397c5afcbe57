//! `spark_from_unixtime(seconds, pattern)`: Spark's `from_unixtime`, seconds since
//! the epoch as a string in the session time zone, formatted by a Java
//! `DateTimeFormatter` pattern (`yyyy-MM-dd HH:mm:ss`, what PySpark's
//! `F.from_unixtime(col)` sends). DataFusion's `from_unixtime` takes a time zone as
//! its second argument and returns a timestamp, so Spark's form gets its own function:
//! the DataFrame API calls it, and the analyzer rules ([`crate::rules`]) rewrite SQL
//! calls whose second argument is a pattern rather than a time zone.
//!
//! Executors evaluate it, so the function library registers it on every process.

use std::any::Any;
use std::fmt::Write;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use chrono::format::{Item, StrftimeItems};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The name plans use.
pub const FROM_UNIXTIME: &str = "spark_from_unixtime";

/// Spark's default pattern for `from_unixtime`.
pub const DEFAULT_PATTERN: &str = "yyyy-MM-dd HH:mm:ss";

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkFromUnixtime {
    signature: Signature,
}

/// The function, ready to register or to call in a plan.
pub fn from_unixtime() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(SparkFromUnixtime {
        signature: Signature::any(2, Volatility::Immutable),
    }))
}

/// The length of a duration as Spark's `window` takes it (`10 minutes`,
/// `1 hour 30 minutes`, `500 milliseconds`, `interval 2 days`), in microseconds.
pub fn duration_micros(text: &str) -> crate::error::Result<i64> {
    let invalid = || {
        crate::error::SparkError::invalid(format!(
            "[CANNOT_PARSE_INTERVAL] the duration '{text}' is not a number of weeks, days, \
             hours, minutes, seconds, milliseconds or microseconds"
        ))
    };
    let lower = text.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower
        .strip_prefix("interval")
        .unwrap_or(&lower)
        .split_whitespace()
        .collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let mut total: i64 = 0;
    for pair in words.chunks(2) {
        let n: i64 = pair[0].parse().map_err(|_| invalid())?;
        let word = match pair[1] {
            "ms" | "us" => pair[1],
            plural => plural.trim_end_matches('s'),
        };
        let unit: i64 = match word {
            "week" => 7 * 86_400_000_000,
            "day" => 86_400_000_000,
            "hour" => 3_600_000_000,
            "minute" | "min" => 60_000_000,
            "second" | "sec" => 1_000_000,
            "millisecond" | "milli" | "ms" => 1_000,
            "microsecond" | "micro" | "us" => 1,
            _ => return Err(invalid()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(invalid)?;
    }
    if total <= 0 {
        return Err(crate::error::SparkError::invalid(format!(
            "[INVALID_PARAMETER_VALUE] the duration '{text}' must be positive"
        )));
    }
    Ok(total)
}

/// Whether `value` names a time zone (DataFusion's second argument) rather than a
/// Java date pattern (Spark's).
pub fn is_time_zone(value: &str) -> bool {
    value.parse::<Tz>().is_ok()
}

/// A chrono format string checked to be valid, so formatting cannot fail midway.
fn checked_format(pattern: &str) -> Result<String> {
    let format = crate::functions::java_datetime_format(pattern);
    if StrftimeItems::new(&format).any(|item| matches!(item, Item::Error)) {
        return plan_err!("[INVALID_DATETIME_PATTERN] unrecognized datetime pattern: {pattern}");
    }
    Ok(format)
}

impl ScalarUDFImpl for SparkFromUnixtime {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        FROM_UNIXTIME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if !(args[0].is_numeric() || args[0] == DataType::Null) {
            return plan_err!(
                "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] from_unixtime takes seconds as a number, not {}",
                args[0]
            );
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [seconds, pattern] = args.args.as_slice() else {
            return exec_err!("{FROM_UNIXTIME} takes two arguments");
        };
        let pattern = match pattern {
            ColumnarValue::Scalar(
                ScalarValue::Utf8(Some(p))
                | ScalarValue::LargeUtf8(Some(p))
                | ScalarValue::Utf8View(Some(p)),
            ) => p.clone(),
            ColumnarValue::Scalar(s) if s.is_null() => {
                return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
            }
            _ => return exec_err!("the pattern of from_unixtime must be a constant string"),
        };
        let format = checked_format(&pattern)?;
        let zone = args
            .config_options
            .execution
            .time_zone
            .clone()
            .unwrap_or_else(|| "UTC".to_string());
        let Ok(tz) = zone.parse::<Tz>() else {
            return exec_err!("unknown session time zone {zone}");
        };
        let scalar = matches!(seconds, ColumnarValue::Scalar(_));
        let seconds = seconds.to_array(args.number_rows)?;
        // Spark casts fractional seconds to a whole number (dropping the fraction).
        let seconds = arrow::compute::cast(&seconds, &DataType::Int64)?;
        let Some(seconds) = seconds.as_any().downcast_ref::<Int64Array>() else {
            return exec_err!("from_unixtime: seconds did not cast to bigint");
        };
        let mut out = Vec::with_capacity(seconds.len());
        for s in seconds.iter() {
            out.push(
                match s.and_then(|s| chrono::DateTime::from_timestamp(s, 0)) {
                    Some(t) => {
                        let mut text = String::new();
                        if write!(text, "{}", t.with_timezone(&tz).format(&format)).is_err() {
                            return exec_err!("from_unixtime: cannot format with {pattern}");
                        }
                        Some(text)
                    }
                    None => None,
                },
            );
        }
        let array = StringArray::from(out);
        if scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &array, 0,
            )?));
        }
        Ok(ColumnarValue::Array(Arc::new(array)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;
    use datafusion::config::ConfigOptions;

    fn call(seconds: ColumnarValue, pattern: &str, zone: Option<&str>) -> ColumnarValue {
        let mut config = ConfigOptions::default();
        config.execution.time_zone = zone.map(str::to_string);
        let f = from_unixtime();
        f.invoke_with_args(ScalarFunctionArgs {
            args: vec![seconds, ColumnarValue::Scalar(ScalarValue::from(pattern))],
            arg_fields: vec![
                Arc::new(Field::new("s", DataType::Int64, true)),
                Arc::new(Field::new("p", DataType::Utf8, true)),
            ],
            number_rows: 2,
            return_field: Arc::new(Field::new("r", DataType::Utf8, true)),
            config_options: Arc::new(config),
        })
        .unwrap()
    }

    #[test]
    fn formats_in_the_session_time_zone() {
        let seconds = ColumnarValue::Array(Arc::new(Int64Array::from(vec![Some(0), None])));
        let ColumnarValue::Array(out) = call(seconds, DEFAULT_PATTERN, Some("UTC")) else {
            panic!("an array in, an array out");
        };
        let out = out.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(out.value(0), "1970-01-01 00:00:00");
        assert!(out.is_null(1));
        let one = ColumnarValue::Scalar(ScalarValue::Float64(Some(86_400.9)));
        let ColumnarValue::Scalar(out) = call(one, "yyyy/MM/dd HH", Some("+02:00")) else {
            panic!("a scalar in, a scalar out");
        };
        assert_eq!(out, ScalarValue::from("1970/01/02 02"));
    }

    #[test]
    fn tells_zones_from_patterns() {
        assert!(is_time_zone("UTC"));
        assert!(is_time_zone("+05:00"));
        assert!(!is_time_zone(DEFAULT_PATTERN));
    }
}
