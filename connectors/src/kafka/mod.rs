//! Kafka as a source, with Spark's options and record schema: [`options`] parses
//! them, [`offsets`] plans which offsets of which partitions a read covers and splits
//! them into tasks, [`micro_batch`] plans the next batch of a stream from the offsets
//! the last one committed, [`records`] turns records into Arrow rows, and [`scan`] is
//! the `read_kafka(...)` table and the executor node that reads one offset range per
//! task.

pub mod micro_batch;
pub mod offsets;
pub mod options;
pub mod records;
pub mod scan;

pub use offsets::OffsetRange;
pub use options::KafkaOptions;
pub use scan::{KafkaScanExec, KafkaScanSpec, KafkaTable, ReadKafkaFunction};
