//! DataFrame statistics PySpark asks for as relations: `describe()`, `summary()`,
//! `cov`, `corr` and `approxQuantile`, with Spark's output shapes (statistics as
//! strings, one row per statistic, in the order asked for).
//!
//! Percentiles are exact: the smallest value with at least `p` of the non-null
//! values at or below it (what Spark's approximate percentile returns on data it
//! can hold exactly), found in the values sorted per column, so they hold a column's
//! values in memory once.

use arrow::datatypes::DataType;
use datafusion::common::{Column, ScalarValue, UnnestOptions};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Cast, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, lit};

use crate::error::{Result, SparkError};
use crate::functions::{aggregate_with, scalar};

/// One statistic of `summary()`.
#[derive(Debug, Clone, PartialEq)]
enum Statistic {
    Count,
    Mean,
    Stddev,
    Min,
    Max,
    CountDistinct,
    ApproxCountDistinct,
    /// A percentile, as a fraction (`25%` is 0.25).
    Percentile(f64),
}

impl Statistic {
    fn parse(name: &str) -> Result<Self> {
        let lower = name.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "count" => Self::Count,
            "mean" => Self::Mean,
            "stddev" => Self::Stddev,
            "min" => Self::Min,
            "max" => Self::Max,
            "count_distinct" => Self::CountDistinct,
            "approx_count_distinct" => Self::ApproxCountDistinct,
            p if p.ends_with('%') => {
                let value: f64 = p[..p.len() - 1].trim().parse().map_err(|_| {
                    SparkError::invalid(format!("Unable to parse {name} as a percentile"))
                })?;
                if !(0.0..=100.0).contains(&value) {
                    return Err(SparkError::invalid(format!(
                        "Unable to parse {name} as a percentile"
                    )));
                }
                Self::Percentile(value / 100.0)
            }
            _ => {
                return Err(SparkError::invalid(format!(
                    "{name} is not a recognised statistic"
                )));
            }
        })
    }
}

/// `describe(cols)`: count, mean, stddev, min and max of `columns` (all numeric and
/// string columns when none are named).
pub fn describe(
    state: &SessionState,
    input: LogicalPlan,
    columns: &[Column],
) -> Result<LogicalPlan> {
    let columns = if columns.is_empty() {
        described_columns(&input)
    } else {
        columns.to_vec()
    };
    let stats = ["count", "mean", "stddev", "min", "max"].map(String::from);
    statistics(state, input, &columns, &stats)
}

/// `summary(statistics)`: the statistics asked for (count, mean, stddev, min, the
/// quartiles and max by default) of every numeric and string column.
pub fn summary(state: &SessionState, input: LogicalPlan, names: &[String]) -> Result<LogicalPlan> {
    let names: Vec<String> = if names.is_empty() {
        ["count", "mean", "stddev", "min", "25%", "50%", "75%", "max"]
            .map(String::from)
            .to_vec()
    } else {
        names.to_vec()
    };
    let columns = described_columns(&input);
    statistics(state, input, &columns, &names)
}

/// The columns `describe()` and `summary()` cover by default: numbers and strings.
fn described_columns(input: &LogicalPlan) -> Vec<Column> {
    input
        .schema()
        .iter()
        .filter(|(_, f)| is_number(f.data_type()) || crate::types::is_string(f.data_type()))
        .map(|(q, f)| Column::new(q.cloned(), f.name()))
        .collect()
}

fn is_number(t: &DataType) -> bool {
    t.is_numeric()
}

fn aggregate(state: &SessionState, name: &str, args: Vec<Expr>) -> Result<Expr> {
    crate::functions::aggregate(state, name, args, false)
}

fn cast(e: Expr, t: DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(e), t))
}

fn column(name: &str) -> Expr {
    Expr::Column(Column::from_name(name))
}

/// The values of `column` sorted, without nulls (an aggregate), and the element at
/// the rank of percentile `p` among `count` of them.
fn sorted_values(state: &SessionState, c: Expr) -> Result<Expr> {
    aggregate_with(
        state,
        "array_agg",
        vec![c.clone()],
        false,
        Some(c.clone().is_not_null()),
        vec![c.sort(true, false)],
    )
}

fn percentile_of(state: &SessionState, sorted: Expr, count: Expr, p: f64) -> Result<Expr> {
    // Rank ceil(p * n), at least 1 (1-based, as array_element counts).
    let rank = scalar(
        state,
        "greatest",
        vec![
            lit(1i64),
            cast(
                scalar(state, "ceil", vec![cast(count, DataType::Float64) * lit(p)])?,
                DataType::Int64,
            ),
        ],
    )?;
    scalar(state, "array_element", vec![sorted, rank])
}

/// One row per statistic in `names` (column `summary`), one string column per column
/// of `columns` with its value.
fn statistics(
    state: &SessionState,
    input: LogicalPlan,
    columns: &[Column],
    names: &[String],
) -> Result<LogicalPlan> {
    let stats = names
        .iter()
        .map(|n| Statistic::parse(n))
        .collect::<Result<Vec<_>>>()?;
    let schema = std::sync::Arc::clone(input.schema());
    // One aggregate computes every statistic of every column.
    let mut aggregates = Vec::new();
    let mut values: Vec<Vec<Expr>> = vec![Vec::new(); columns.len()];
    for (j, c) in columns.iter().enumerate() {
        let value = Expr::Column(c.clone());
        let data_type = value.get_type(&schema)?;
        let number = is_number(&data_type);
        // Means and deviations of strings are of the numbers they hold.
        let as_number = if number {
            value.clone()
        } else {
            Expr::TryCast(datafusion::logical_expr::TryCast::new(
                Box::new(value.clone()),
                DataType::Float64,
            ))
        };
        let name = |what: &str| format!("__{what}_{j}");
        let wants_percentile = stats.iter().any(|s| matches!(s, Statistic::Percentile(_)));
        aggregates.push(aggregate(state, "count", vec![value.clone()])?.alias(name("count")));
        if wants_percentile && number {
            aggregates.push(sorted_values(state, value.clone())?.alias(name("sorted")));
        }
        for (i, s) in stats.iter().enumerate() {
            // Each statistic is one aggregate, named for its place, except the count
            // (computed once above) and percentiles (picked from the sorted values).
            let aggregated = match s {
                Statistic::Count | Statistic::Percentile(_) => None,
                Statistic::Mean => Some(aggregate(state, "avg", vec![as_number.clone()])?),
                Statistic::Stddev => Some(aggregate(state, "stddev", vec![as_number.clone()])?),
                Statistic::Min => Some(aggregate(state, "min", vec![value.clone()])?),
                Statistic::Max => Some(aggregate(state, "max", vec![value.clone()])?),
                Statistic::CountDistinct => Some(aggregate_with(
                    state,
                    "count",
                    vec![value.clone()],
                    true,
                    None,
                    vec![],
                )?),
                Statistic::ApproxCountDistinct => {
                    Some(aggregate(state, "approx_distinct", vec![value.clone()])?)
                }
            };
            let computed = match (s, aggregated) {
                (_, Some(aggregated)) => {
                    let stat_name = format!("__s{i}_{j}");
                    aggregates.push(aggregated.alias(&stat_name));
                    Some(column(&stat_name))
                }
                (Statistic::Count, None) => Some(column(&name("count"))),
                (Statistic::Percentile(p), None) if number => Some(percentile_of(
                    state,
                    column(&name("sorted")),
                    column(&name("count")),
                    *p,
                )?),
                (_, None) => None,
            };
            values[j].push(match computed {
                Some(e) => cast(e, DataType::Utf8),
                None => lit(ScalarValue::Utf8(None)),
            });
        }
    }
    let row = LogicalPlanBuilder::from(input)
        .aggregate(Vec::<Expr>::new(), aggregates)?
        .build()?;
    // The row's statistics as arrays, one element per statistic, then one row each.
    let make_array = |items: Vec<Expr>| scalar(state, "make_array", items);
    let mut arrays =
        vec![make_array(names.iter().map(|n| lit(n.as_str())).collect())?.alias("summary")];
    for (c, items) in columns.iter().zip(values) {
        arrays.push(make_array(items)?.alias(c.name.as_str()));
    }
    let output: Vec<Column> = std::iter::once("summary")
        .chain(columns.iter().map(|c| c.name.as_str()))
        .map(Column::from_name)
        .collect();
    Ok(LogicalPlanBuilder::from(row)
        .project(arrays)?
        .unnest_columns_with_options(output, UnnestOptions::default())?
        .build()?)
}

/// `df.stat.cov(a, b)` (`corr` with `correlation`): one row, one double; nulls
/// count as zeros, as in Spark.
pub fn covariance(
    state: &SessionState,
    input: LogicalPlan,
    a: Column,
    b: Column,
    correlation: bool,
) -> Result<LogicalPlan> {
    let function = if correlation { "corr" } else { "covar_samp" };
    let name = if correlation { "corr" } else { "cov" };
    // Spark reads a null as 0.0 here (its statistics counter takes `getDouble` of
    // each row), so a null counts as a zero, not as a missing pair.
    let value_of = |c: Column| {
        scalar(
            state,
            "coalesce",
            vec![cast(Expr::Column(c), DataType::Float64), lit(0.0f64)],
        )
    };
    let value = aggregate(state, function, vec![value_of(a)?, value_of(b)?])?;
    Ok(LogicalPlanBuilder::from(input)
        .aggregate(Vec::<Expr>::new(), vec![value.alias(name)])?
        .build()?)
}

/// `df.approxQuantile(cols, probabilities, error)`: one row, one column holding, per
/// column, the list of its quantiles (as doubles).
pub fn quantiles(
    state: &SessionState,
    input: LogicalPlan,
    columns: &[Column],
    probabilities: &[f64],
) -> Result<LogicalPlan> {
    if let Some(p) = probabilities.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(SparkError::invalid(format!(
            "percentile should be in the range [0.0, 1.0], got {p}"
        )));
    }
    let schema = std::sync::Arc::clone(input.schema());
    let mut aggregates = Vec::new();
    for (j, c) in columns.iter().enumerate() {
        let value = Expr::Column(c.clone());
        if !is_number(&value.get_type(&schema)?) {
            return Err(SparkError::invalid(format!(
                "[UNEXPECTED_INPUT_TYPE] approxQuantile needs numeric columns; {} is not one",
                c.name
            )));
        }
        let value = cast(value, DataType::Float64);
        aggregates
            .push(aggregate(state, "count", vec![value.clone()])?.alias(format!("__count_{j}")));
        aggregates.push(sorted_values(state, value)?.alias(format!("__sorted_{j}")));
    }
    let row = LogicalPlanBuilder::from(input)
        .aggregate(Vec::<Expr>::new(), aggregates)?
        .build()?;
    let mut per_column = Vec::new();
    for j in 0..columns.len() {
        let items = probabilities
            .iter()
            .map(|p| {
                percentile_of(
                    state,
                    column(&format!("__sorted_{j}")),
                    column(&format!("__count_{j}")),
                    *p,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        // No values: no quantiles (Spark answers an empty list).
        let list = scalar(state, "make_array", items)?;
        per_column.push(
            datafusion::logical_expr::when(column(&format!("__count_{j}")).gt(lit(0i64)), list)
                .otherwise(lit(ScalarValue::List(ScalarValue::new_list_nullable(
                    &[],
                    &DataType::Float64,
                ))))?,
        );
    }
    let all = scalar(state, "make_array", per_column)?.alias("approx_quantile");
    Ok(LogicalPlanBuilder::from(row).project(vec![all])?.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_parse_as_spark_names_them() {
        assert_eq!(Statistic::parse("COUNT").unwrap(), Statistic::Count);
        assert_eq!(
            Statistic::parse("25%").unwrap(),
            Statistic::Percentile(0.25)
        );
        assert_eq!(
            Statistic::parse("99.5%").unwrap(),
            Statistic::Percentile(0.995)
        );
        assert!(Statistic::parse("120%").is_err());
        assert!(Statistic::parse("median").is_err());
    }
}
