//! Cross-checking answers between engines: Sparkling's Arrow batches against a peer's
//! rows (DuckDB, Spark), as typed cells compared with a tolerance for floating point
//! (engines sum and average decimals in different types, so the last digits differ).
//!
//! Rows are compared as a sorted list: queries with ties in their `ORDER BY` may order
//! tied rows either way, so the order of the rows is not part of the answer.

use std::cmp::Ordering;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// One value of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// Any number: integers, decimals and floats compare as f64.
    Num(f64),
    /// Anything else, as text (dates as `YYYY-MM-DD`).
    Text(String),
}

impl Cell {
    fn rank(&self) -> u8 {
        match self {
            Cell::Null => 0,
            Cell::Num(_) => 1,
            Cell::Text(_) => 2,
        }
    }

    /// Order for sorting rows before comparing. Numbers sort by their value rounded to
    /// a cent, so two engines' near-equal values land in the same place.
    fn sort_cmp(&self, other: &Cell) -> Ordering {
        match (self, other) {
            (Cell::Num(a), Cell::Num(b)) => (a * 100.0).round().total_cmp(&(b * 100.0).round()),
            (Cell::Text(a), Cell::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    /// Equal up to a cent, or one part in 10^9 of large values.
    fn agrees(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Num(a), Cell::Num(b)) => {
                (a - b).abs() <= 0.01_f64.max(1e-9 * a.abs().max(b.abs()))
            }
            _ => self == other,
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Null => f.write_str("NULL"),
            Cell::Num(v) => write!(f, "{v}"),
            Cell::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// The rows of Arrow batches as cells.
pub fn rows_of_batches(batches: &[RecordBatch]) -> anyhow::Result<Vec<Vec<Cell>>> {
    let mut rows = Vec::new();
    for batch in batches {
        let mut columns: Vec<Vec<Cell>> = Vec::with_capacity(batch.num_columns());
        for column in batch.columns() {
            columns.push(cells_of_array(column.as_ref())?);
        }
        for i in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c[i].clone()).collect());
        }
    }
    Ok(rows)
}

fn cells_of_array(array: &dyn Array) -> anyhow::Result<Vec<Cell>> {
    let numeric = array.data_type().is_numeric();
    let as_f64 = if numeric {
        Some(arrow::compute::cast(array, &DataType::Float64)?)
    } else {
        None
    };
    let formatter = ArrayFormatter::try_new(array, &FormatOptions::default())?;
    let mut cells = Vec::with_capacity(array.len());
    for i in 0..array.len() {
        cells.push(if array.is_null(i) {
            Cell::Null
        } else if let Some(values) = &as_f64 {
            Cell::Num(
                arrow::array::cast::as_primitive_array::<arrow::datatypes::Float64Type>(
                    values.as_ref(),
                )
                .value(i),
            )
        } else {
            Cell::Text(formatter.value(i).to_string())
        });
    }
    Ok(cells)
}

/// Rows as a peer wrote them in JSON (arrays of numbers, strings and nulls).
pub fn rows_of_json(rows: &[Vec<serde_json::Value>]) -> Vec<Vec<Cell>> {
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|v| match v {
                    serde_json::Value::Null => Cell::Null,
                    serde_json::Value::Number(n) => Cell::Num(n.as_f64().unwrap_or(f64::NAN)),
                    serde_json::Value::String(s) => Cell::Text(s.clone()),
                    other => Cell::Text(other.to_string()),
                })
                .collect()
        })
        .collect()
}

fn sort_rows(rows: &mut [Vec<Cell>]) {
    rows.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.sort_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
}

fn rows_agree(a: &[Cell], b: &[Cell]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.agrees(y))
}

/// Whether every row of `ours` pairs off with an agreeing row of `theirs`, in any
/// order: the slow path, for values that sort differently on either side of a
/// rounding boundary.
fn rows_pair_off(ours: &[Vec<Cell>], theirs: &[Vec<Cell>]) -> bool {
    let mut used = vec![false; theirs.len()];
    ours.iter().all(|a| {
        let found = theirs
            .iter()
            .enumerate()
            .position(|(j, b)| !used[j] && rows_agree(a, b));
        found.map(|j| used[j] = true).is_some()
    })
}

/// Whether two answers agree; `Err` says where they first differ.
pub fn compare(mut ours: Vec<Vec<Cell>>, mut theirs: Vec<Vec<Cell>>) -> Result<(), String> {
    if ours.len() != theirs.len() {
        return Err(format!("{} rows vs {} rows", ours.len(), theirs.len()));
    }
    sort_rows(&mut ours);
    sort_rows(&mut theirs);
    let Some(i) = (0..ours.len()).find(|&i| !rows_agree(&ours[i], &theirs[i])) else {
        return Ok(());
    };
    if rows_pair_off(&ours, &theirs) {
        return Ok(());
    }
    let show = |r: &[Cell]| {
        r.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "row {i} (sorted) differs: [{}] vs [{}]",
        show(&ours[i]),
        show(&theirs[i])
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Decimal128Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("flag", DataType::Utf8, true),
            Field::new("sum", DataType::Decimal128(15, 2), true),
            Field::new("n", DataType::Int64, false),
            Field::new("day", DataType::Date32, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(vec![Some("A"), None])),
                Arc::new(
                    Decimal128Array::from(vec![Some(123456), Some(-5)])
                        .with_precision_and_scale(15, 2)
                        .unwrap(),
                ),
                Arc::new(Int64Array::from(vec![7, 8])),
                Arc::new(Date32Array::from(vec![9204, 0])),
            ],
        )
        .unwrap()
    }

    fn json(text: &str) -> Vec<Vec<Cell>> {
        rows_of_json(&serde_json::from_str::<Vec<Vec<serde_json::Value>>>(text).unwrap())
    }

    #[test]
    fn arrow_cells_are_typed() {
        let rows = rows_of_batches(&[batch()]).unwrap();
        assert_eq!(
            rows[0],
            vec![
                Cell::Text("A".into()),
                Cell::Num(1234.56),
                Cell::Num(7.0),
                Cell::Text("1995-03-15".into())
            ]
        );
        assert_eq!(rows[1][0], Cell::Null);
        assert_eq!(rows[1][1], Cell::Num(-0.05));
    }

    #[test]
    fn answers_agree_in_any_row_order_and_within_a_cent() {
        let ours = rows_of_batches(&[batch()]).unwrap();
        let theirs =
            json(r#"[[null, -0.05, 8, "1970-01-01"], ["A", 1234.5600000001, 7, "1995-03-15"]]"#);
        assert_eq!(compare(ours, theirs), Ok(()));
    }

    #[test]
    fn a_different_value_row_count_or_null_is_reported() {
        let ours = || rows_of_batches(&[batch()]).unwrap();
        let off_by_two_cents =
            json(r#"[["A", 1234.58, 7, "1995-03-15"], [null, -0.05, 8, "1970-01-01"]]"#);
        let err = compare(ours(), off_by_two_cents).unwrap_err();
        assert!(err.contains("1234.56") && err.contains("1234.58"), "{err}");
        let one_row = json(r#"[["A", 1234.56, 7, "1995-03-15"]]"#);
        assert_eq!(compare(ours(), one_row).unwrap_err(), "2 rows vs 1 rows");
        let null_flag =
            json(r#"[[null, 1234.56, 7, "1995-03-15"], [null, -0.05, 8, "1970-01-01"]]"#);
        assert!(compare(ours(), null_flag).is_err());
        let other_day =
            json(r#"[["A", 1234.56, 7, "1995-03-16"], [null, -0.05, 8, "1970-01-01"]]"#);
        assert!(compare(ours(), other_day).is_err());
    }

    #[test]
    fn values_either_side_of_a_rounding_boundary_still_pair_off() {
        // 0.004999 sorts as 0.00 and 0.005001 as 0.01, so sorted pairwise they
        // would meet the wrong rows.
        let ours = vec![
            vec![Cell::Num(0.004999), Cell::Text("x".into())],
            vec![Cell::Num(0.003), Cell::Text("y".into())],
        ];
        let theirs = vec![
            vec![Cell::Num(0.005001), Cell::Text("x".into())],
            vec![Cell::Num(0.003), Cell::Text("y".into())],
        ];
        assert_eq!(compare(ours, theirs), Ok(()));
    }

    #[test]
    fn large_sums_agree_to_a_relative_tolerance() {
        let a = vec![vec![Cell::Num(3.7e11)]];
        let b = vec![vec![Cell::Num(3.7e11 + 50.0)]];
        assert_eq!(compare(a.clone(), b), Ok(()));
        let c = vec![vec![Cell::Num(3.7e11 + 5000.0)]];
        assert!(compare(a, c).is_err());
    }
}
