//! Kafka as a source, with Spark's options and record schema: [`options`] parses
//! them, [`offsets`] plans which offsets of which partitions a read covers and splits
//! them into tasks, [`records`] turns records into Arrow rows, and [`scan`] is the
//! `read_kafka(...)` table and the executor node that reads one offset range per task.

pub mod offsets;
pub mod options;
pub mod records;
pub mod scan;

pub use offsets::OffsetRange;
pub use options::KafkaOptions;
pub use scan::{KafkaScanExec, KafkaScanSpec, KafkaTable, ReadKafkaFunction};
