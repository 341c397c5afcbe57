//! Evaluates Spark's higher-order functions (`spark_lambda_*`, planned by
//! [`sparkling_spark::lambda`]): each lambda body runs once per batch over every
//! element of every row's array or map, as a DataFusion physical expression over a
//! batch of the elements (the variables' columns) and the captured columns repeated
//! for each element; the results are put back into lists (or maps, or one value per
//! row) along the input's offsets.
//!
//! Bodies are decoded with the function library of this process, so a body may call
//! any function a plan may, including other higher-order functions.

use std::any::Any;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Int32Array, ListArray, MapArray,
    RecordBatch, RecordBatchOptions, StructArray, UInt32Array, new_null_array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::compute::kernels::zip::zip;
use arrow::compute::{cast, filter, take};
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err, plan_err};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::{PhysicalExpr, create_physical_expr};
use datafusion_proto::bytes::Serializeable;
use sparkling_spark::lambda::{KINDS, Kind, LambdaSpec};

/// The function library bodies are decoded with (built on first use).
static LIBRARY: LazyLock<SessionState> = LazyLock::new(|| {
    crate::functions::with_sparkling_functions(SessionStateBuilder::new()).build()
});

/// The higher-order functions, one per kind.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    KINDS
        .iter()
        .map(|kind| {
            Arc::new(ScalarUDF::from(HigherOrderFunction {
                kind: *kind,
                signature: Signature::variadic_any(Volatility::Immutable),
            }))
        })
        .collect()
}

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
struct HigherOrderFunction {
    kind: Kind,
    signature: Signature,
}

/// A call's spec, bodies and where its inputs and captures start among the arguments.
struct Call {
    spec: LambdaSpec,
    bodies: Vec<Expr>,
    inputs: std::ops::Range<usize>,
}

impl HigherOrderFunction {
    fn call(&self, scalars: &[Option<&ScalarValue>]) -> Result<Call> {
        let spec = match scalars.first() {
            Some(Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)))) => {
                serde_json::from_str::<LambdaSpec>(s).map_err(|e| {
                    datafusion::error::DataFusionError::Plan(format!(
                        "{}: invalid lambda spec: {e}",
                        self.kind.function_name()
                    ))
                })?
            }
            _ => return plan_err!("{} needs its lambda spec", self.kind.function_name()),
        };
        let lambdas = spec.variables.len();
        let mut bodies = Vec::with_capacity(lambdas);
        for i in 0..lambdas {
            match scalars.get(1 + i) {
                Some(Some(ScalarValue::Binary(Some(b)) | ScalarValue::BinaryView(Some(b)))) => {
                    bodies.push(Expr::from_bytes_with_registry(b, &*LIBRARY)?);
                }
                _ => return plan_err!("{} needs its lambda bodies", self.kind.function_name()),
            }
        }
        let start = 1 + lambdas;
        let end = start + self.kind.inputs();
        if scalars.len() != end + spec.captures.len() {
            return plan_err!(
                "{}: {} arguments where {} were expected",
                self.kind.function_name(),
                scalars.len(),
                end + spec.captures.len()
            );
        }
        Ok(Call {
            spec,
            bodies,
            inputs: start..end,
        })
    }

    /// The schema lambda `i`'s body reads: its variables, then the captures.
    fn body_schema(
        &self,
        call: &Call,
        i: usize,
        input_types: &[DataType],
        capture_fields: &[FieldRef],
    ) -> Result<DFSchema> {
        let types = self
            .kind
            .variable_types(input_types, i)
            .map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))?;
        let mut fields: Vec<Field> = call.spec.variables[i]
            .iter()
            .zip(types)
            .map(|(name, t)| Field::new(name, t, true))
            .collect();
        fields.extend(
            call.spec
                .captures
                .iter()
                .zip(capture_fields)
                .map(|(name, f)| Field::new(name, f.data_type().clone(), true)),
        );
        DFSchema::try_from(Schema::new(fields))
    }
}

impl ScalarUDFImpl for HigherOrderFunction {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.kind.function_name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        plan_err!("{} is typed from its arguments", self.kind.function_name())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let call = self.call(args.scalar_arguments)?;
        let input_types: Vec<DataType> = args.arg_fields[call.inputs.clone()]
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let captures = &args.arg_fields[call.inputs.end..];
        let mut body_types = Vec::new();
        for (i, body) in call.bodies.iter().enumerate() {
            let schema = self.body_schema(&call, i, &input_types, captures)?;
            body_types.push(body.get_type(&schema)?);
        }
        let t = self
            .kind
            .return_type(&input_types, &body_types)
            .map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))?;
        Ok(Arc::new(Field::new(self.name(), t, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalars: Vec<Option<&ScalarValue>> = args
            .args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(s) => Some(s),
                ColumnarValue::Array(_) => None,
            })
            .collect();
        let call = self.call(&scalars)?;
        let rows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .skip(call.inputs.start)
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let (inputs, captures) = arrays.split_at(self.kind.inputs());
        let input_types: Vec<DataType> = inputs.iter().map(|a| a.data_type().clone()).collect();
        let capture_fields = &args.arg_fields[call.inputs.end..];
        let mut bodies = Vec::new();
        for (i, body) in call.bodies.iter().enumerate() {
            let schema = self.body_schema(&call, i, &input_types, capture_fields)?;
            bodies.push(Body {
                expr: create_physical_expr(body, &schema, &ExecutionProps::new())?,
                schema: Arc::new(schema.as_arrow().clone()),
            });
        }
        let out = match self.kind {
            Kind::Transform | Kind::Filter | Kind::Exists | Kind::Forall => {
                array_function(self.kind, &inputs[0], captures, &bodies[0])?
            }
            Kind::Aggregate => aggregate(&inputs[0], &inputs[1], captures, &bodies)?,
            Kind::ZipWith => zip_with(&inputs[0], &inputs[1], captures, &bodies[0])?,
            Kind::MapFilter | Kind::TransformKeys | Kind::TransformValues => {
                map_function(self.kind, &inputs[0], captures, &bodies[0])?
            }
        };
        let wanted = args.return_field.data_type();
        Ok(ColumnarValue::Array(if out.data_type() == wanted {
            out
        } else {
            cast(&out, wanted)?
        }))
    }
}

/// A planned body and the schema of the batches it reads.
struct Body {
    expr: Arc<dyn PhysicalExpr>,
    schema: Arc<Schema>,
}

impl Body {
    /// The body over `rows` rows of its variables' and captures' columns (in the
    /// schema's order; a lambda may name fewer variables than `variables` holds).
    fn evaluate(
        &self,
        variables: Vec<ArrayRef>,
        captures: Vec<ArrayRef>,
        rows: usize,
    ) -> Result<ArrayRef> {
        let names = self.schema.fields().len() - captures.len();
        let mut columns: Vec<ArrayRef> = variables.into_iter().take(names).collect();
        columns.extend(captures);
        // Variables are typed as the schema says (a NULL-typed input's elements).
        let columns = columns
            .into_iter()
            .zip(self.schema.fields())
            .map(|(c, f)| {
                if c.data_type() == f.data_type() {
                    Ok(c)
                } else {
                    cast(&c, f.data_type())
                }
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let batch = RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        self.expr.evaluate(&batch)?.into_array(rows)
    }
}

/// An array input as a list with 32-bit offsets.
fn as_list(array: &ArrayRef) -> Result<ListArray> {
    let list = match array.data_type() {
        DataType::List(_) => Arc::clone(array),
        DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            cast(array, &DataType::List(Arc::clone(f)))?
        }
        DataType::Null => cast(
            array,
            &DataType::List(Arc::new(Field::new_list_field(DataType::Null, true))),
        )?,
        other => return exec_err!("a higher-order function takes an array, not {other}"),
    };
    Ok(list.as_list::<i32>().clone())
}

/// For each element under `offsets` (from the first to the last), its row and its
/// position in the row.
fn element_rows(offsets: &[i32]) -> (UInt32Array, Int32Array) {
    let mut rows = Vec::new();
    let mut positions = Vec::new();
    for (row, w) in offsets.windows(2).enumerate() {
        for k in w[0]..w[1] {
            rows.push(row as u32);
            positions.push(k - w[0]);
        }
    }
    (UInt32Array::from(rows), Int32Array::from(positions))
}

/// The captured columns, one value per element.
fn repeated(captures: &[ArrayRef], rows: &UInt32Array) -> Result<Vec<ArrayRef>> {
    captures
        .iter()
        .map(|c| Ok(take(c.as_ref(), rows, None)?))
        .collect()
}

/// The values of `list` from its first offset to its last.
fn element_values(list: &ListArray) -> ArrayRef {
    let offsets = list.value_offsets();
    let start = offsets[0] as usize;
    let end = offsets[offsets.len() - 1] as usize;
    list.values().slice(start, end - start)
}

/// Offsets starting at 0.
fn rebased(offsets: &[i32]) -> OffsetBuffer<i32> {
    let first = offsets[0];
    OffsetBuffer::new(offsets.iter().map(|o| o - first).collect::<Vec<_>>().into())
}

fn array_function(
    kind: Kind,
    input: &ArrayRef,
    captures: &[ArrayRef],
    body: &Body,
) -> Result<ArrayRef> {
    let list = as_list(input)?;
    let offsets = list.value_offsets();
    let values = element_values(&list);
    let (rows, positions) = element_rows(offsets);
    let result = body.evaluate(
        vec![Arc::clone(&values), Arc::new(positions)],
        repeated(captures, &rows)?,
        values.len(),
    )?;
    match kind {
        Kind::Transform => Ok(Arc::new(ListArray::try_new(
            Arc::new(Field::new_list_field(result.data_type().clone(), true)),
            rebased(offsets),
            result,
            list.nulls().cloned(),
        )?)),
        Kind::Filter => {
            let Some(mask) = result.as_boolean_opt() else {
                return exec_err!("filter's lambda must return a boolean");
            };
            // NULL does not pass.
            let keep: BooleanArray = mask.iter().map(|b| Some(b == Some(true))).collect();
            let kept = filter(values.as_ref(), &keep)?;
            let mut new_offsets = Vec::with_capacity(offsets.len());
            new_offsets.push(0i32);
            let mut count = 0i32;
            let base = offsets[0];
            for w in offsets.windows(2) {
                for k in w[0]..w[1] {
                    if keep.value((k - base) as usize) {
                        count += 1;
                    }
                }
                new_offsets.push(count);
            }
            let DataType::List(field) = list.data_type() else {
                return exec_err!("filter takes an array");
            };
            Ok(Arc::new(ListArray::try_new(
                Arc::clone(field),
                OffsetBuffer::new(new_offsets.into()),
                kept,
                list.nulls().cloned(),
            )?))
        }
        Kind::Exists | Kind::Forall => {
            let Some(mask) = result.as_boolean_opt() else {
                return exec_err!("the lambda of exists/forall must return a boolean");
            };
            let base = offsets[0];
            let mut out = BooleanBuilder::with_capacity(list.len());
            for (row, w) in offsets.windows(2).enumerate() {
                if list.is_null(row) {
                    out.append_null();
                    continue;
                }
                let (mut any_true, mut any_false, mut any_null) = (false, false, false);
                for k in w[0]..w[1] {
                    match mask.is_valid((k - base) as usize) {
                        false => any_null = true,
                        true if mask.value((k - base) as usize) => any_true = true,
                        true => any_false = true,
                    }
                }
                let decided = if kind == Kind::Exists {
                    any_true
                } else {
                    any_false
                };
                if decided {
                    out.append_value(kind == Kind::Exists);
                } else if any_null {
                    out.append_null();
                } else {
                    out.append_value(kind == Kind::Forall);
                }
            }
            Ok(Arc::new(out.finish()))
        }
        _ => exec_err!("{} is not an array function", kind.function_name()),
    }
}

/// `aggregate(array, zero, merge[, finish])`: folds each row's elements one position
/// at a time (every row's k-th element in one evaluation).
fn aggregate(
    input: &ArrayRef,
    zero: &ArrayRef,
    captures: &[ArrayRef],
    bodies: &[Body],
) -> Result<ArrayRef> {
    let list = as_list(input)?;
    let offsets = list.value_offsets();
    let rows = list.len();
    let lengths: Vec<i32> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
    let longest = lengths.iter().copied().max().unwrap_or(0);
    let mut acc = Arc::clone(zero);
    for k in 0..longest {
        let index: UInt32Array = (0..rows)
            .map(|r| (k < lengths[r]).then(|| (offsets[r] + k) as u32))
            .collect();
        let x = take(list.values().as_ref(), &index, None)?;
        let merged = bodies[0].evaluate(vec![Arc::clone(&acc), x], captures.to_vec(), rows)?;
        let merged = if merged.data_type() == acc.data_type() {
            merged
        } else {
            cast(&merged, acc.data_type())?
        };
        let has: BooleanArray = (0..rows).map(|r| Some(k < lengths[r])).collect();
        acc = zip(&has, &merged, &acc)?;
    }
    let result = match bodies.get(1) {
        Some(finish) => finish.evaluate(vec![acc], captures.to_vec(), rows)?,
        None => acc,
    };
    // A NULL array aggregates to NULL.
    match list.nulls() {
        Some(nulls) if nulls.null_count() > 0 => {
            let valid = BooleanArray::new(nulls.inner().clone(), None);
            Ok(zip(
                &valid,
                &result,
                &new_null_array(result.data_type(), rows),
            )?)
        }
        _ => Ok(result),
    }
}

/// `zip_with(left, right, f)`: pairs by position; the shorter array is padded with NULL.
fn zip_with(
    left: &ArrayRef,
    right: &ArrayRef,
    captures: &[ArrayRef],
    body: &Body,
) -> Result<ArrayRef> {
    let (a, b) = (as_list(left)?, as_list(right)?);
    let (oa, ob) = (a.value_offsets(), b.value_offsets());
    let mut ia = Vec::new();
    let mut ib = Vec::new();
    let mut element_rows = Vec::new();
    let mut new_offsets = vec![0i32];
    for r in 0..a.len() {
        let (la, lb) = (oa[r + 1] - oa[r], ob[r + 1] - ob[r]);
        let n = if a.is_null(r) || b.is_null(r) {
            0
        } else {
            la.max(lb)
        };
        for k in 0..n {
            ia.push((k < la).then(|| (oa[r] + k) as u32));
            ib.push((k < lb).then(|| (ob[r] + k) as u32));
            element_rows.push(r as u32);
        }
        new_offsets.push(new_offsets[r] + n);
    }
    let x = take(a.values().as_ref(), &UInt32Array::from(ia), None)?;
    let y = take(b.values().as_ref(), &UInt32Array::from(ib), None)?;
    let rows = UInt32Array::from(element_rows);
    let count = rows.len();
    let result = body.evaluate(vec![x, y], repeated(captures, &rows)?, count)?;
    Ok(Arc::new(ListArray::try_new(
        Arc::new(Field::new_list_field(result.data_type().clone(), true)),
        OffsetBuffer::new(new_offsets.into()),
        result,
        NullBuffer::union(a.nulls(), b.nulls()),
    )?))
}

fn map_function(
    kind: Kind,
    input: &ArrayRef,
    captures: &[ArrayRef],
    body: &Body,
) -> Result<ArrayRef> {
    let Some(map) = input.as_map_opt() else {
        return exec_err!(
            "{} takes a map, not {}",
            kind.function_name(),
            input.data_type()
        );
    };
    let offsets = map.value_offsets();
    let start = offsets[0] as usize;
    let end = offsets[offsets.len() - 1] as usize;
    let keys = map.keys().slice(start, end - start);
    let values = map.values().slice(start, end - start);
    let (rows, _) = element_rows(offsets);
    let result = body.evaluate(
        vec![Arc::clone(&keys), Arc::clone(&values)],
        repeated(captures, &rows)?,
        keys.len(),
    )?;
    let DataType::Map(entries_field, sorted) = map.data_type() else {
        return exec_err!("{} takes a map", kind.function_name());
    };
    let DataType::Struct(entry_fields) = entries_field.data_type() else {
        return exec_err!("{} takes a map", kind.function_name());
    };
    let (new_offsets, keys, values) = match kind {
        Kind::MapFilter => {
            let Some(mask) = result.as_boolean_opt() else {
                return exec_err!("map_filter's lambda must return a boolean");
            };
            let keep: BooleanArray = mask.iter().map(|b| Some(b == Some(true))).collect();
            let mut new_offsets = vec![0i32];
            let mut count = 0;
            for w in offsets.windows(2) {
                for k in w[0]..w[1] {
                    if keep.value(k as usize - start) {
                        count += 1;
                    }
                }
                new_offsets.push(count);
            }
            (
                OffsetBuffer::new(new_offsets.into()),
                filter(keys.as_ref(), &keep)?,
                filter(values.as_ref(), &keep)?,
            )
        }
        Kind::TransformKeys => {
            if result.null_count() > 0 {
                return exec_err!("[NULL_MAP_KEY] Cannot use null as map key");
            }
            (rebased(offsets), result, values)
        }
        Kind::TransformValues => (rebased(offsets), keys, result),
        _ => return exec_err!("{} is not a map function", kind.function_name()),
    };
    let fields: Vec<FieldRef> = vec![
        Arc::new(
            entry_fields[0]
                .as_ref()
                .clone()
                .with_data_type(keys.data_type().clone()),
        ),
        Arc::new(
            entry_fields[1]
                .as_ref()
                .clone()
                .with_data_type(values.data_type().clone()),
        ),
    ];
    let entries = StructArray::try_new(fields.clone().into(), vec![keys, values], None)?;
    Ok(Arc::new(MapArray::try_new(
        Arc::new(
            entries_field
                .as_ref()
                .clone()
                .with_data_type(DataType::Struct(fields.into())),
        ),
        new_offsets,
        entries,
        map.nulls().cloned(),
        *sorted,
    )?))
}
