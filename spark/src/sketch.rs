//! Spark's distinct-count sketches: HyperLogLog (`hll_sketch_agg`, `hll_union_agg`,
//! `hll_union`, `hll_sketch_estimate`) and theta sketches (`theta_sketch_agg`,
//! `theta_union_agg`, `theta_intersection_agg`, `theta_union`, `theta_intersection`,
//! `theta_difference`, `theta_sketch_estimate`).
//!
//! Both are real sketches with bounded memory: HyperLogLog keeps `2^lgConfigK`
//! one-byte registers, the theta sketch the `2^lgNomEntries` smallest value hashes
//! (exact below that many distinct values). Values hash as `xxhash64` does. The bytes
//! are Sparkling's own layout, not Apache DataSketches': a sketch made here is read
//! here (estimates, unions), not by Spark.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, Int64Array};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;

/// A sketch's first byte: which kind it is.
const HLL_TAG: u8 = b'H';
const THETA_TAG: u8 = b'T';
/// Spark's default `lgConfigK` and `lgNomEntries`.
const DEFAULT_LG: u8 = 12;

/// A HyperLogLog sketch: `2^lg` registers, each the longest run of leading zeros seen.
#[derive(Debug, Clone, PartialEq)]
struct Hll {
    lg: u8,
    registers: Vec<u8>,
}

impl Hll {
    fn new(lg: u8) -> Result<Self> {
        if !(4..=21).contains(&lg) {
            return exec_err!("lgConfigK must be between 4 and 21, not {lg}");
        }
        Ok(Self {
            lg,
            registers: vec![0; 1 << lg],
        })
    }

    fn add(&mut self, hash: u64) {
        let index = (hash >> (64 - self.lg)) as usize;
        let rest = hash << self.lg;
        let rank = (rest.leading_zeros() as u8 + 1).min(64 - self.lg + 1);
        if rank > self.registers[index] {
            self.registers[index] = rank;
        }
    }

    fn merge(&mut self, other: &Hll, allow_different: bool) -> Result<()> {
        if other.lg != self.lg {
            if !allow_different {
                return exec_err!(
                    "[HLL_UNION_DIFFERENT_LG_K] sketches have different lgConfigK values: {} and {}",
                    self.lg,
                    other.lg
                );
            }
            let lg = self.lg.min(other.lg);
            *self = self.folded(lg);
            let other = other.folded(lg);
            return self.merge(&other, false);
        }
        for (a, b) in self.registers.iter_mut().zip(&other.registers) {
            *a = (*a).max(*b);
        }
        Ok(())
    }

    /// The same sketch with fewer registers (each takes the largest rank of those it
    /// covers, its bits shifted into the rank).
    fn folded(&self, lg: u8) -> Hll {
        if lg >= self.lg {
            return self.clone();
        }
        let shift = self.lg - lg;
        let mut out = vec![0u8; 1 << lg];
        for (i, &r) in self.registers.iter().enumerate() {
            if r == 0 {
                continue;
            }
            let target = i >> shift;
            // The dropped index bits become leading bits of the rest.
            let low = (i & ((1 << shift) - 1)) as u64;
            let rank = if low == 0 {
                r + shift
            } else {
                (low.leading_zeros() as u8) - (64 - shift) + 1
            };
            out[target] = out[target].max(rank);
        }
        Hll { lg, registers: out }
    }

    fn estimate(&self) -> i64 {
        let m = self.registers.len() as f64;
        let alpha = match self.registers.len() {
            16 => 0.673,
            32 => 0.697,
            64 => 0.709,
            _ => 0.7213 / (1.0 + 1.079 / m),
        };
        let sum: f64 = self
            .registers
            .iter()
            .map(|&r| 2f64.powi(-i32::from(r)))
            .sum();
        let raw = alpha * m * m / sum;
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        estimate.round() as i64
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.registers.len());
        out.push(HLL_TAG);
        out.push(self.lg);
        out.extend_from_slice(&self.registers);
        out
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match bytes {
            [HLL_TAG, lg, registers @ ..]
                if (4..=21).contains(lg) && registers.len() == 1 << lg =>
            {
                Ok(Self {
                    lg: *lg,
                    registers: registers.to_vec(),
                })
            }
            _ => exec_err!("[HLL_INVALID_INPUT_SKETCH_BUFFER] not a HyperLogLog sketch"),
        }
    }
}

/// A theta sketch: the smallest hashes below `theta`, at most `2^lg` of them.
#[derive(Debug, Clone, PartialEq)]
struct Theta {
    lg: u8,
    theta: u64,
    hashes: BTreeSet<u64>,
}

impl Theta {
    fn new(lg: u8) -> Result<Self> {
        if !(4..=26).contains(&lg) {
            return exec_err!("lgNomEntries must be between 4 and 26, not {lg}");
        }
        Ok(Self {
            lg,
            theta: u64::MAX,
            hashes: BTreeSet::new(),
        })
    }

    fn add(&mut self, hash: u64) {
        if hash < self.theta {
            self.hashes.insert(hash);
            self.trim();
        }
    }

    /// Keeps the nominal number of hashes; the first one dropped is the new theta.
    fn trim(&mut self) {
        while self.hashes.len() > 1 << self.lg {
            if let Some(largest) = self.hashes.pop_last() {
                self.theta = largest;
            }
        }
    }

    fn union(&mut self, other: &Theta) {
        self.theta = self.theta.min(other.theta);
        let theta = self.theta;
        self.hashes.retain(|h| *h < theta);
        self.hashes
            .extend(other.hashes.iter().copied().filter(|h| *h < theta));
        self.trim();
    }

    fn intersection(&self, other: &Theta) -> Theta {
        let theta = self.theta.min(other.theta);
        Theta {
            lg: self.lg.max(other.lg),
            theta,
            hashes: self
                .hashes
                .iter()
                .copied()
                .filter(|h| *h < theta && other.hashes.contains(h))
                .collect(),
        }
    }

    fn difference(&self, other: &Theta) -> Theta {
        let theta = self.theta.min(other.theta);
        Theta {
            lg: self.lg,
            theta,
            hashes: self
                .hashes
                .iter()
                .copied()
                .filter(|h| *h < theta && !other.hashes.contains(h))
                .collect(),
        }
    }

    fn estimate(&self) -> i64 {
        if self.theta == u64::MAX {
            return self.hashes.len() as i64;
        }
        let fraction = self.theta as f64 / u64::MAX as f64;
        (self.hashes.len() as f64 / fraction).round() as i64
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + 8 * self.hashes.len());
        out.push(THETA_TAG);
        out.push(self.lg);
        out.extend_from_slice(&self.theta.to_le_bytes());
        for h in &self.hashes {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let [THETA_TAG, lg, rest @ ..] = bytes else {
            return exec_err!("[THETA_INVALID_INPUT_SKETCH_BUFFER] not a theta sketch");
        };
        if rest.len() < 8 || (rest.len() - 8) % 8 != 0 || !(4..=26).contains(lg) {
            return exec_err!("[THETA_INVALID_INPUT_SKETCH_BUFFER] not a theta sketch");
        }
        let word = |b: &[u8]| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        Ok(Self {
            lg: *lg,
            theta: word(&rest[..8]),
            hashes: rest[8..].chunks_exact(8).map(word).collect(),
        })
    }
}

/// The hash a sketch counts for the value at `row` (`xxhash64` with seed 42).
fn value_hash(array: &dyn Array, row: usize) -> Result<u64> {
    Ok(crate::hash::xxhash64_of(array, row)? as u64)
}

/// Which aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Aggregate {
    HllBuild,
    HllUnion,
    ThetaBuild,
    ThetaUnion,
    ThetaIntersection,
}

impl Aggregate {
    fn name(self) -> &'static str {
        match self {
            Self::HllBuild => "hll_sketch_agg",
            Self::HllUnion => "hll_union_agg",
            Self::ThetaBuild => "theta_sketch_agg",
            Self::ThetaUnion => "theta_union_agg",
            Self::ThetaIntersection => "theta_intersection_agg",
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SketchAggregate {
    kind: Aggregate,
    signature: Signature,
}

/// The second argument's value, when it is a literal (`lgConfigK`, the union flag,
/// KLL's `k`).
pub(crate) fn literal_argument(args: &AccumulatorArgs<'_>) -> Option<ScalarValue> {
    args.exprs
        .get(1)
        .and_then(|e| e.as_any().downcast_ref::<Literal>())
        .map(|l| l.value().clone())
}

impl AggregateUDFImpl for SketchAggregate {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.kind.name()
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
        let second = literal_argument(&args);
        let lg = match (&second, self.kind) {
            (Some(v), Aggregate::HllBuild | Aggregate::ThetaBuild | Aggregate::ThetaUnion) => {
                match v.cast_to(&DataType::Int64)? {
                    ScalarValue::Int64(Some(n)) if (0..=255).contains(&n) => n as u8,
                    other => return plan_err!("{}: invalid size {other}", self.kind.name()),
                }
            }
            _ => DEFAULT_LG,
        };
        let allow_different = matches!(second, Some(ScalarValue::Boolean(Some(true))));
        let state = match self.kind {
            Aggregate::HllBuild | Aggregate::HllUnion => Sketch::Hll(None),
            _ => Sketch::Theta(None),
        };
        Ok(Box::new(SketchAccumulator {
            kind: self.kind,
            lg,
            allow_different,
            state,
        }))
    }
}

#[derive(Debug)]
enum Sketch {
    Hll(Option<Hll>),
    Theta(Option<Theta>),
}

#[derive(Debug)]
struct SketchAccumulator {
    kind: Aggregate,
    lg: u8,
    allow_different: bool,
    state: Sketch,
}

impl SketchAccumulator {
    fn merge_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.state {
            Sketch::Hll(slot) => {
                let other = Hll::from_bytes(bytes)?;
                match slot {
                    Some(h) => h.merge(&other, self.allow_different)?,
                    None => *slot = Some(other),
                }
            }
            Sketch::Theta(slot) => {
                let other = Theta::from_bytes(bytes)?;
                match slot {
                    Some(t) if self.kind == Aggregate::ThetaIntersection => {
                        *t = t.intersection(&other)
                    }
                    Some(t) => t.union(&other),
                    None => {
                        let mut first = other;
                        if self.kind == Aggregate::ThetaUnion {
                            first.lg = self.lg;
                            first.trim();
                        }
                        *slot = Some(first);
                    }
                }
            }
        }
        Ok(())
    }

    fn bytes(&self) -> Result<Option<Vec<u8>>> {
        Ok(match &self.state {
            Sketch::Hll(Some(h)) => Some(h.to_bytes()),
            Sketch::Theta(Some(t)) => Some(t.to_bytes()),
            Sketch::Hll(None) if self.kind == Aggregate::HllBuild => {
                Some(Hll::new(self.lg)?.to_bytes())
            }
            Sketch::Theta(None) if self.kind == Aggregate::ThetaBuild => {
                Some(Theta::new(self.lg)?.to_bytes())
            }
            _ => None,
        })
    }
}

impl Accumulator for SketchAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(input) = values.first() else {
            return Ok(());
        };
        match self.kind {
            Aggregate::HllBuild | Aggregate::ThetaBuild => {
                for row in 0..input.len() {
                    if input.is_null(row) {
                        continue;
                    }
                    let hash = value_hash(input.as_ref(), row)?;
                    match &mut self.state {
                        Sketch::Hll(slot) => {
                            if slot.is_none() {
                                *slot = Some(Hll::new(self.lg)?);
                            }
                            if let Some(h) = slot {
                                h.add(hash);
                            }
                        }
                        Sketch::Theta(slot) => {
                            if slot.is_none() {
                                *slot = Some(Theta::new(self.lg)?);
                            }
                            if let Some(t) = slot {
                                t.add(hash);
                            }
                        }
                    }
                }
                Ok(())
            }
            _ => self.merge_batch(values),
        }
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(sketches) = states.first() else {
            return Ok(());
        };
        let Some(sketches) = sketches.as_binary_opt::<i32>() else {
            return exec_err!("{} takes sketches (binary)", self.kind.name());
        };
        for row in 0..sketches.len() {
            if sketches.is_valid(row) {
                self.merge_bytes(sketches.value(row))?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(self.bytes()?)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(self.bytes()?))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + match &self.state {
                Sketch::Hll(Some(h)) => h.registers.len(),
                Sketch::Theta(Some(t)) => 16 * t.hashes.len(),
                _ => 0,
            }
    }
}

/// Which scalar function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scalar {
    HllEstimate,
    HllUnion,
    ThetaEstimate,
    ThetaUnion,
    ThetaIntersection,
    ThetaDifference,
}

impl Scalar {
    fn name(self) -> &'static str {
        match self {
            Self::HllEstimate => "hll_sketch_estimate",
            Self::HllUnion => "hll_union",
            Self::ThetaEstimate => "theta_sketch_estimate",
            Self::ThetaUnion => "theta_union",
            Self::ThetaIntersection => "theta_intersection",
            Self::ThetaDifference => "theta_difference",
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SketchScalar {
    kind: Scalar,
    signature: Signature,
}

impl ScalarUDFImpl for SketchScalar {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Scalar::HllEstimate | Scalar::ThetaEstimate => DataType::Int64,
            _ => DataType::Binary,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = crate::functions::argument_arrays(&args)?;
        let binary = |i: usize| -> Result<&BinaryArray> {
            match arrays.get(i).and_then(|a| a.as_binary_opt::<i32>()) {
                Some(b) => Ok(b),
                None => exec_err!("{} takes sketches (binary)", self.kind.name()),
            }
        };
        let first = binary(0)?;
        match self.kind {
            Scalar::HllEstimate | Scalar::ThetaEstimate => {
                let mut out = Vec::with_capacity(rows);
                for row in 0..rows {
                    out.push(if first.is_null(row) {
                        None
                    } else if self.kind == Scalar::HllEstimate {
                        Some(Hll::from_bytes(first.value(row))?.estimate())
                    } else {
                        Some(Theta::from_bytes(first.value(row))?.estimate())
                    });
                }
                Ok(ColumnarValue::Array(Arc::new(Int64Array::from(out))))
            }
            _ => {
                let second = binary(1)?;
                let option = arrays.get(2);
                let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(rows);
                for row in 0..rows {
                    if first.is_null(row) || second.is_null(row) {
                        out.push(None);
                        continue;
                    }
                    let (a, b) = (first.value(row), second.value(row));
                    out.push(Some(match self.kind {
                        Scalar::HllUnion => {
                            let allow = option
                                .and_then(|o| o.as_boolean_opt())
                                .is_some_and(|o| o.is_valid(row) && o.value(row));
                            let mut h = Hll::from_bytes(a)?;
                            h.merge(&Hll::from_bytes(b)?, allow)?;
                            h.to_bytes()
                        }
                        Scalar::ThetaUnion => {
                            let mut t = Theta::from_bytes(a)?;
                            if let Some(lg) = option
                                .and_then(|o| arrow::compute::cast(o, &DataType::Int64).ok())
                                .and_then(|o| {
                                    let o = o.as_primitive::<arrow::datatypes::Int64Type>();
                                    o.is_valid(row).then(|| o.value(row))
                                })
                            {
                                t.lg = lg.clamp(4, 26) as u8;
                            }
                            t.union(&Theta::from_bytes(b)?);
                            t.to_bytes()
                        }
                        Scalar::ThetaIntersection => Theta::from_bytes(a)?
                            .intersection(&Theta::from_bytes(b)?)
                            .to_bytes(),
                        _ => Theta::from_bytes(a)?
                            .difference(&Theta::from_bytes(b)?)
                            .to_bytes(),
                    }));
                }
                Ok(ColumnarValue::Array(Arc::new(BinaryArray::from_iter(out))))
            }
        }
    }
}

/// The aggregate functions, ready to register.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    [
        Aggregate::HllBuild,
        Aggregate::HllUnion,
        Aggregate::ThetaBuild,
        Aggregate::ThetaUnion,
        Aggregate::ThetaIntersection,
    ]
    .into_iter()
    .map(|kind| {
        Arc::new(AggregateUDF::from(SketchAggregate {
            kind,
            signature: Signature::variadic_any(Volatility::Immutable),
        }))
    })
    .collect()
}

/// The scalar functions, ready to register.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    [
        Scalar::HllEstimate,
        Scalar::HllUnion,
        Scalar::ThetaEstimate,
        Scalar::ThetaUnion,
        Scalar::ThetaIntersection,
        Scalar::ThetaDifference,
    ]
    .into_iter()
    .map(|kind| {
        Arc::new(ScalarUDF::from(SketchScalar {
            kind,
            signature: Signature::variadic_any(Volatility::Immutable),
        }))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_are_exact_and_unions_count_once() {
        let mut a = Hll::new(12).unwrap();
        let mut b = Hll::new(12).unwrap();
        let mut ta = Theta::new(12).unwrap();
        let mut tb = Theta::new(12).unwrap();
        for v in 0..1000u64 {
            let h = twox_hash::XxHash64::oneshot(42, &v.to_le_bytes());
            a.add(h);
            ta.add(h);
            if v >= 500 {
                let h2 = twox_hash::XxHash64::oneshot(42, &(v + 500).to_le_bytes());
                b.add(h2);
                tb.add(h2);
            }
        }
        let estimate = a.estimate();
        assert!((980..=1020).contains(&estimate), "{estimate}");
        a.merge(&b, false).unwrap();
        let union = a.estimate();
        assert!((1470..=1530).contains(&union), "{union}");
        assert_eq!(ta.estimate(), 1000);
        let both = ta.intersection(&tb);
        assert_eq!(both.estimate(), 0);
        ta.union(&tb);
        assert_eq!(ta.estimate(), 1500);
        assert_eq!(Hll::from_bytes(&a.to_bytes()).unwrap(), a);
        assert_eq!(Theta::from_bytes(&ta.to_bytes()).unwrap(), ta);
        // Past the nominal size the theta sketch estimates.
        let mut t = Theta::new(4).unwrap();
        for v in 0..10_000u64 {
            t.add(twox_hash::XxHash64::oneshot(42, &v.to_le_bytes()));
        }
        let e = t.estimate();
        assert!((5_000..=20_000).contains(&e), "{e}");
    }
}
