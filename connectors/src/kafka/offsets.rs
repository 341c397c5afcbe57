//! Offset planning: which partitions a subscription names, where each read starts and
//! ends, and how the offset ranges are split into tasks.

use std::collections::BTreeMap;
use std::time::Duration;

use datafusion::common::{DataFusionError, Result, plan_err};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::{Deserialize, Serialize};

use super::options::{EARLIEST, KafkaOptions, LATEST, OffsetSpec, Subscription};

/// How long planning waits for the brokers.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// Offsets `[start, end)` of one topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetRange {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// First offset to read.
    pub start: i64,
    /// First offset not to read.
    pub end: i64,
}

impl OffsetRange {
    /// How many offsets the range spans.
    pub fn len(&self) -> i64 {
        self.end - self.start
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// A topic partition and the offsets its log holds now: `[low, high)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermarks {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The first offset still in the log.
    pub low: i64,
    /// The next offset to be written.
    pub high: i64,
}

/// librdkafka settings for Sparkling's consumers: the user's `kafka.*` options, no
/// consumer group commits (offsets are Sparkling's), end-of-partition events on.
pub fn consumer_config(client: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in client {
        config.set(k, v);
    }
    config
        .set(
            "group.id",
            format!("sparkling-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        // An offset gone from the log restarts at the earliest one, where the readers'
        // data-loss check sees the gap (the default, `largest`, would skip silently).
        .set("auto.offset.reset", "earliest");
    // Spark reads uncommitted records too; read_committed would end partitions at the
    // last stable offset, before the ends planned from the log.
    if !client.contains_key("isolation.level") {
        config.set("isolation.level", "read_uncommitted");
    }
    config
}

fn kafka_error(what: String) -> impl FnOnce(rdkafka::error::KafkaError) -> DataFusionError {
    move |e| DataFusionError::Execution(format!("{what}: {e}"))
}

/// The partitions `options` subscribe to, with their current watermarks. Blocks on
/// the brokers (call it from a blocking thread).
pub fn watermarks(options: &KafkaOptions) -> Result<Vec<Watermarks>> {
    let servers = options.bootstrap_servers().to_string();
    // One client answers metadata and offsets, and then fetches once for the ends
    // (`fetched_ends`), with a short fetch wait so that an empty partition answers
    // at once.
    let mut config = consumer_config(&options.client);
    config
        .set("fetch.wait.max.ms", "10")
        .set("queued.max.messages.kbytes", "1024")
        // Streaming queries ask often; reaching an end is not news here.
        .set("enable.partition.eof", "false");
    let consumer: BaseConsumer = config.create().map_err(kafka_error(format!(
        "cannot create a Kafka client for {servers}"
    )))?;
    let metadata = consumer
        .fetch_metadata(None, METADATA_TIMEOUT)
        .map_err(kafka_error(format!(
            "cannot read topic metadata from the Kafka brokers at {servers}"
        )))?;
    let topics: BTreeMap<&str, Vec<i32>> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name(), t.partitions().iter().map(|p| p.id()).collect()))
        .collect();
    let wanted: Vec<(String, i32)> = match &options.subscription {
        Subscription::Topics(names) => {
            let mut out = Vec::new();
            for name in names {
                let Some(partitions) = topics.get(name.as_str()) else {
                    return plan_err!("Kafka topic '{name}' does not exist at {servers}");
                };
                out.extend(partitions.iter().map(|p| (name.clone(), *p)));
            }
            out
        }
        Subscription::Pattern(pattern) => {
            let re = regex::Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| DataFusionError::Plan(format!("subscribePattern: {e}")))?;
            topics
                .iter()
                .filter(|(name, _)| re.is_match(name) && !name.starts_with("__"))
                .flat_map(|(name, ps)| ps.iter().map(|p| (name.to_string(), *p)))
                .collect()
        }
        Subscription::Partitions(assign) => {
            let mut out = Vec::new();
            for (name, partitions) in assign {
                let Some(existing) = topics.get(name.as_str()) else {
                    return plan_err!("Kafka topic '{name}' does not exist at {servers}");
                };
                for p in partitions {
                    if !existing.contains(p) {
                        return plan_err!(
                            "Kafka topic '{name}' has no partition {p} (it has {existing:?})"
                        );
                    }
                    out.push((name.clone(), *p));
                }
            }
            out
        }
    };
    let mut found = wanted
        .into_iter()
        .map(|(topic, partition)| {
            let (low, high) = consumer
                .fetch_watermarks(&topic, partition, METADATA_TIMEOUT)
                .map_err(kafka_error(format!(
                    "cannot read the offsets of {topic}-{partition}"
                )))?;
            Ok(Watermarks {
                topic,
                partition,
                low,
                high,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    fetched_ends(options, &consumer, &mut found)?;
    Ok(found)
}

/// Sets each partition's `high` to the end of its log as fetch responses state it.
///
/// Kafka answers ListOffsets(latest) with the same offset, but tansu 0.6 (the broker
/// the tests run) answers it with the base offset of its newest record batch, which
/// would silently cut reads short. A fetch response's high watermark is right on
/// both, so one consumer fetches once from every partition and the ends are read
/// from librdkafka's cache of them.
fn fetched_ends(
    options: &KafkaOptions,
    consumer: &BaseConsumer,
    partitions: &mut [Watermarks],
) -> Result<()> {
    if partitions.is_empty() {
        return Ok(());
    }
    let mut assignment = rdkafka::TopicPartitionList::new();
    for w in partitions.iter() {
        assignment
            // Near the end: the response carries the high watermark either way, and
            // little data comes with it.
            .add_partition_offset(
                &w.topic,
                w.partition,
                rdkafka::Offset::Offset(w.low.max(w.high - 1)),
            )
            .map_err(kafka_error(format!(
                "cannot assign {}-{}",
                w.topic, w.partition
            )))?;
    }
    consumer
        .assign(&assignment)
        .map_err(kafka_error("cannot assign partitions".to_string()))?;
    let topics: Vec<std::ffi::CString> = partitions
        .iter()
        .map(|w| std::ffi::CString::new(w.topic.as_str()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| DataFusionError::Plan(format!("invalid topic name: {e}")))?;
    let deadline = std::time::Instant::now() + METADATA_TIMEOUT;
    let mut known = vec![false; partitions.len()];
    loop {
        for (i, w) in partitions.iter_mut().enumerate() {
            if known[i] {
                continue;
            }
            let (mut low, mut high) = (-1i64, -1i64);
            // SAFETY: the client pointer is valid while `consumer` lives, the topic is
            // a NUL-terminated string, and librdkafka only writes the two offsets.
            let err = unsafe {
                rdkafka::bindings::rd_kafka_get_watermark_offsets(
                    consumer.client().native_ptr(),
                    topics[i].as_ptr(),
                    w.partition,
                    &mut low,
                    &mut high,
                )
            };
            if err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                && high >= 0
            {
                w.high = high;
                known[i] = true;
            }
        }
        if known.iter().all(|k| *k) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return plan_err!(
                "the Kafka brokers at {} did not answer a fetch within {} s",
                options.bootstrap_servers(),
                METADATA_TIMEOUT.as_secs()
            );
        }
        if let Some(Err(e)) = consumer.poll(Duration::from_millis(20))
            && !matches!(e, rdkafka::error::KafkaError::PartitionEOF(_))
        {
            return Err(DataFusionError::Execution(format!(
                "reading from the Kafka brokers at {}: {e}",
                options.bootstrap_servers()
            )));
        }
    }
}

/// The offset `spec` names for one partition (`default` where it names none).
fn resolve(spec: &OffsetSpec, w: &Watermarks, default: i64) -> i64 {
    let marker = match spec {
        OffsetSpec::Earliest => EARLIEST,
        OffsetSpec::Latest => LATEST,
        OffsetSpec::Specific(map) => map
            .get(&w.topic)
            .and_then(|p| p.get(&w.partition))
            .copied()
            .unwrap_or(default),
    };
    match marker {
        EARLIEST => w.low,
        LATEST => w.high,
        offset => offset,
    }
}

/// The ranges a batch read covers: from `starting` (default: earliest) to `ending`,
/// per partition. Offsets no longer in the log are an error when `fail_on_data_loss`,
/// and are skipped otherwise (as in Spark).
pub fn batch_ranges(
    partitions: &[Watermarks],
    starting: Option<&OffsetSpec>,
    ending: &OffsetSpec,
    fail_on_data_loss: bool,
) -> Result<Vec<OffsetRange>> {
    let mut out = Vec::new();
    for w in partitions {
        let mut start = match starting {
            Some(spec) => resolve(spec, w, EARLIEST),
            None => w.low,
        };
        let end = resolve(ending, w, LATEST);
        if start < w.low {
            if fail_on_data_loss {
                return Err(data_loss(w, start));
            }
            start = w.low;
        }
        if end > w.high {
            return plan_err!(
                "endingOffsets {end} for {}-{} is beyond the end of the log ({})",
                w.topic,
                w.partition,
                w.high
            );
        }
        if end < start {
            return plan_err!(
                "for {}-{} the ending offset {end} is before the starting offset {start}",
                w.topic,
                w.partition
            );
        }
        let range = OffsetRange {
            topic: w.topic.clone(),
            partition: w.partition,
            start,
            end,
        };
        if !range.is_empty() {
            out.push(range);
        }
    }
    Ok(out)
}

/// Spark's data-loss error.
pub fn data_loss(w: &Watermarks, offset: i64) -> DataFusionError {
    DataFusionError::Execution(format!(
        "Some data may have been lost because offsets {offset}..{} of {}-{} are not \
         available in Kafka any more (the log starts at {}). If you want to skip them, \
         set the option failOnDataLoss to false.",
        w.low, w.topic, w.partition, w.low
    ))
}

/// The tasks of a read: one per range, with the largest ranges split until there are
/// at least `min_tasks` (Spark's `minPartitions`).
pub fn split_ranges(mut ranges: Vec<OffsetRange>, min_tasks: Option<usize>) -> Vec<OffsetRange> {
    let Some(min_tasks) = min_tasks else {
        return ranges;
    };
    let total: i64 = ranges.iter().map(OffsetRange::len).sum();
    if ranges.len() >= min_tasks || total == 0 {
        return ranges;
    }
    // Each range gets pieces in proportion to its size (at least one, at most one per
    // offset), as in Spark's KafkaOffsetRangeCalculator, but rounded up so that there
    // are never fewer tasks than asked for.
    let mut out = Vec::with_capacity(min_tasks.min(total as usize));
    ranges.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    for range in ranges {
        let share = (range.len() as f64 / total as f64 * min_tasks as f64).ceil() as i64;
        let pieces = share.clamp(1, range.len().max(1));
        let size = range.len() / pieces;
        let mut start = range.start;
        for i in 0..pieces {
            let end = if i == pieces - 1 {
                range.end
            } else {
                start + size
            };
            out.push(OffsetRange {
                topic: range.topic.clone(),
                partition: range.partition,
                start,
                end,
            });
            start = end;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(topic: &str, partition: i32, low: i64, high: i64) -> Watermarks {
        Watermarks {
            topic: topic.into(),
            partition,
            low,
            high,
        }
    }

    #[test]
    fn batch_ranges_from_markers_and_specific_offsets() {
        let parts = [w("t", 0, 0, 100), w("t", 1, 10, 50), w("t", 2, 0, 0)];
        let all = batch_ranges(&parts, None, &OffsetSpec::Latest, true).unwrap();
        assert_eq!(
            all.iter()
                .map(|r| (r.partition, r.start, r.end))
                .collect::<Vec<_>>(),
            vec![(0, 0, 100), (1, 10, 50)]
        );
        let start = OffsetSpec::Specific(BTreeMap::from([(
            "t".to_string(),
            BTreeMap::from([(0, 40), (1, LATEST)]),
        )]));
        let end = OffsetSpec::Specific(BTreeMap::from([(
            "t".to_string(),
            BTreeMap::from([(0, 60)]),
        )]));
        let some = batch_ranges(&parts, Some(&start), &end, true).unwrap();
        assert_eq!(
            some.iter()
                .map(|r| (r.partition, r.start, r.end))
                .collect::<Vec<_>>(),
            vec![(0, 40, 60)]
        );
    }

    #[test]
    fn offsets_gone_from_the_log_are_data_loss() {
        let parts = [w("t", 0, 30, 100)];
        let start = OffsetSpec::Specific(BTreeMap::from([(
            "t".to_string(),
            BTreeMap::from([(0, 5)]),
        )]));
        let err = batch_ranges(&parts, Some(&start), &OffsetSpec::Latest, true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("failOnDataLoss"), "{err}");
        let skipped = batch_ranges(&parts, Some(&start), &OffsetSpec::Latest, false).unwrap();
        assert_eq!(skipped[0].start, 30);
    }

    #[test]
    fn min_partitions_splits_ranges_in_proportion() {
        let ranges = vec![
            OffsetRange {
                topic: "t".into(),
                partition: 0,
                start: 0,
                end: 300,
            },
            OffsetRange {
                topic: "t".into(),
                partition: 1,
                start: 0,
                end: 100,
            },
        ];
        let tasks = split_ranges(ranges.clone(), Some(4));
        assert_eq!(tasks.len(), 4);
        assert_eq!(split_ranges(ranges.clone(), Some(7)).len(), 8);
        assert_eq!(tasks.iter().map(OffsetRange::len).sum::<i64>(), 400);
        assert_eq!(tasks.iter().filter(|r| r.partition == 0).count(), 3);
        // Contiguous, no overlap.
        let p0: Vec<_> = tasks.iter().filter(|r| r.partition == 0).collect();
        assert!(p0.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(split_ranges(ranges.clone(), None), ranges);
        assert_eq!(split_ranges(ranges.clone(), Some(2)), ranges);
    }
}
