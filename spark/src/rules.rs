//! Analyzer rules that give every plan Spark's arithmetic, whether it came from
//! SQL text or a DataFrame: `/` divides as doubles (`7 / 2` is 3.5) and dividing by
//! zero fails with Spark's `DIVIDE_BY_ZERO` error (Spark 4's default ANSI mode), for
//! floating-point divisors too, where DataFusion gives infinity; whole-number literals
//! that fit are `int`, as in Spark (`SELECT 1` is an `int`, DataFusion would make it a
//! `bigint`); functions that take whole numbers accept fractional arguments.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    BinaryExpr, Cast, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator,
};
use datafusion::optimizer::AnalyzerRule;

/// Spark's `/` and `%` and integer literals (see the module documentation).
#[derive(Debug, Default)]
pub struct SparkArithmetic;

impl AnalyzerRule for SparkArithmetic {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        // Writes keep the types DataFusion matched to the target table.
        let writes = matches!(plan, LogicalPlan::Dml(_) | LogicalPlan::Copy(_));
        Ok(plan
            .transform_up_with_subqueries(|node| {
                if let LogicalPlan::Values(values) = &node
                    && !writes
                {
                    return narrow_values(values);
                }
                let inputs = node.inputs();
                if inputs.is_empty() {
                    return Ok(Transformed::no(node));
                }
                let schema = merge_schema(&inputs);
                // A limit's counts stay as DataFusion wants them.
                let narrow = !writes && !matches!(node, LogicalPlan::Limit(_));
                // Nodes whose expressions name their output columns keep those names:
                // the nodes above refer to them.
                let named = matches!(
                    node,
                    LogicalPlan::Projection(_) | LogicalPlan::Aggregate(_) | LogicalPlan::Window(_)
                );
                let rewritten = node.map_expressions(|e| {
                    let before = named.then(|| e.schema_name().to_string());
                    let after = e.transform_up(|e| {
                        let e = if narrow {
                            narrow_literal(e)
                        } else {
                            Transformed::no(e)
                        };
                        e.transform_data(|e| rewrite(e, &schema))
                    })?;
                    Ok(match before {
                        Some(name)
                            if after.transformed
                                && !matches!(after.data, Expr::GroupingSet(_))
                                && after.data.schema_name().to_string() != name =>
                        {
                            after.update_data(|e| e.alias(name))
                        }
                        _ => after,
                    })
                })?;
                let rewritten = rewritten.transform_data(int_ranks)?;
                if rewritten.transformed {
                    rewritten.map_data(|p| p.recompute_schema())
                } else {
                    Ok(rewritten)
                }
            })?
            .data)
    }

    fn name(&self) -> &str {
        "spark_arithmetic"
    }
}

/// The analyzer rules of a Spark session: [`SparkArithmetic`] first (so literals are
/// narrowed before DataFusion's type coercion), then DataFusion's own.
pub fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules: Vec<Arc<dyn AnalyzerRule + Send + Sync>> = vec![Arc::new(SparkArithmetic)];
    rules.extend(datafusion::optimizer::Analyzer::new().rules);
    rules
}

/// An `Int64` literal that fits in 32 bits as `Int32`: Spark's type for `1`.
fn narrow_literal(e: Expr) -> Transformed<Expr> {
    match e {
        Expr::Literal(ScalarValue::Int64(Some(v)), meta) if i32::try_from(v).is_ok() => {
            Transformed::yes(Expr::Literal(ScalarValue::Int32(Some(v as i32)), meta))
        }
        other => Transformed::no(other),
    }
}

/// `VALUES (1), (2)` with `int` columns where every value fits.
fn narrow_values(values: &datafusion::logical_expr::Values) -> Result<Transformed<LogicalPlan>> {
    let columns = values.schema.fields().len();
    let mut narrow = vec![false; columns];
    for (i, slot) in narrow.iter_mut().enumerate() {
        if values.schema.field(i).data_type() != &DataType::Int64 {
            continue;
        }
        *slot = values.values.iter().all(|row| {
            matches!(
                row.get(i),
                Some(Expr::Literal(ScalarValue::Int64(None), _))
                    | Some(Expr::Literal(ScalarValue::Null, _))
            ) || matches!(row.get(i), Some(Expr::Literal(ScalarValue::Int64(Some(v)), _)) if i32::try_from(*v).is_ok())
        });
    }
    if !narrow.iter().any(|n| *n) {
        return Ok(Transformed::no(LogicalPlan::Values(values.clone())));
    }
    let rows = values
        .values
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, e)| match e {
                    Expr::Literal(ScalarValue::Int64(v), meta) if narrow[i] => {
                        Expr::Literal(ScalarValue::Int32(v.map(|v| v as i32)), meta.clone())
                    }
                    Expr::Literal(ScalarValue::Null, meta) if narrow[i] => {
                        Expr::Literal(ScalarValue::Int32(None), meta.clone())
                    }
                    other => other.clone(),
                })
                .collect()
        })
        .collect();
    Ok(Transformed::yes(LogicalPlanBuilder::values(rows)?.build()?))
}

/// A projection's ranks (`row_number() OVER ...`) as `int`, as Spark types them
/// (DataFusion's are unsigned 64-bit).
fn int_ranks(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Projection(projection) = &node else {
        return Ok(Transformed::no(node));
    };
    let schema = projection.input.schema();
    let is_rank = |e: &Expr| match e {
        Expr::Column(c) => {
            ["row_number(", "rank(", "dense_rank(", "ntile("]
                .iter()
                .any(|p| c.name.starts_with(p))
                && e.get_type(schema).is_ok_and(|t| t == DataType::UInt64)
        }
        _ => false,
    };
    if !projection.expr.iter().any(|e| match e {
        Expr::Alias(a) => is_rank(&a.expr),
        other => is_rank(other),
    }) {
        return Ok(Transformed::no(node));
    }
    let exprs = projection
        .expr
        .iter()
        .map(|e| match e {
            Expr::Alias(a) if is_rank(&a.expr) => {
                cast((*a.expr).clone(), DataType::Int32).alias(a.name.clone())
            }
            Expr::Column(c) if is_rank(e) => cast(e.clone(), DataType::Int32).alias(c.name.clone()),
            other => other.clone(),
        })
        .collect::<Vec<_>>();
    Ok(Transformed::yes(
        LogicalPlanBuilder::from((*projection.input).clone())
            .project(exprs)?
            .build()?,
    ))
}

fn cast(e: Expr, to: DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(e), to))
}

/// `e` checked for zero when evaluated (see [`crate::divisor`]).
fn checked_divisor(e: Expr, operation: crate::divisor::Operation) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(
        crate::divisor::spark_divisor(operation),
        vec![e],
    ))
}

fn is_integral(t: &DataType) -> bool {
    t.is_integer() || *t == DataType::Null
}

/// A function call DataFusion cannot type because it takes a whole number where the
/// argument is fractional (`from_unixtime(ms / 1000)`, now that `/` gives a double):
/// the fractional arguments cast to `bigint`, as Spark's implicit casts do. Calls that
/// type as they are stay untouched.
fn whole_number_arguments(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::ScalarFunction(call) = &e else {
        return Ok(Transformed::no(e));
    };
    if e.get_type(schema).is_ok() {
        return Ok(Transformed::no(e));
    }
    let fractional = |a: &Expr| {
        a.get_type(schema).is_ok_and(|t| {
            t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
        })
    };
    if !call.args.iter().any(fractional) {
        return Ok(Transformed::no(e));
    }
    let args = call
        .args
        .iter()
        .map(|a| {
            if fractional(a) {
                cast(a.clone(), DataType::Int64)
            } else {
                a.clone()
            }
        })
        .collect();
    let candidate = Expr::ScalarFunction(ScalarFunction::new_udf(call.func.clone(), args));
    if candidate.get_type(schema).is_ok() {
        Ok(Transformed::yes(candidate))
    } else {
        Ok(Transformed::no(e))
    }
}

/// `from_unixtime(seconds, 'yyyy-MM-dd')`, Spark's form (a Java pattern where
/// DataFusion takes a time zone), as [`crate::datetime`]'s function.
fn spark_from_unixtime(e: &Expr) -> Option<Expr> {
    let Expr::ScalarFunction(call) = e else {
        return None;
    };
    if call.name() != "from_unixtime" || call.args.len() != 2 {
        return None;
    }
    let Expr::Literal(ScalarValue::Utf8(Some(pattern)) | ScalarValue::Utf8View(Some(pattern)), _) =
        &call.args[1]
    else {
        return None;
    };
    if crate::datetime::is_time_zone(pattern) {
        return None;
    }
    Some(Expr::ScalarFunction(ScalarFunction::new_udf(
        crate::datetime::from_unixtime(),
        call.args.clone(),
    )))
}

/// An expression outside any plan (a lambda's body) with Spark's arithmetic,
/// DataFusion's type coercion and simplification applied, as the analyzer and the
/// optimizer do to a plan's.
pub(crate) fn spark_expr(e: Expr, schema: &DFSchema) -> Result<Expr> {
    let e = e
        .transform_up(|e| narrow_literal(e).transform_data(|e| rewrite(e, schema)))?
        .data;
    let mut coercion =
        datafusion::optimizer::analyzer::type_coercion::TypeCoercionRewriter::new(schema);
    let e = e.rewrite(&mut coercion)?.data;
    // Functions that only exist to be rewritten (`coalesce`, `nvl`) are, as the
    // optimizer would.
    let context = datafusion::logical_expr::simplify::SimplifyContext::default()
        .with_schema(Arc::new(schema.clone()));
    datafusion::optimizer::simplify_expressions::ExprSimplifier::new(context).simplify(e)
}

fn rewrite(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    if let Some(spark) = spark_from_unixtime(&e) {
        return Ok(Transformed::yes(spark));
    }
    if matches!(e, Expr::ScalarFunction(_)) {
        return whole_number_arguments(e, schema);
    }
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &e else {
        return Ok(Transformed::no(e));
    };
    let (Ok(lt), Ok(rt)) = (left.get_type(schema), right.get_type(schema)) else {
        return Ok(Transformed::no(e));
    };
    let numeric = |t: &DataType| t.is_numeric() || *t == DataType::Null;
    if !numeric(&lt) || !numeric(&rt) {
        return Ok(Transformed::no(e));
    }
    let binary = |l: Expr, op: Operator, r: Expr| {
        Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)))
    };
    match op {
        Operator::Divide => {
            let (l, r) = if is_integral(&lt) && is_integral(&rt) {
                (
                    cast(*left.clone(), DataType::Float64),
                    cast(*right.clone(), DataType::Float64),
                )
            } else if rt == DataType::Null {
                return Ok(Transformed::no(e));
            } else {
                (*left.clone(), *right.clone())
            };
            if crate::divisor::is_checked(&r) {
                return Ok(Transformed::no(e));
            }
            Ok(Transformed::yes(binary(
                l,
                Operator::Divide,
                checked_divisor(r, crate::divisor::Operation::Division),
            )))
        }
        Operator::Modulo => {
            if rt == DataType::Null || crate::divisor::is_checked(right) {
                return Ok(Transformed::no(e));
            }
            Ok(Transformed::yes(binary(
                *left.clone(),
                Operator::Modulo,
                checked_divisor(*right.clone(), crate::divisor::Operation::Remainder),
            )))
        }
        _ => Ok(Transformed::no(e)),
    }
}
