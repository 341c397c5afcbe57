//! Sends the responses of one `ExecutePlan` operation: Arrow batches (each a complete
//! IPC stream, the first carrying the Spark schema), command results, `ResultComplete`.

use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use sparkling_proto::spark::{ExecutePlanResponse, execute_plan_response};
use tokio::sync::{mpsc, watch};
use tonic::Status;

use crate::arrow::{batch_to_ipc, split_batch};
use crate::error::{ConnectError, Result};
use sparkling_engine::error::is_interrupted;
use sparkling_spark::types::spark_schema;

/// Sends the responses of one operation.
pub(crate) struct Responder {
    pub session_id: String,
    pub server_side_session_id: String,
    pub operation_id: String,
    pub tx: mpsc::Sender<Result<ExecutePlanResponse, Status>>,
}

/// The client went away; stop producing.
pub(crate) struct Disconnected;

impl Responder {
    pub fn response(
        &self,
        response_type: execute_plan_response::ResponseType,
    ) -> ExecutePlanResponse {
        ExecutePlanResponse {
            session_id: self.session_id.clone(),
            server_side_session_id: self.server_side_session_id.clone(),
            operation_id: self.operation_id.clone(),
            response_id: uuid::Uuid::new_v4().to_string(),
            response_type: Some(response_type),
            ..Default::default()
        }
    }

    /// A response carrying an observation's metrics (`df.observe`).
    pub fn observed(&self, metrics: execute_plan_response::ObservedMetrics) -> ExecutePlanResponse {
        ExecutePlanResponse {
            session_id: self.session_id.clone(),
            server_side_session_id: self.server_side_session_id.clone(),
            operation_id: self.operation_id.clone(),
            response_id: uuid::Uuid::new_v4().to_string(),
            observed_metrics: vec![metrics],
            ..Default::default()
        }
    }

    pub async fn send(&self, response: ExecutePlanResponse) -> Result<(), Disconnected> {
        self.tx.send(Ok(response)).await.map_err(|_| Disconnected)
    }

    /// Streams a result: one response per Arrow batch (at least one, so the client
    /// learns the schema of an empty result), each a complete IPC stream.
    pub async fn send_results(
        &self,
        mut stream: SendableRecordBatchStream,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<Result<()>, Disconnected> {
        let schema = stream.schema();
        let mut offset: i64 = 0;
        let mut first = true;
        while let Some(batch) = stream.next().await {
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) if *interrupted.borrow() || is_interrupted(&e) => {
                    return Ok(Err(ConnectError::Cancelled("operation interrupted".into())));
                }
                Err(e) => return Ok(Err(e.into())),
            };
            // Types PySpark cannot read (unsigned integers, string views) as the ones
            // it can.
            let batch = match sparkling_spark::types::client_batch(batch) {
                Ok(batch) => batch,
                Err(e) => return Ok(Err(e.into())),
            };
            for piece in split_batch(batch) {
                if piece.num_rows() == 0 && !first {
                    continue;
                }
                let data = match batch_to_ipc(&piece) {
                    Ok(data) => data,
                    Err(e) => return Ok(Err(e)),
                };
                let rows = piece.num_rows() as i64;
                let mut response = self.response(execute_plan_response::ResponseType::ArrowBatch(
                    execute_plan_response::ArrowBatch {
                        row_count: rows,
                        data: data.into(),
                        start_offset: Some(offset),
                        ..Default::default()
                    },
                ));
                if first {
                    response.schema = Some(spark_schema(&schema));
                    first = false;
                }
                offset += rows;
                self.send(response).await?;
            }
        }
        if first {
            let empty = sparkling_spark::types::client_batch(arrow::array::RecordBatch::new_empty(
                schema.clone(),
            ));
            let data = match empty.map_err(Into::into).and_then(|e| batch_to_ipc(&e)) {
                Ok(data) => data,
                Err(e) => return Ok(Err(e)),
            };
            let mut response = self.response(execute_plan_response::ResponseType::ArrowBatch(
                execute_plan_response::ArrowBatch {
                    row_count: 0,
                    data: data.into(),
                    start_offset: Some(0),
                    ..Default::default()
                },
            ));
            response.schema = Some(spark_schema(&schema));
            self.send(response).await?;
        }
        Ok(Ok(()))
    }

    pub async fn complete(&self) -> Result<(), Disconnected> {
        self.send(
            self.response(execute_plan_response::ResponseType::ResultComplete(
                execute_plan_response::ResultComplete {},
            )),
        )
        .await
    }
}
