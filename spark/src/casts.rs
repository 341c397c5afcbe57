//! Spark SQL's cast functions: `int(x)`, `bigint(x)`, `string(x)`, `double(x)`, ...
//! are `CAST(x AS type)` by the type's name. Invalid input becomes NULL, as Spark's
//! non-ANSI casts do.

use std::any::Any;
use std::sync::Arc;

use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The cast functions, one per type name.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    let utc = || Some(Arc::from("UTC"));
    [
        ("boolean", DataType::Boolean),
        ("tinyint", DataType::Int8),
        ("smallint", DataType::Int16),
        ("int", DataType::Int32),
        ("bigint", DataType::Int64),
        ("float", DataType::Float32),
        ("double", DataType::Float64),
        ("decimal", DataType::Decimal128(10, 0)),
        ("date", DataType::Date32),
        (
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, utc()),
        ),
        ("string", DataType::Utf8),
        ("binary", DataType::Binary),
    ]
    .into_iter()
    .map(|(name, to)| {
        Arc::new(ScalarUDF::from(CastFunction {
            name,
            to,
            signature: Signature::any(1, Volatility::Immutable),
        }))
    })
    .collect()
}

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CastFunction {
    name: &'static str,
    to: DataType,
    signature: Signature,
}

impl ScalarUDFImpl for CastFunction {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.to.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("{}() takes one argument", self.name);
        };
        let options = CastOptions {
            safe: true,
            ..Default::default()
        };
        Ok(match value {
            ColumnarValue::Array(a) => {
                ColumnarValue::Array(cast_with_options(a, &self.to, &options)?)
            }
            ColumnarValue::Scalar(s) => {
                let a = s.to_array()?;
                ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(
                    &cast_with_options(&a, &self.to, &options)?,
                    0,
                )?)
            }
        })
    }
}
