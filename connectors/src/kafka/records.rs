//! Kafka records as Arrow rows, in Spark's record schema: `key binary, value binary,
//! topic string, partition int, offset long, timestamp timestamp, timestampType int`
//! and, on request, `headers array<struct<key string, value binary>>`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, Int32Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
    StructBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::common::Result;
use rdkafka::Message;
use rdkafka::message::{Headers, Timestamp};

fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Binary, true),
    ])
}

fn headers_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(header_fields()),
        true,
    )))
}

/// The record schema (with `headers` when `include_headers`).
pub fn record_schema(include_headers: bool) -> SchemaRef {
    let mut fields = vec![
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("timestampType", DataType::Int32, false),
    ];
    if include_headers {
        fields.push(Field::new("headers", headers_type(), true));
    }
    Arc::new(Schema::new(fields))
}

/// Accumulates records into a batch.
pub struct RecordsBuilder {
    schema: SchemaRef,
    key: BinaryBuilder,
    value: BinaryBuilder,
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    timestamp: TimestampMicrosecondBuilder,
    timestamp_type: Int32Builder,
    headers: Option<ListBuilder<StructBuilder>>,
    rows: usize,
}

impl RecordsBuilder {
    /// An empty builder.
    pub fn new(include_headers: bool) -> Self {
        Self {
            schema: record_schema(include_headers),
            key: BinaryBuilder::new(),
            value: BinaryBuilder::new(),
            topic: StringBuilder::new(),
            partition: Int32Builder::new(),
            offset: Int64Builder::new(),
            timestamp: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            timestamp_type: Int32Builder::new(),
            headers: include_headers.then(|| {
                ListBuilder::new(StructBuilder::from_fields(header_fields(), 0))
                    .with_field(Field::new("item", DataType::Struct(header_fields()), true))
            }),
            rows: 0,
        }
    }

    /// Records so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Adds one record.
    #[allow(
        clippy::expect_used,
        reason = "the header entries' builders are made in `new` as a string and a binary builder"
    )]
    pub fn append<M: Message>(&mut self, m: &M) {
        self.key.append_option(m.key());
        self.value.append_option(m.payload());
        self.topic.append_value(m.topic());
        self.partition.append_value(m.partition());
        self.offset.append_value(m.offset());
        let (micros, kind) = match m.timestamp() {
            Timestamp::NotAvailable => (None, -1),
            Timestamp::CreateTime(ms) => (ms.checked_mul(1000), 0),
            Timestamp::LogAppendTime(ms) => (ms.checked_mul(1000), 1),
        };
        self.timestamp.append_option(micros);
        self.timestamp_type.append_value(kind);
        if let Some(list) = &mut self.headers {
            if let Some(headers) = m.headers() {
                let entries = list.values();
                for h in headers.iter() {
                    entries
                        .field_builder::<StringBuilder>(0)
                        .expect("header key builder")
                        .append_value(h.key);
                    entries
                        .field_builder::<BinaryBuilder>(1)
                        .expect("header value builder")
                        .append_option(h.value);
                    entries.append(true);
                }
            }
            list.append(true);
        }
        self.rows += 1;
    }

    /// The batch of the records added since the last call.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.key.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.topic.finish()),
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.timestamp_type.finish()),
        ];
        if let Some(list) = &mut self.headers {
            columns.push(Arc::new(list.finish()));
        }
        self.rows = 0;
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}
