//! Offset planning for streaming reads: where the next micro-batch of a Kafka stream
//! starts and ends, given the offsets the last committed batch ended at.
//!
//! The committed offsets travel in Spark's JSON form, `{"topic":{"0":42,"1":7}}` (the
//! next offset to read per partition), which is what a streaming query stores in the
//! summary of each snapshot it commits; resuming from the last one is exactly-once.

use std::collections::BTreeMap;

use datafusion::common::{DataFusionError, Result, plan_err};

use super::offsets::{OffsetRange, Watermarks, data_loss};
use super::options::{EARLIEST, LATEST, OffsetSpec};

/// The next offset to read of each partition: `topic -> partition -> offset`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceOffsets(pub BTreeMap<String, BTreeMap<i32, i64>>);

impl SourceOffsets {
    /// Spark's JSON form: `{"topic":{"0":42}}`.
    #[allow(
        clippy::expect_used,
        reason = "a map of strings to maps of strings to numbers always serializes"
    )]
    pub fn to_json(&self) -> String {
        let map: BTreeMap<&str, BTreeMap<String, i64>> = self
            .0
            .iter()
            .map(|(t, ps)| {
                (
                    t.as_str(),
                    ps.iter().map(|(p, o)| (p.to_string(), *o)).collect(),
                )
            })
            .collect();
        serde_json::to_string(&map).expect("offsets serialize")
    }

    /// Parses Spark's JSON form.
    pub fn from_json(text: &str) -> Result<Self> {
        let map: BTreeMap<String, BTreeMap<String, i64>> = serde_json::from_str(text)
            .map_err(|e| DataFusionError::Plan(format!("invalid Kafka offsets {text:?}: {e}")))?;
        let mut out = BTreeMap::new();
        for (topic, partitions) in map {
            let mut offsets = BTreeMap::new();
            for (p, o) in partitions {
                let Ok(p) = p.parse::<i32>() else {
                    return plan_err!("invalid Kafka offsets {text:?}: partition {p:?}");
                };
                offsets.insert(p, o);
            }
            out.insert(topic, offsets);
        }
        Ok(Self(out))
    }

    /// The offset of one partition, if known.
    pub fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        self.0.get(topic).and_then(|p| p.get(&partition)).copied()
    }

    fn set(&mut self, topic: &str, partition: i32, offset: i64) {
        self.0
            .entry(topic.to_string())
            .or_default()
            .insert(partition, offset);
    }
}

/// The next micro-batch: the ranges to read (empty when there is nothing new) and
/// the offsets the batch ends at, for every partition (to be committed with it).
#[derive(Debug, Clone, PartialEq)]
pub struct MicroBatch {
    /// Non-empty ranges to read.
    pub ranges: Vec<OffsetRange>,
    /// Where each partition stands before the batch.
    pub start: SourceOffsets,
    /// Where each partition stands after the batch.
    pub end: SourceOffsets,
}

/// Plans the batch after `committed` (`None` before the first batch).
///
/// The first batch starts at `starting` (Spark's default for streams: latest).
/// Partitions that appear later start at their earliest offset, as in Spark. Offsets
/// gone from the log are an error when `fail_on_data_loss` (else skipped). With
/// `max_offsets`, the batch reads at most that many offsets, shared among the
/// partitions in proportion to what each has waiting (Spark's `maxOffsetsPerTrigger`).
pub fn plan_micro_batch(
    committed: Option<&SourceOffsets>,
    partitions: &[Watermarks],
    starting: Option<&OffsetSpec>,
    max_offsets: Option<u64>,
    fail_on_data_loss: bool,
) -> Result<MicroBatch> {
    let mut begin = Vec::with_capacity(partitions.len());
    for w in partitions {
        let from = match committed {
            Some(c) => c.get(&w.topic, w.partition).unwrap_or(w.low),
            None => match starting.unwrap_or(&OffsetSpec::Latest) {
                OffsetSpec::Earliest => w.low,
                OffsetSpec::Latest => w.high,
                OffsetSpec::Specific(map) => {
                    match map.get(&w.topic).and_then(|p| p.get(&w.partition)) {
                        Some(&EARLIEST) => w.low,
                        Some(&LATEST) | None => w.high,
                        Some(&offset) => offset,
                    }
                }
            },
        };
        let from = if from < w.low {
            if fail_on_data_loss {
                return Err(data_loss(w, from));
            }
            w.low
        } else if from > w.high {
            // The log was truncated or recreated below what was read.
            if fail_on_data_loss {
                return plan_err!(
                    "{}-{} ends at {} but the stream had read up to {from}: the topic was \
                     deleted or truncated. Set failOnDataLoss to false to go on from its end.",
                    w.topic,
                    w.partition,
                    w.high
                );
            }
            w.high
        } else {
            from
        };
        begin.push((w, from));
    }
    let waiting: i64 = begin.iter().map(|(w, from)| w.high - from).sum();
    let mut start = committed.cloned().unwrap_or_default();
    for (w, from) in &begin {
        start.set(&w.topic, w.partition, *from);
    }
    let mut end = committed.cloned().unwrap_or_default();
    for (w, from) in begin {
        let available = w.high - from;
        let take = match max_offsets {
            Some(limit) if (waiting as u64) > limit && waiting > 0 => {
                let share = limit as f64 * available as f64 / waiting as f64;
                // Spark rounds small shares up (so every partition makes progress)
                // and large ones down (so the total stays near the limit).
                let share = if share < 1.0 {
                    share.ceil()
                } else {
                    share.floor()
                };
                (share as i64).min(available)
            }
            _ => available,
        };
        end.set(&w.topic, w.partition, from + take);
    }
    Ok(MicroBatch {
        ranges: ranges_between(&start, &end),
        start,
        end,
    })
}

/// The non-empty ranges from `start` to `end`, by topic and partition.
pub fn ranges_between(start: &SourceOffsets, end: &SourceOffsets) -> Vec<OffsetRange> {
    let mut ranges = Vec::new();
    for (topic, partitions) in &end.0 {
        for (&partition, &to) in partitions {
            let from = start.get(topic, partition).unwrap_or(to);
            if to > from {
                ranges.push(OffsetRange {
                    topic: topic.clone(),
                    partition,
                    start: from,
                    end: to,
                });
            }
        }
    }
    ranges
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

    fn offsets(pairs: &[(&str, i32, i64)]) -> SourceOffsets {
        let mut o = SourceOffsets::default();
        for (t, p, off) in pairs {
            o.set(t, *p, *off);
        }
        o
    }

    #[test]
    fn offsets_round_trip_through_sparks_json() {
        let o = offsets(&[("a", 0, 5), ("a", 1, 7), ("b", 0, 0)]);
        assert_eq!(o.to_json(), r#"{"a":{"0":5,"1":7},"b":{"0":0}}"#);
        assert_eq!(SourceOffsets::from_json(&o.to_json()).unwrap(), o);
        assert!(SourceOffsets::from_json("{\"a\":{\"x\":1}}").is_err());
        assert!(SourceOffsets::from_json("nope").is_err());
    }

    #[test]
    fn the_first_batch_starts_at_latest_unless_told_otherwise() {
        let parts = [w("t", 0, 0, 100), w("t", 1, 0, 50)];
        let batch = plan_micro_batch(None, &parts, None, None, true).unwrap();
        assert!(batch.ranges.is_empty());
        assert_eq!(batch.end, offsets(&[("t", 0, 100), ("t", 1, 50)]));
        let batch =
            plan_micro_batch(None, &parts, Some(&OffsetSpec::Earliest), None, true).unwrap();
        assert_eq!(batch.ranges.iter().map(OffsetRange::len).sum::<i64>(), 150);
    }

    #[test]
    fn later_batches_resume_where_the_last_one_ended_and_pick_up_new_partitions() {
        let committed = offsets(&[("t", 0, 80), ("t", 1, 50)]);
        let parts = [w("t", 0, 0, 100), w("t", 1, 0, 50), w("t", 2, 0, 30)];
        let batch = plan_micro_batch(Some(&committed), &parts, None, None, true).unwrap();
        let got: Vec<_> = batch
            .ranges
            .iter()
            .map(|r| (r.partition, r.start, r.end))
            .collect();
        assert_eq!(got, vec![(0, 80, 100), (2, 0, 30)]);
        assert_eq!(
            batch.start,
            offsets(&[("t", 0, 80), ("t", 1, 50), ("t", 2, 0)])
        );
        // The same batch, read again from its recorded start and end.
        assert_eq!(ranges_between(&batch.start, &batch.end), batch.ranges);
        assert_eq!(
            batch.end,
            offsets(&[("t", 0, 100), ("t", 1, 50), ("t", 2, 30)])
        );
    }

    #[test]
    fn max_offsets_per_trigger_is_shared_in_proportion() {
        let committed = offsets(&[("t", 0, 0), ("t", 1, 0), ("t", 2, 0)]);
        let parts = [w("t", 0, 0, 900), w("t", 1, 0, 100), w("t", 2, 0, 1)];
        let batch = plan_micro_batch(Some(&committed), &parts, None, Some(100), true).unwrap();
        let got: Vec<_> = batch
            .ranges
            .iter()
            .map(|r| (r.partition, r.len()))
            .collect();
        // 100 * 900/1001 = 89.9 -> 89; 100 * 100/1001 = 9.99 -> 9; 0.0999 -> 1.
        assert_eq!(got, vec![(0, 89), (1, 9), (2, 1)]);
        // Under the limit, everything waiting is read.
        let batch = plan_micro_batch(Some(&committed), &parts, None, Some(5000), true).unwrap();
        assert_eq!(batch.ranges.iter().map(OffsetRange::len).sum::<i64>(), 1001);
    }

    #[test]
    fn offsets_gone_from_the_log_fail_or_are_skipped() {
        let committed = offsets(&[("t", 0, 10)]);
        let parts = [w("t", 0, 40, 100)];
        let err = plan_micro_batch(Some(&committed), &parts, None, None, true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("failOnDataLoss"), "{err}");
        let batch = plan_micro_batch(Some(&committed), &parts, None, None, false).unwrap();
        assert_eq!(batch.ranges[0].start, 40);
        // A topic recreated below what was read.
        let parts = [w("t", 0, 0, 5)];
        assert!(plan_micro_batch(Some(&committed), &parts, None, None, true).is_err());
        let batch = plan_micro_batch(Some(&committed), &parts, None, None, false).unwrap();
        assert!(batch.ranges.is_empty());
        assert_eq!(batch.end, offsets(&[("t", 0, 5)]));
    }
}
