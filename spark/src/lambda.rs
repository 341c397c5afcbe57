//! Spark's higher-order functions with lambda arguments: `transform`, `filter`,
//! `exists`, `forall`, `aggregate` (`reduce`), `zip_with`, `map_filter`,
//! `transform_keys` and `transform_values`.
//!
//! DataFusion has no lambdas, so a call becomes one of the `spark_lambda_*` scalar
//! functions, whose arguments are: a [`LambdaSpec`] (JSON text), each lambda's body
//! (a serialized DataFusion expression over columns named for its variables and for
//! the columns of the row it reads, "captures"), the inputs (the arrays, the map, the
//! initial value), then the captured columns themselves. The bodies travel inside the
//! plan as literals, so executors need nothing but the function library, which
//! evaluates them (`sparkling_connectors::lambda`) once per batch over all elements.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::{Expr, ExprSchemable, lit};
use datafusion_proto::bytes::Serializeable;
use serde::{Deserialize, Serialize};
use sparkling_proto::spark::Expression;
use sparkling_proto::spark::expression::ExprType;

use crate::error::{Result, SparkError};
use crate::expr::Scope;

/// A higher-order function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `transform(array, (x[, i]) -> y)`: the array of results.
    Transform,
    /// `filter(array, (x[, i]) -> bool)`: the elements that pass.
    Filter,
    /// `exists(array, x -> bool)`: whether one passes (NULL if none does but one is NULL).
    Exists,
    /// `forall(array, x -> bool)`: whether all pass (NULL if none fails but one is NULL).
    Forall,
    /// `aggregate(array, zero, (acc, x) -> acc[, acc -> result])`: a fold.
    Aggregate,
    /// `zip_with(left, right, (x, y) -> z)`: elements pairwise, the shorter padded with NULL.
    ZipWith,
    /// `map_filter(map, (k, v) -> bool)`: the entries that pass.
    MapFilter,
    /// `transform_keys(map, (k, v) -> k2)`.
    TransformKeys,
    /// `transform_values(map, (k, v) -> v2)`.
    TransformValues,
}

/// Every kind, for registering the functions.
pub const KINDS: [Kind; 9] = [
    Kind::Transform,
    Kind::Filter,
    Kind::Exists,
    Kind::Forall,
    Kind::Aggregate,
    Kind::ZipWith,
    Kind::MapFilter,
    Kind::TransformKeys,
    Kind::TransformValues,
];

impl Kind {
    /// The kind of a Spark function name, if it is a higher-order one.
    pub fn of_spark_function(name: &str) -> Option<Self> {
        Some(match name {
            "transform" => Self::Transform,
            "filter" => Self::Filter,
            "exists" => Self::Exists,
            "forall" => Self::Forall,
            "aggregate" | "reduce" => Self::Aggregate,
            "zip_with" => Self::ZipWith,
            "map_filter" => Self::MapFilter,
            "transform_keys" => Self::TransformKeys,
            "transform_values" => Self::TransformValues,
            _ => return None,
        })
    }

    /// The name of the scalar function that evaluates it.
    pub fn function_name(self) -> &'static str {
        match self {
            Self::Transform => "spark_lambda_transform",
            Self::Filter => "spark_lambda_filter",
            Self::Exists => "spark_lambda_exists",
            Self::Forall => "spark_lambda_forall",
            Self::Aggregate => "spark_lambda_aggregate",
            Self::ZipWith => "spark_lambda_zip_with",
            Self::MapFilter => "spark_lambda_map_filter",
            Self::TransformKeys => "spark_lambda_transform_keys",
            Self::TransformValues => "spark_lambda_transform_values",
        }
    }

    /// How many inputs (arrays, maps, the initial value) it takes.
    pub fn inputs(self) -> usize {
        match self {
            Self::Aggregate | Self::ZipWith => 2,
            _ => 1,
        }
    }

    /// How many lambdas it takes, at least and at most.
    pub fn lambdas(self) -> (usize, usize) {
        match self {
            Self::Aggregate => (1, 2),
            _ => (1, 1),
        }
    }

    /// The types lambda `lambda`'s variables take, in order, given the inputs' types
    /// (a lambda may name fewer).
    pub fn variable_types(self, inputs: &[DataType], lambda: usize) -> Result<Vec<DataType>> {
        let input = |i: usize| {
            inputs.get(i).ok_or_else(|| {
                SparkError::invalid(format!("{} lacks an input", self.function_name()))
            })
        };
        Ok(match self {
            Self::Transform | Self::Filter | Self::Exists | Self::Forall => {
                vec![element_type(input(0)?)?, DataType::Int32]
            }
            Self::Aggregate if lambda == 0 => vec![input(1)?.clone(), element_type(input(0)?)?],
            Self::Aggregate => vec![input(1)?.clone()],
            Self::ZipWith => vec![element_type(input(0)?)?, element_type(input(1)?)?],
            Self::MapFilter | Self::TransformKeys | Self::TransformValues => {
                let (key, value) = map_types(input(0)?)?;
                vec![key, value]
            }
        })
    }

    /// The type of the result, given the inputs' types and the bodies' types.
    pub fn return_type(self, inputs: &[DataType], bodies: &[DataType]) -> Result<DataType> {
        let body = |i: usize| {
            bodies.get(i).cloned().ok_or_else(|| {
                SparkError::invalid(format!("{} lacks a lambda", self.function_name()))
            })
        };
        Ok(match self {
            Self::Transform | Self::ZipWith => {
                DataType::List(Arc::new(Field::new_list_field(body(0)?, true)))
            }
            Self::Filter | Self::MapFilter => inputs[0].clone(),
            Self::Exists | Self::Forall => DataType::Boolean,
            Self::Aggregate if bodies.len() == 2 => body(1)?,
            Self::Aggregate => inputs[1].clone(),
            Self::TransformKeys | Self::TransformValues => {
                let DataType::Map(entries, sorted) = &inputs[0] else {
                    return Err(not_a_map(&inputs[0]));
                };
                let DataType::Struct(fields) = entries.data_type() else {
                    return Err(not_a_map(&inputs[0]));
                };
                let (slot, t) = if self == Self::TransformKeys {
                    (0, body(0)?)
                } else {
                    (1, body(0)?)
                };
                let fields = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        if i == slot {
                            Arc::new(f.as_ref().clone().with_data_type(t.clone()))
                        } else {
                            Arc::clone(f)
                        }
                    })
                    .collect();
                DataType::Map(
                    Arc::new(
                        entries
                            .as_ref()
                            .clone()
                            .with_data_type(DataType::Struct(fields)),
                    ),
                    *sorted,
                )
            }
        })
    }
}

/// What the evaluator needs besides the bodies and the arguments: the column names of
/// each lambda's variables (its body reads them), and of the captured columns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LambdaSpec {
    /// Per lambda, the columns of its variables, in order.
    pub variables: Vec<Vec<String>>,
    /// The columns the captured values go by in the bodies.
    pub captures: Vec<String>,
}

/// The element type of an array type.
pub fn element_type(t: &DataType) -> Result<DataType> {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Ok(f.data_type().clone())
        }
        DataType::Null => Ok(DataType::Null),
        other => Err(SparkError::invalid(format!(
            "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] a higher-order function takes an \
             array, not {}",
            crate::types::type_name(other)
        ))),
    }
}

fn map_types(t: &DataType) -> Result<(DataType, DataType)> {
    if let DataType::Map(entries, _) = t
        && let DataType::Struct(fields) = entries.data_type()
        && fields.len() == 2
    {
        return Ok((fields[0].data_type().clone(), fields[1].data_type().clone()));
    }
    Err(not_a_map(t))
}

fn not_a_map(t: &DataType) -> SparkError {
    SparkError::invalid(format!(
        "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] takes a map, not {}",
        crate::types::type_name(t)
    ))
}

/// The call of higher-order function `kind` on Spark arguments (inputs and lambdas).
pub fn call(
    scope: &Scope<'_>,
    kind: Kind,
    function: &str,
    arguments: &[Expression],
) -> Result<Expr> {
    let mut inputs = Vec::new();
    let mut lambdas = Vec::new();
    for a in arguments {
        match &a.expr_type {
            Some(ExprType::LambdaFunction(l)) => lambdas.push(l.as_ref()),
            _ => inputs.push(scope.expr(a)?),
        }
    }
    let (fewest, most) = kind.lambdas();
    if inputs.len() != kind.inputs() || lambdas.len() < fewest || lambdas.len() > most {
        return Err(SparkError::invalid(format!(
            "[WRONG_NUM_ARGS] {function} takes {} input(s) and {} lambda function(s), not {} \
             and {}",
            kind.inputs(),
            if fewest == most {
                fewest.to_string()
            } else {
                format!("{fewest} or {most}")
            },
            inputs.len(),
            lambdas.len()
        )));
    }
    let input_types = inputs
        .iter()
        .map(|e| e.get_type(scope.schema))
        .collect::<datafusion::common::Result<Vec<_>>>()?;
    let mut bodies = Vec::new();
    let mut variables = Vec::new();
    let mut captured: Vec<Column> = Vec::new();
    for (i, lambda) in lambdas.iter().enumerate() {
        let names: Vec<String> = lambda
            .arguments
            .iter()
            .map(|v| v.name_parts.join("."))
            .collect();
        let types = kind.variable_types(&input_types, i)?;
        if names.is_empty() || names.len() > types.len() {
            return Err(SparkError::invalid(format!(
                "[INVALID_LAMBDA_FUNCTION_CALL.NUM_ARGS_MISMATCH] a lambda function of \
                 {function} takes {} argument(s), not {}",
                types.len(),
                names.len()
            )));
        }
        let depth = scope.lambda_variables.len();
        let columns: Vec<String> = (0..names.len())
            .map(|j| format!("__lambda_{}", depth + j))
            .collect();
        let fields = columns
            .iter()
            .zip(&types)
            .map(|(c, t)| Field::new(c, t.clone(), true))
            .collect::<Vec<_>>();
        let mut schema = scope.schema.clone();
        schema.merge(&DFSchema::from_unqualified_fields(
            fields.into(),
            HashMap::new(),
        )?);
        let mut inner = Scope::new(scope.state, &schema, scope.plan_ids);
        inner.lambda_variables = scope.lambda_variables.clone();
        inner
            .lambda_variables
            .extend(names.iter().cloned().zip(columns.iter().cloned()));
        let body_spark = lambda
            .function
            .as_deref()
            .ok_or_else(|| SparkError::invalid("a lambda function without a body"))?;
        let body = crate::rules::spark_expr(inner.expr(body_spark)?, &schema)?;
        // The columns of the row the body reads become arguments of the call.
        let body = body
            .transform_up(|e| match e {
                Expr::Column(c) if !(c.relation.is_none() && columns.contains(&c.name)) => {
                    let k = match captured.iter().position(|x| *x == c) {
                        Some(k) => k,
                        None => {
                            captured.push(c);
                            captured.len() - 1
                        }
                    };
                    Ok(Transformed::yes(Expr::Column(Column::from_name(format!(
                        "__capture_{k}"
                    )))))
                }
                other => Ok(Transformed::no(other)),
            })?
            .data;
        bodies.push(body.to_bytes()?.to_vec());
        variables.push(columns);
    }
    let spec = LambdaSpec {
        variables,
        captures: (0..captured.len())
            .map(|k| format!("__capture_{k}"))
            .collect(),
    };
    let spec = serde_json::to_string(&spec).map_err(|e| SparkError::invalid(e.to_string()))?;
    let mut args = vec![lit(spec)];
    args.extend(
        bodies
            .into_iter()
            .map(|b| lit(ScalarValue::Binary(Some(b)))),
    );
    args.extend(inputs);
    args.extend(captured.into_iter().map(Expr::Column));
    crate::functions::scalar(scope.state, kind.function_name(), args)
}

/// `array` without its NULL elements (`array_compact`).
pub fn without_nulls(state: &datafusion::execution::SessionState, array: Expr) -> Result<Expr> {
    simple(state, Kind::Filter, array, |x| x.is_not_null())
}

/// A call of higher-order function `kind` on `array` whose lambda has one variable
/// and reads nothing else: `body` of the variable's column.
pub fn simple(
    state: &datafusion::execution::SessionState,
    kind: Kind,
    array: Expr,
    body: impl FnOnce(Expr) -> Expr,
) -> Result<Expr> {
    let variable = "__lambda_0".to_string();
    let body = body(Expr::Column(Column::from_name(variable.clone())));
    let spec = LambdaSpec {
        variables: vec![vec![variable]],
        captures: vec![],
    };
    let spec = serde_json::to_string(&spec).map_err(|e| SparkError::invalid(e.to_string()))?;
    crate::functions::scalar(
        state,
        kind.function_name(),
        vec![
            lit(spec),
            lit(ScalarValue::Binary(Some(body.to_bytes()?.to_vec()))),
            array,
        ],
    )
}
