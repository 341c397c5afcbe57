//! Arrow on the Spark Connect wire: result batches as Arrow IPC streams, local
//! relations from IPC.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::StreamWriter;

use crate::error::{ConnectError, Result};

/// Largest Arrow payload put in one response; bigger batches are split by rows.
pub const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;

/// Encodes `batch` as one Arrow IPC stream (schema message, one record batch).
pub fn batch_to_ipc(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    let mut writer = StreamWriter::try_new(&mut out, batch.schema_ref())
        .map_err(|e| ConnectError::Internal(format!("encoding results: {e}")))?;
    writer
        .write(batch)
        .and_then(|_| writer.finish())
        .map_err(|e| ConnectError::Internal(format!("encoding results: {e}")))?;
    drop(writer);
    Ok(out)
}

/// Encodes batches as one Arrow IPC stream (a command's result as a local relation).
pub fn batches_to_ipc(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let fail =
        |e: arrow::error::ArrowError| ConnectError::Internal(format!("encoding results: {e}"));
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, schema).map_err(fail)?;
    for batch in batches {
        writer.write(batch).map_err(fail)?;
    }
    writer.finish().map_err(fail)?;
    drop(writer);
    Ok(out)
}

/// Splits a batch into pieces of at most about [`MAX_BATCH_BYTES`].
pub fn split_batch(batch: RecordBatch) -> Vec<RecordBatch> {
    let size = batch.get_array_memory_size();
    let rows = batch.num_rows();
    if size <= MAX_BATCH_BYTES || rows <= 1 {
        return vec![batch];
    }
    let pieces = size.div_ceil(MAX_BATCH_BYTES).min(rows);
    let per_piece = rows.div_ceil(pieces);
    (0..rows)
        .step_by(per_piece)
        .map(|start| batch.slice(start, per_piece.min(rows - start)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType as ArrowType, Field, Schema};
    use sparkling_engine::bind::ipc_to_batches;
    use std::sync::Arc;

    #[test]
    fn ipc_round_trip_and_split() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", ArrowType::Int64, false),
            Field::new("s", ArrowType::Utf8, true),
        ]));
        let n = 300_000;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("row {i}")),
                )),
            ],
        )
        .unwrap();
        let pieces = split_batch(batch.clone());
        assert!(pieces.len() > 1);
        assert_eq!(
            pieces.iter().map(|b| b.num_rows()).sum::<usize>(),
            n as usize
        );
        let ipc = batch_to_ipc(&pieces[0]).unwrap();
        let (back_schema, back) = ipc_to_batches(&ipc).unwrap();
        assert_eq!(back_schema, schema);
        assert_eq!(back[0], pieces[0]);
        assert!(ipc_to_batches(b"not arrow").is_err());
    }
}
