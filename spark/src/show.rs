//! Rows as Spark's `Dataset.show()` prints them: the same cells (`NULL`, `[1, 2]`,
//! `{a -> 1}`, `{1, x}`, `2024-01-01 10:00:00`, `1.0E10`), the same truncation,
//! padding, borders and footer, byte for byte.

use std::str::FromStr;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};

use crate::literal::java_double;

/// How to print.
#[derive(Debug, Clone)]
pub struct ShowOptions {
    /// Rows to print at most.
    pub num_rows: usize,
    /// Cut cells longer than this (0: never).
    pub truncate: usize,
    /// One block per row.
    pub vertical: bool,
    /// The session time zone timestamps are shown in.
    pub time_zone: Option<String>,
}

/// The text `show()` prints for `batches` (which may hold one row more than
/// `num_rows`, to tell there are more).
pub fn show_string(names: &[String], batches: &[RecordBatch], options: &ShowOptions) -> String {
    let tz = options
        .time_zone
        .as_deref()
        .and_then(|t| arrow::array::timezone::Tz::from_str(t).ok());
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| cell(c.as_ref(), row, tz.as_ref(), true))
                    .collect(),
            );
        }
    }
    let has_more = rows.len() > options.num_rows;
    rows.truncate(options.num_rows);
    // Spark cuts long cells, never the header.
    let header: Vec<String> = names.to_vec();
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| truncate_cell(c, options.truncate))
                .collect()
        })
        .collect();
    let mut out = String::new();
    if options.vertical {
        let name_width = header.iter().map(|h| width(h)).max().unwrap_or(0);
        let data_width = rows
            .iter()
            .flat_map(|r| r.iter().map(|c| width(c)))
            .max()
            .unwrap_or(0);
        for (i, row) in rows.iter().enumerate() {
            let title = format!("-RECORD {i}");
            out.push_str(&pad_right(&title, name_width + data_width + 5, '-'));
            out.push('\n');
            for (name, value) in header.iter().zip(row) {
                out.push(' ');
                out.push_str(&pad_right(name, name_width, ' '));
                out.push_str(" | ");
                // Spark pads values one wider than the widest.
                out.push_str(&pad_right(value, data_width + 1, ' '));
                out.push('\n');
            }
        }
        if rows.is_empty() {
            out.push_str("(0 rows)\n");
        }
    } else {
        let mut widths: Vec<usize> = header.iter().map(|h| width(h).max(3)).collect();
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(c));
            }
        }
        let separator = format!(
            "+{}+\n",
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("+")
        );
        let line = |cells: &[String]| -> String {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| {
                    if options.truncate > 0 {
                        pad_left(c, *w)
                    } else {
                        pad_right(c, *w, ' ')
                    }
                })
                .collect();
            format!("|{}|\n", padded.join("|"))
        };
        out.push_str(&separator);
        out.push_str(&line(&header));
        out.push_str(&separator);
        for row in &rows {
            out.push_str(&line(row));
        }
        out.push_str(&separator);
    }
    if has_more {
        let n = options.num_rows;
        // Spark 4 ends the footer without a newline.
        out.push_str(&format!(
            "only showing top {n} {}",
            if n == 1 { "row" } else { "rows" }
        ));
    }
    out
}

/// The HTML `_repr_html_` shows in notebooks (Spark's `Dataset.htmlString`).
pub fn html_string(names: &[String], batches: &[RecordBatch], options: &ShowOptions) -> String {
    let tz = options
        .time_zone
        .as_deref()
        .and_then(|t| arrow::array::timezone::Tz::from_str(t).ok());
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| cell(c.as_ref(), row, tz.as_ref(), true))
                    .collect(),
            );
        }
    }
    let has_more = rows.len() > options.num_rows;
    rows.truncate(options.num_rows);
    let mut out = String::from("<table border='1'>\n");
    out.push_str(&format!(
        "<tr><th>{}</th></tr>\n",
        names
            .iter()
            .map(|n| escape(n))
            .collect::<Vec<_>>()
            .join("</th><th>")
    ));
    for row in rows {
        let cells: Vec<String> = row
            .into_iter()
            .map(|c| {
                let c = truncate_cell(c, options.truncate);
                escape(&c)
            })
            .collect();
        out.push_str(&format!("<tr><td>{}</td></tr>\n", cells.join("</td><td>")));
    }
    out.push_str("</table>\n");
    if has_more {
        let n = options.num_rows;
        out.push_str(&format!(
            "only showing top {n} {}\n",
            if n == 1 { "row" } else { "rows" }
        ));
    }
    out
}

/// Display width: characters, full-width ones (CJK) counting two, as Spark counts.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let c = c as u32;
            if (0x1100..=0x115F).contains(&c)
                || (0x2E80..=0xA4CF).contains(&c)
                || (0xAC00..=0xD7A3).contains(&c)
                || (0xF900..=0xFAFF).contains(&c)
                || (0xFE30..=0xFE4F).contains(&c)
                || (0xFF00..=0xFF60).contains(&c)
                || (0xFFE0..=0xFFE6).contains(&c)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

fn pad_left(s: &str, w: usize) -> String {
    let n = w.saturating_sub(width(s));
    format!("{}{s}", " ".repeat(n))
}

fn pad_right(s: &str, w: usize, fill: char) -> String {
    let n = w.saturating_sub(width(s));
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(fill, n));
    out
}

/// One value as Spark prints it.
pub fn cell(
    array: &dyn Array,
    row: usize,
    tz: Option<&arrow::array::timezone::Tz>,
    top: bool,
) -> String {
    if array.is_null(row) {
        return "NULL".into();
    }
    let _ = top;
    match array.data_type() {
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).to_string(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float32 => java_float(array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => java_double(array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(_, scale) => {
            let v = array.as_primitive::<Decimal128Type>().value(row);
            decimal_string(v, *scale)
        }
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).to_string(),
        DataType::Utf8View => array.as_string_view().value(row).to_string(),
        DataType::Binary => hex(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => hex(array.as_binary::<i64>().value(row)),
        DataType::BinaryView => hex(array.as_binary_view().value(row)),
        DataType::Date32 => {
            let d = array.as_primitive::<Date32Type>().value(row);
            arrow::temporal_conversions::date32_to_datetime(d)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        }
        DataType::Timestamp(unit, zone) => {
            let micros = match unit {
                TimeUnit::Second => {
                    array.as_primitive::<TimestampSecondType>().value(row) * 1_000_000
                }
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(row) * 1000
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => {
                    array.as_primitive::<TimestampNanosecondType>().value(row) / 1000
                }
            };
            timestamp_string(micros, zone.is_some().then_some(tz).flatten())
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let values = match array.data_type() {
                DataType::List(_) => array.as_list::<i32>().value(row),
                DataType::LargeList(_) => array.as_list::<i64>().value(row),
                _ => array.as_fixed_size_list().value(row),
            };
            let items: Vec<String> = (0..values.len())
                .map(|i| cell(values.as_ref(), i, tz, false))
                .collect();
            format!("[{}]", items.join(", "))
        }
        DataType::Struct(_) => {
            let s = array.as_struct();
            let items: Vec<String> = s
                .columns()
                .iter()
                .map(|c| cell(c.as_ref(), row, tz, false))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        DataType::Map(..) => {
            let m = array.as_map();
            let entries = m.value(row);
            let keys = entries.column(0);
            let values = entries.column(1);
            let items: Vec<String> = (0..entries.len())
                .map(|i| {
                    format!(
                        "{} -> {}",
                        cell(keys.as_ref(), i, tz, false),
                        cell(values.as_ref(), i, tz, false)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        DataType::Dictionary(..) => {
            let options = arrow::util::display::FormatOptions::default().with_null("NULL");
            arrow::util::display::ArrayFormatter::try_new(array, &options)
                .map(|f| f.value(row).to_string())
                .unwrap_or_default()
        }
        _ => {
            let options = arrow::util::display::FormatOptions::default().with_null("NULL");
            arrow::util::display::ArrayFormatter::try_new(array, &options)
                .map(|f| f.value(row).to_string())
                .unwrap_or_default()
        }
    }
}

/// A float as Java's `Float.toString` prints it.
fn java_float(v: f32) -> String {
    if v.is_finite() && v != 0.0 {
        let abs = v.abs();
        if (1e-3..1e7).contains(&abs) {
            let s = format!("{v}");
            return if s.contains('.') { s } else { format!("{s}.0") };
        }
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        return format!("{mantissa}E{exp}");
    }
    java_double(v as f64)
}

fn decimal_string(v: i128, scale: i8) -> String {
    if scale <= 0 {
        return (v * 10i128.pow((-scale) as u32)).to_string();
    }
    let negative = v < 0;
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale - digits.len() + 1))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if negative { "-" } else { "" })
}

fn hex(bytes: &[u8]) -> String {
    format!(
        "[{}]",
        bytes
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// `2024-01-01 10:00:00`, fractions of a second only when there are some.
fn timestamp_string(micros: i64, tz: Option<&arrow::array::timezone::Tz>) -> String {
    let Some(utc) = arrow::temporal_conversions::timestamp_us_to_datetime(micros) else {
        return micros.to_string();
    };
    let local = match tz {
        Some(tz) => {
            use chrono::TimeZone;
            tz.from_utc_datetime(&utc).naive_local()
        }
        None => utc,
    };
    let base = local.format("%Y-%m-%d %H:%M:%S").to_string();
    let fraction = micros.rem_euclid(1_000_000);
    if fraction == 0 {
        base
    } else {
        let digits = format!("{fraction:06}");
        format!("{base}.{}", digits.trim_end_matches('0'))
    }
}

/// A cell cut to `truncate` characters (`...` ending it), as `show(truncate=n)` prints it.
fn truncate_cell(s: String, truncate: usize) -> String {
    if truncate == 0 || s.chars().count() <= truncate {
        s
    } else if truncate < 4 {
        s.chars().take(truncate).collect()
    } else {
        let mut cut: String = s.chars().take(truncate - 3).collect();
        cut.push_str("...");
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![
                    Some("Alice"),
                    None,
                    Some("a rather long name indeed"),
                ])),
                Arc::new(Float64Array::from(vec![Some(3.5), Some(1e10), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn tables_as_spark_prints_them() {
        let names = vec!["id".to_string(), "name".to_string(), "score".to_string()];
        let options = ShowOptions {
            num_rows: 2,
            truncate: 20,
            vertical: false,
            time_zone: None,
        };
        assert_eq!(
            show_string(&names, &[batch()], &options),
            "+---+-----+------+\n\
             | id| name| score|\n\
             +---+-----+------+\n\
             |  1|Alice|   3.5|\n\
             |  2| NULL|1.0E10|\n\
             +---+-----+------+\n\
             only showing top 2 rows"
        );
        let options = ShowOptions {
            num_rows: 20,
            truncate: 20,
            vertical: false,
            time_zone: None,
        };
        let text = show_string(&names, &[batch()], &options);
        assert!(text.contains("|  3|a rather long nam...|  NULL|"), "{text}");
    }

    #[test]
    fn vertical() {
        let names = vec!["id".to_string(), "name".to_string(), "score".to_string()];
        let options = ShowOptions {
            num_rows: 1,
            truncate: 20,
            vertical: true,
            time_zone: None,
        };
        assert_eq!(
            show_string(&names, &[batch()], &options),
            "-RECORD 0------\n id    | 1     \n name  | Alice \n score | 3.5   \nonly showing top 1 row"
        );
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal_string(1250, 2), "12.50");
        assert_eq!(decimal_string(-5, 3), "-0.005");
    }
}
