//! Spark's KLL quantile sketches, for `bigint`, `float` and `double` values:
//! `kll_sketch_agg_*` and `kll_merge_agg_*` (aggregates), `kll_sketch_merge_*`,
//! `kll_sketch_get_n_*`, `kll_sketch_get_quantile_*`, `kll_sketch_get_rank_*` and
//! `kll_sketch_to_string_*`.
//!
//! A real KLL sketch (Karnin, Lang, Liberty): levels of retained values, level `h`
//! weighing `2^h`; a full level is sorted and every other value moves up, so memory
//! stays near `k` (200 by default) values whatever the input. Exact while fewer than
//! `k` values were seen. Ranks are inclusive (the share of weight at or below a value),
//! as Spark's defaults. The bytes are Sparkling's own layout, not Apache DataSketches'.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Float32Array, Float64Array, Int64Array, ListArray,
    StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};

const TAG: u8 = b'K';
const DEFAULT_K: u16 = 200;

/// The value type a sketch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Bigint,
    Float,
    Double,
}

impl Kind {
    fn suffix(self) -> &'static str {
        match self {
            Self::Bigint => "bigint",
            Self::Float => "float",
            Self::Double => "double",
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Self::Bigint => DataType::Int64,
            Self::Float => DataType::Float32,
            Self::Double => DataType::Float64,
        }
    }
}

/// Values are kept as `f64` keys ordered by `total_cmp`, or as `i64` for bigint
/// sketches (exact beyond 2^53); both stored as 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Long(i64),
    Real(f64),
}

impl Value {
    fn cmp(&self, other: &Value) -> std::cmp::Ordering {
        match (self, other) {
            (Value::Long(a), Value::Long(b)) => a.cmp(b),
            (Value::Real(a), Value::Real(b)) => a.total_cmp(b),
            (Value::Long(a), Value::Real(b)) => (*a as f64).total_cmp(b),
            (Value::Real(a), Value::Long(b)) => a.total_cmp(&(*b as f64)),
        }
    }

    fn bits(&self) -> u64 {
        match self {
            Value::Long(v) => *v as u64,
            Value::Real(v) => v.to_bits(),
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone, PartialEq)]
struct Kll {
    kind: Kind,
    k: u16,
    n: u64,
    levels: Vec<Vec<Value>>,
    /// Which half a compaction keeps next (alternating, so the sketch is repeatable).
    odd: bool,
}

impl Kll {
    fn new(kind: Kind, k: u16) -> Result<Self> {
        if k < 8 {
            return exec_err!("[KLL_SKETCH_INVALID_K] k must be between 8 and 65535, not {k}");
        }
        Ok(Self {
            kind,
            k,
            n: 0,
            levels: vec![Vec::new()],
            odd: false,
        })
    }

    fn capacity(&self, level: usize) -> usize {
        let depth = self.levels.len() - 1 - level;
        ((f64::from(self.k) * (2.0f64 / 3.0).powi(depth as i32)).ceil() as usize).max(2)
    }

    fn retained(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    fn total_capacity(&self) -> usize {
        (0..self.levels.len()).map(|h| self.capacity(h)).sum()
    }

    fn add(&mut self, v: Value) {
        self.levels[0].push(v);
        self.n += 1;
        self.compress();
    }

    fn compress(&mut self) {
        while self.retained() > self.total_capacity() {
            let Some(level) =
                (0..self.levels.len()).find(|&h| self.levels[h].len() >= self.capacity(h))
            else {
                return;
            };
            if level + 1 == self.levels.len() {
                self.levels.push(Vec::new());
            }
            let mut items = std::mem::take(&mut self.levels[level]);
            items.sort_by(Value::cmp);
            // An odd item out stays; of the rest, every other one moves up, weighing double.
            if !items.len().is_multiple_of(2)
                && let Some(last) = items.pop()
            {
                self.levels[level].push(last);
            }
            let start = usize::from(self.odd);
            self.odd = !self.odd;
            let promoted: Vec<Value> = items.into_iter().skip(start).step_by(2).collect();
            self.levels[level + 1].extend(promoted);
        }
    }

    fn merge(&mut self, other: &Kll) -> Result<()> {
        if other.kind != self.kind {
            return exec_err!("KLL sketches of different value types cannot be merged");
        }
        while self.levels.len() < other.levels.len() {
            self.levels.push(Vec::new());
        }
        for (h, items) in other.levels.iter().enumerate() {
            self.levels[h].extend(items.iter().copied());
        }
        self.n += other.n;
        self.k = self.k.min(other.k);
        self.compress();
        Ok(())
    }

    /// The retained values with their weights, sorted.
    fn weighted(&self) -> Vec<(Value, u64)> {
        let mut all: Vec<(Value, u64)> = self
            .levels
            .iter()
            .enumerate()
            .flat_map(|(h, items)| items.iter().map(move |v| (*v, 1u64 << h)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The smallest value whose share of weight at or below it reaches `rank`.
    fn quantile(&self, rank: f64) -> Result<Option<Value>> {
        if !(0.0..=1.0).contains(&rank) {
            return exec_err!(
                "[KLL_SKETCH_INVALID_QUANTILE_RANGE] a rank must be between 0 and 1, not {rank}"
            );
        }
        let all = self.weighted();
        let total: u64 = all.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return Ok(None);
        }
        let target = rank * total as f64;
        let mut cumulative = 0u64;
        for (v, w) in &all {
            cumulative += w;
            if cumulative as f64 >= target {
                return Ok(Some(*v));
            }
        }
        Ok(all.last().map(|(v, _)| *v))
    }

    /// The share of weight at or below `value`.
    fn rank(&self, value: Value) -> Option<f64> {
        let all = self.weighted();
        let total: u64 = all.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return None;
        }
        let below: u64 = all
            .iter()
            .filter(|(v, _)| v.cmp(&value) != std::cmp::Ordering::Greater)
            .map(|(_, w)| w)
            .sum();
        Some(below as f64 / total as f64)
    }

    fn describe(&self) -> String {
        let value = |v: Option<Value>| match v {
            Some(Value::Long(x)) => x.to_string(),
            Some(Value::Real(x)) => x.to_string(),
            None => "NaN".to_string(),
        };
        let all = self.weighted();
        format!(
            "### KLL sketch summary:\n   K              : {}\n   N              : {}\n   \
             Levels         : {}\n   Retained items : {}\n   Estimation mode: {}\n   \
             Min item       : {}\n   Max item       : {}\n### End sketch summary\n",
            self.k,
            self.n,
            self.levels.len(),
            self.retained(),
            self.levels.len() > 1,
            value(all.first().map(|(v, _)| *v)),
            value(all.last().map(|(v, _)| *v)),
        )
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![TAG, self.kind as u8, u8::from(self.odd)];
        out.extend_from_slice(&self.k.to_le_bytes());
        out.extend_from_slice(&self.n.to_le_bytes());
        out.extend_from_slice(&(self.levels.len() as u32).to_le_bytes());
        for level in &self.levels {
            out.extend_from_slice(&(level.len() as u32).to_le_bytes());
            for v in level {
                out.extend_from_slice(&v.bits().to_le_bytes());
            }
        }
        out
    }

    fn from_bytes(bytes: &[u8], kind: Kind) -> Result<Self> {
        let invalid = || {
            datafusion::error::DataFusionError::Execution(format!(
                "[KLL_SKETCH_INVALID_INPUT] not a KLL {} sketch",
                kind.suffix()
            ))
        };
        let mut at = 0usize;
        let mut take = |len: usize| -> Result<&[u8]> {
            let piece = bytes.get(at..at + len).ok_or_else(invalid)?;
            at += len;
            Ok(piece)
        };
        let head = take(3)?;
        if head[0] != TAG || head[1] != kind as u8 {
            return Err(invalid());
        }
        let odd = head[2] == 1;
        let k = u16::from_le_bytes(take(2)?.try_into().map_err(|_| invalid())?);
        let n = u64::from_le_bytes(take(8)?.try_into().map_err(|_| invalid())?);
        let count = u32::from_le_bytes(take(4)?.try_into().map_err(|_| invalid())?) as usize;
        if count == 0 || count > 64 {
            return Err(invalid());
        }
        let mut levels = Vec::with_capacity(count);
        for _ in 0..count {
            let len = u32::from_le_bytes(take(4)?.try_into().map_err(|_| invalid())?) as usize;
            let mut level = Vec::with_capacity(len.min(1 << 16));
            for _ in 0..len {
                let bits = u64::from_le_bytes(take(8)?.try_into().map_err(|_| invalid())?);
                level.push(match kind {
                    Kind::Bigint => Value::Long(bits as i64),
                    _ => Value::Real(f64::from_bits(bits)),
                });
            }
            levels.push(level);
        }
        Ok(Self {
            kind,
            k,
            n,
            levels,
            odd,
        })
    }
}

/// The sketch values of a column of `kind`'s type.
fn values_of(array: &ArrayRef, kind: Kind) -> Result<Vec<Option<Value>>> {
    Ok(match kind {
        Kind::Bigint => {
            let a = cast(array, &DataType::Int64)?;
            a.as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(Value::Long))
                .collect()
        }
        _ => {
            let a = cast(array, &DataType::Float64)?;
            a.as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(Value::Real))
                .collect()
        }
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct KllAggregate {
    kind: Kind,
    merge: bool,
    name: String,
    signature: Signature,
}

impl AggregateUDFImpl for KllAggregate {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn state_fields(&self, _: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new("sketch", DataType::Binary, true))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let k = match crate::sketch::literal_argument(&args)
            .map(|v| v.cast_to(&DataType::Int64))
            .transpose()?
        {
            None => DEFAULT_K,
            Some(ScalarValue::Int64(Some(k))) if (8..=65535).contains(&k) => k as u16,
            Some(other) => {
                return plan_err!(
                    "[KLL_SKETCH_INVALID_K] k must be between 8 and 65535, not {other}"
                );
            }
        };
        Ok(Box::new(KllAccumulator {
            merge: self.merge,
            sketch: Kll::new(self.kind, k)?,
        }))
    }
}

#[derive(Debug)]
struct KllAccumulator {
    merge: bool,
    sketch: Kll,
}

impl KllAccumulator {
    fn merge_sketches(&mut self, array: &ArrayRef) -> Result<()> {
        let Some(sketches) = array.as_binary_opt::<i32>() else {
            return exec_err!("KLL merges take sketches (binary)");
        };
        for row in 0..sketches.len() {
            if sketches.is_valid(row) {
                let other = Kll::from_bytes(sketches.value(row), self.sketch.kind)?;
                self.sketch.merge(&other)?;
            }
        }
        Ok(())
    }
}

impl Accumulator for KllAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(input) = values.first() else {
            return Ok(());
        };
        if self.merge {
            return self.merge_sketches(input);
        }
        for v in values_of(input, self.sketch.kind)?.into_iter().flatten() {
            self.sketch.add(v);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        match states.first() {
            Some(s) => self.merge_sketches(s),
            None => Ok(()),
        }
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.sketch.to_bytes()))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(Some(self.sketch.to_bytes())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + 8 * self.sketch.retained()
    }
}

/// Which scalar function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operation {
    ToString,
    GetN,
    Merge,
    Quantile,
    Rank,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct KllScalar {
    kind: Kind,
    operation: Operation,
    name: String,
    signature: Signature,
}

impl ScalarUDFImpl for KllScalar {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
        let many = matches!(
            args.get(1),
            Some(DataType::List(_) | DataType::LargeList(_))
        );
        Ok(match self.operation {
            Operation::ToString => DataType::Utf8,
            Operation::GetN => DataType::Int64,
            Operation::Merge => DataType::Binary,
            Operation::Quantile if many => list(self.kind.data_type()),
            Operation::Quantile => self.kind.data_type(),
            Operation::Rank if many => list(DataType::Float64),
            Operation::Rank => DataType::Float64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = crate::functions::argument_arrays(&args)?;
        let Some(sketches) = arrays.first().and_then(|a| a.as_binary_opt::<i32>()) else {
            return exec_err!("{} takes a sketch (binary)", self.name);
        };
        let sketch = |row: usize| -> Result<Option<Kll>> {
            if sketches.is_null(row) {
                return Ok(None);
            }
            Ok(Some(Kll::from_bytes(sketches.value(row), self.kind)?))
        };
        let out: ArrayRef = match self.operation {
            Operation::ToString => Arc::new(
                (0..rows)
                    .map(|r| Ok(sketch(r)?.map(|s| s.describe())))
                    .collect::<Result<StringArray>>()?,
            ),
            Operation::GetN => Arc::new(
                (0..rows)
                    .map(|r| Ok(sketch(r)?.map(|s| s.n as i64)))
                    .collect::<Result<Int64Array>>()?,
            ),
            Operation::Merge => {
                let Some(others) = arrays.get(1).and_then(|a| a.as_binary_opt::<i32>()) else {
                    return exec_err!("{} takes two sketches", self.name);
                };
                let mut merged: Vec<Option<Vec<u8>>> = Vec::with_capacity(rows);
                for r in 0..rows {
                    merged.push(match (sketch(r)?, others.is_valid(r)) {
                        (Some(mut s), true) => {
                            s.merge(&Kll::from_bytes(others.value(r), self.kind)?)?;
                            Some(s.to_bytes())
                        }
                        _ => None,
                    });
                }
                Arc::new(BinaryArray::from_iter(merged))
            }
            Operation::Quantile | Operation::Rank => {
                let Some(arguments) = arrays.get(1) else {
                    return exec_err!("{} takes a sketch and a rank or value", self.name);
                };
                self.lookups(rows, &sketch, arguments)?
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

impl KllScalar {
    /// Quantiles at ranks, or ranks of values: one per row, or a list per row when
    /// the argument is an array.
    fn lookups(
        &self,
        rows: usize,
        sketch: &dyn Fn(usize) -> Result<Option<Kll>>,
        arguments: &ArrayRef,
    ) -> Result<ArrayRef> {
        let list = arguments.as_list_opt::<i32>();
        let flat: ArrayRef = match list {
            Some(l) => Arc::clone(l.values()),
            None => Arc::clone(arguments),
        };
        let ranks = cast(&flat, &DataType::Float64)?;
        let ranks = ranks.as_primitive::<Float64Type>();
        let points = values_of(&flat, self.kind)?;
        let mut results: Vec<Option<f64>> = Vec::new();
        let mut longs: Vec<Option<i64>> = Vec::new();
        let mut offsets = vec![0i32];
        for r in 0..rows {
            let s = sketch(r)?;
            let range = match list {
                Some(l) => {
                    let o = l.value_offsets();
                    o[r] as usize..o[r + 1] as usize
                }
                None => r..r + 1,
            };
            for i in range.clone() {
                let (value, long) = match (&s, self.operation) {
                    (Some(s), Operation::Quantile) if ranks.is_valid(i) => {
                        match s.quantile(ranks.value(i))? {
                            Some(Value::Long(v)) => (Some(v as f64), Some(v)),
                            Some(Value::Real(v)) => (Some(v), None),
                            None => (None, None),
                        }
                    }
                    (Some(s), Operation::Rank) => match points[i] {
                        Some(p) => (s.rank(p), None),
                        None => (None, None),
                    },
                    _ => (None, None),
                };
                results.push(value);
                longs.push(long);
            }
            offsets.push(offsets[r] + range.len() as i32);
        }
        let values: ArrayRef = match (self.operation, self.kind) {
            (Operation::Quantile, Kind::Bigint) => Arc::new(Int64Array::from(longs)),
            (Operation::Quantile, Kind::Float) => Arc::new(Float32Array::from(
                results
                    .iter()
                    .map(|v| v.map(|x| x as f32))
                    .collect::<Vec<_>>(),
            )),
            _ => Arc::new(Float64Array::from(results)),
        };
        Ok(match list {
            Some(l) => Arc::new(ListArray::try_new(
                Arc::new(Field::new_list_field(values.data_type().clone(), true)),
                arrow::buffer::OffsetBuffer::new(offsets.into()),
                values,
                l.nulls().cloned(),
            )?),
            None => values,
        })
    }
}

/// The aggregate functions, ready to register.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    let mut out = Vec::new();
    for kind in [Kind::Bigint, Kind::Float, Kind::Double] {
        for merge in [false, true] {
            let name = if merge {
                format!("kll_merge_agg_{}", kind.suffix())
            } else {
                format!("kll_sketch_agg_{}", kind.suffix())
            };
            out.push(Arc::new(AggregateUDF::from(KllAggregate {
                kind,
                merge,
                name,
                signature: Signature::variadic_any(Volatility::Immutable),
            })));
        }
    }
    out
}

/// The scalar functions, ready to register.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    let mut out = Vec::new();
    for kind in [Kind::Bigint, Kind::Float, Kind::Double] {
        for (operation, prefix) in [
            (Operation::ToString, "kll_sketch_to_string"),
            (Operation::GetN, "kll_sketch_get_n"),
            (Operation::Merge, "kll_sketch_merge"),
            (Operation::Quantile, "kll_sketch_get_quantile"),
            (Operation::Rank, "kll_sketch_get_rank"),
        ] {
            out.push(Arc::new(ScalarUDF::from(KllScalar {
                kind,
                operation,
                name: format!("{prefix}_{}", kind.suffix()),
                signature: Signature::variadic_any(Volatility::Immutable),
            })));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_when_small_and_close_when_large() {
        let mut s = Kll::new(Kind::Bigint, 200).unwrap();
        for v in 1..=5 {
            s.add(Value::Long(v));
        }
        assert_eq!(s.quantile(0.5).unwrap(), Some(Value::Long(3)));
        assert_eq!(s.rank(Value::Long(3)), Some(0.6));
        let back = Kll::from_bytes(&s.to_bytes(), Kind::Bigint).unwrap();
        assert_eq!(back, s);
        let mut big = Kll::new(Kind::Double, 200).unwrap();
        for v in 0..100_000 {
            big.add(Value::Real(f64::from(v)));
        }
        assert!(big.retained() < 1_000, "{}", big.retained());
        let Some(Value::Real(median)) = big.quantile(0.5).unwrap() else {
            panic!("no median");
        };
        assert!((47_000.0..=53_000.0).contains(&median), "{median}");
        let mut other = big.clone();
        other.merge(&big).unwrap();
        assert_eq!(other.n, 200_000);
    }
}
