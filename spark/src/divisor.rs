//! `spark_divisor(x)` and `spark_remainder_divisor(x)`: the divisor of Spark's `/`
//! and `div`, and of `%`, passed through unchanged unless a value is zero, which
//! fails the query with Spark's `DIVIDE_BY_ZERO` (or `REMAINDER_BY_ZERO`) error
//! (Spark 4's default ANSI mode; DataFusion would return infinity or NaN for
//! floating-point divisors).
//!
//! It is a function rather than a check in the planner because executors evaluate
//! it: the function library registers it on every process that decodes plans.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The operation a divisor is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `/` and `div`.
    Division,
    /// `%`.
    Remainder,
}

impl Operation {
    /// The function's name in plans.
    pub fn function_name(self) -> &'static str {
        match self {
            Self::Division => "spark_divisor",
            Self::Remainder => "spark_remainder_divisor",
        }
    }

    /// Spark's message, with its error class first so clients can match on it.
    pub fn message(self) -> &'static str {
        match self {
            Self::Division => DIVIDE_BY_ZERO,
            Self::Remainder => {
                "[REMAINDER_BY_ZERO] Remainder by zero. Use `try_mod` to tolerate divisor \
                 being 0 and return NULL instead."
            }
        }
    }
}

/// Spark's message for a division by zero.
pub const DIVIDE_BY_ZERO: &str = "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to \
     tolerate divisor being 0 and return NULL instead.";

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkDivisor {
    operation: Operation,
    signature: Signature,
}

impl SparkDivisor {
    fn new(operation: Operation) -> Self {
        Self {
            operation,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// The function checking divisors of `operation`, ready to register or to call in a
/// plan.
pub fn spark_divisor(operation: Operation) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(SparkDivisor::new(operation)))
}

/// Both functions, to register.
pub fn functions() -> [Arc<ScalarUDF>; 2] {
    [
        spark_divisor(Operation::Division),
        spark_divisor(Operation::Remainder),
    ]
}

fn any_zero(values: &ArrayRef) -> Result<bool> {
    if values.data_type() == &DataType::Null {
        return Ok(false);
    }
    let as_f64 = arrow::compute::cast(values, &DataType::Float64)?;
    let Some(as_f64) = as_f64.as_any().downcast_ref::<Float64Array>() else {
        return exec_err!("divisor of type {} is not a number", values.data_type());
    };
    Ok(as_f64.iter().any(|v| v == Some(0.0)))
}

impl ScalarUDFImpl for SparkDivisor {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.operation.function_name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(value) = args.args.into_iter().next() else {
            return exec_err!("{} takes one argument", self.name());
        };
        let zero = match &value {
            ColumnarValue::Array(a) => any_zero(a)?,
            ColumnarValue::Scalar(s) => any_zero(&s.to_array()?)?,
        };
        if zero {
            return exec_err!("{}", self.operation.message());
        }
        Ok(value)
    }
}

/// Whether `e` already is a divisor that cannot be zero unnoticed (this function, or
/// a `nullif(x, 0)` the user wrote).
pub fn is_checked(e: &datafusion::logical_expr::Expr) -> bool {
    matches!(e, datafusion::logical_expr::Expr::ScalarFunction(f)
        if f.name() == Operation::Division.function_name()
            || f.name() == Operation::Remainder.function_name()
            || f.name() == "nullif")
}
