//! `spark_hash(col, ...)` and `spark_xxhash64(col, ...)`: Spark's `hash()` (the
//! 32-bit Murmur3 x86 hash) and `xxhash64()` of the values with seed 42, chained over
//! the columns (each column's hash is the seed of the next; a NULL leaves it as it
//! was), with Spark's encoding of each type, so rows hash to the same numbers as on
//! Spark (bucketing and sampling by hash agree).

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, Int64Array};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The names plans use.
pub const HASH: &str = "spark_hash";
/// See [`HASH`].
pub const XXHASH64: &str = "spark_xxhash64";

/// Spark's seed for `hash()`.
const SEED: i32 = 42;

/// The functions, ready to register.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(SparkHash {
            algorithm: Algorithm::Murmur3,
            signature: Signature::variadic_any(Volatility::Immutable),
            aliases: vec!["hash".to_string()],
        })),
        Arc::new(ScalarUDF::from(SparkHash {
            algorithm: Algorithm::XxHash64,
            signature: Signature::variadic_any(Volatility::Immutable),
            aliases: vec!["xxhash64".to_string()],
        })),
    ]
}

/// Which of Spark's hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Algorithm {
    Murmur3,
    XxHash64,
}

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkHash {
    algorithm: Algorithm,
    signature: Signature,
    aliases: Vec<String>,
}

impl ScalarUDFImpl for SparkHash {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        match self.algorithm {
            Algorithm::Murmur3 => HASH,
            Algorithm::XxHash64 => XXHASH64,
        }
    }

    fn aliases(&self) -> &[String] {
        // SQL text calls it by Spark's name.
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.algorithm {
            Algorithm::Murmur3 => DataType::Int32,
            Algorithm::XxHash64 => DataType::Int64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let columns = crate::functions::argument_arrays(&args)?;
        Ok(ColumnarValue::Array(match self.algorithm {
            Algorithm::Murmur3 => Arc::new(Int32Array::from(hash_rows::<Murmur3>(&columns, rows)?)),
            Algorithm::XxHash64 => {
                Arc::new(Int64Array::from(hash_rows::<XxHash64>(&columns, rows)?))
            }
        }))
    }
}

/// Each row's hash, chained over the columns from seed 42.
fn hash_rows<H: SparkHasher>(columns: &[ArrayRef], rows: usize) -> Result<Vec<H::Hash>> {
    let mut out = Vec::with_capacity(rows);
    for row in 0..rows {
        let mut h = H::SEED;
        for c in columns {
            h = hash_value::<H>(c.as_ref(), row, h)?;
        }
        out.push(h);
    }
    Ok(out)
}

/// Spark's `xxhash64` of the value at `row` of `array` alone (seed 42).
pub(crate) fn xxhash64_of(array: &dyn Array, row: usize) -> Result<i64> {
    hash_value::<XxHash64>(array, row, XxHash64::SEED)
}

/// A hash of Spark's: how it hashes 4 bytes, 8 bytes and a byte string.
trait SparkHasher {
    type Hash: Copy;
    const SEED: Self::Hash;
    fn int(value: i32, seed: Self::Hash) -> Self::Hash;
    fn long(value: i64, seed: Self::Hash) -> Self::Hash;
    fn bytes(bytes: &[u8], seed: Self::Hash) -> Self::Hash;
}

struct Murmur3;

impl SparkHasher for Murmur3 {
    type Hash = i32;
    const SEED: i32 = SEED;
    fn int(value: i32, seed: i32) -> i32 {
        hash_int(value, seed)
    }
    fn long(value: i64, seed: i32) -> i32 {
        hash_long(value, seed)
    }
    fn bytes(bytes: &[u8], seed: i32) -> i32 {
        hash_bytes(bytes, seed)
    }
}

/// Spark's XXH64 is the standard one over the values' little-endian bytes.
struct XxHash64;

impl SparkHasher for XxHash64 {
    type Hash = i64;
    const SEED: i64 = SEED as i64;
    fn int(value: i32, seed: i64) -> i64 {
        Self::bytes(&value.to_le_bytes(), seed)
    }
    fn long(value: i64, seed: i64) -> i64 {
        Self::bytes(&value.to_le_bytes(), seed)
    }
    fn bytes(bytes: &[u8], seed: i64) -> i64 {
        twox_hash::XxHash64::oneshot(seed as u64, bytes) as i64
    }
}

fn mix_k1(k1: i32) -> i32 {
    k1.wrapping_mul(0xcc9e2d51_u32 as i32)
        .rotate_left(15)
        .wrapping_mul(0x1b873593)
}

fn mix_h1(h1: i32, k1: i32) -> i32 {
    (h1 ^ k1)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe6546b64_u32 as i32)
}

fn fmix(h1: i32, length: i32) -> i32 {
    let mut h = (h1 ^ length) as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85ebca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2ae35);
    h ^= h >> 16;
    h as i32
}

/// Murmur3 of a 4-byte value.
pub fn hash_int(value: i32, seed: i32) -> i32 {
    fmix(mix_h1(seed, mix_k1(value)), 4)
}

/// Murmur3 of an 8-byte value (low word first).
pub fn hash_long(value: i64, seed: i32) -> i32 {
    let low = value as i32;
    let high = (value >> 32) as i32;
    let h1 = mix_h1(mix_h1(seed, mix_k1(low)), mix_k1(high));
    fmix(h1, 8)
}

/// Spark's Murmur3 of bytes: whole little-endian words, then each remaining byte
/// (sign-extended) on its own.
pub fn hash_bytes(bytes: &[u8], seed: i32) -> i32 {
    let aligned = bytes.len() - bytes.len() % 4;
    let mut h1 = seed;
    for word in bytes[..aligned].chunks_exact(4) {
        let k = i32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        h1 = mix_h1(h1, mix_k1(k));
    }
    for &b in &bytes[aligned..] {
        h1 = mix_h1(h1, mix_k1(b as i8 as i32));
    }
    fmix(h1, bytes.len() as i32)
}

/// The running hash `seed` extended by the value at `row` of `array`.
fn hash_value<H: SparkHasher>(array: &dyn Array, row: usize, seed: H::Hash) -> Result<H::Hash> {
    if array.is_null(row) {
        return Ok(seed);
    }
    Ok(match array.data_type() {
        DataType::Boolean => H::int(i32::from(array.as_boolean().value(row)), seed),
        DataType::Int8 => H::int(array.as_primitive::<Int8Type>().value(row).into(), seed),
        DataType::Int16 => H::int(array.as_primitive::<Int16Type>().value(row).into(), seed),
        DataType::Int32 => H::int(array.as_primitive::<Int32Type>().value(row), seed),
        DataType::Int64 => H::long(array.as_primitive::<Int64Type>().value(row), seed),
        DataType::Float32 => {
            let v = array.as_primitive::<Float32Type>().value(row);
            // -0.0 hashes as 0.0; NaN as Java's canonical NaN.
            let bits = if v == 0.0 {
                0
            } else if v.is_nan() {
                0x7fc00000
            } else {
                v.to_bits() as i32
            };
            H::int(bits, seed)
        }
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(row);
            let bits = if v == 0.0 {
                0
            } else if v.is_nan() {
                0x7ff8000000000000
            } else {
                v.to_bits() as i64
            };
            H::long(bits, seed)
        }
        DataType::Date32 => H::int(array.as_primitive::<Date32Type>().value(row), seed),
        DataType::Timestamp(TimeUnit::Microsecond, _) => H::long(
            array.as_primitive::<TimestampMicrosecondType>().value(row),
            seed,
        ),
        DataType::Decimal128(precision, _) if *precision <= 18 => H::long(
            array.as_primitive::<Decimal128Type>().value(row) as i64,
            seed,
        ),
        DataType::Decimal128(..) => {
            // Java's BigInteger.toByteArray: big-endian two's complement, shortest.
            let v = array.as_primitive::<Decimal128Type>().value(row);
            let bytes = v.to_be_bytes();
            let mut start = 0;
            while start < 15
                && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
                    || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
            {
                start += 1;
            }
            H::bytes(&bytes[start..], seed)
        }
        DataType::Utf8 => H::bytes(array.as_string::<i32>().value(row).as_bytes(), seed),
        DataType::LargeUtf8 => H::bytes(array.as_string::<i64>().value(row).as_bytes(), seed),
        DataType::Utf8View => H::bytes(array.as_string_view().value(row).as_bytes(), seed),
        DataType::Binary => H::bytes(array.as_binary::<i32>().value(row), seed),
        DataType::LargeBinary => H::bytes(array.as_binary::<i64>().value(row), seed),
        DataType::BinaryView => H::bytes(array.as_binary_view().value(row), seed),
        DataType::List(_) => {
            let values = array.as_list::<i32>().value(row);
            let mut h = seed;
            for i in 0..values.len() {
                h = hash_value::<H>(values.as_ref(), i, h)?;
            }
            h
        }
        DataType::Struct(_) => {
            let s = array.as_struct();
            let mut h = seed;
            for c in s.columns() {
                h = hash_value::<H>(c.as_ref(), row, h)?;
            }
            h
        }
        DataType::Map(..) => {
            let m = array.as_map();
            let entries = m.value(row);
            let mut h = seed;
            for i in 0..entries.len() {
                h = hash_value::<H>(entries.column(0).as_ref(), i, h)?;
                h = hash_value::<H>(entries.column(1).as_ref(), i, h)?;
            }
            h
        }
        other => return exec_err!("hash() does not take {other} values"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_values() {
        // SELECT hash('Spark', array(123), 2) in Spark's documentation.
        let seed = hash_bytes(b"Spark", SEED);
        let seed = hash_int(123, seed);
        assert_eq!(hash_int(2, seed), -1321691492);
        // SELECT xxhash64('Spark', array(123), 2) in Spark's documentation.
        let seed = XxHash64::bytes(b"Spark", 42);
        let seed = XxHash64::int(123, seed);
        assert_eq!(XxHash64::int(2, seed), 5602566077635097486);
    }
}
