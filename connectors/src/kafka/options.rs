//! The Kafka source's options, with Spark's names and meanings (`subscribe`,
//! `startingOffsets`, `kafka.*`, ...). Names are case-insensitive, as in Spark;
//! Databricks' `bootstrapServers` is accepted for `kafka.bootstrap.servers`.

use std::collections::BTreeMap;

use datafusion::common::{Result, plan_err};
use serde::{Deserialize, Serialize};

/// Which topic partitions to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subscription {
    /// Every partition of these topics (`subscribe`, comma-separated).
    Topics(Vec<String>),
    /// Every partition of the topics whose whole name matches (`subscribePattern`).
    Pattern(String),
    /// Exactly these partitions (`assign`, `{"topic":[0,1]}`).
    Partitions(BTreeMap<String, Vec<i32>>),
}

/// Where a read starts or ends in each partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OffsetSpec {
    /// The first offset still in the log.
    Earliest,
    /// The end of the log (the next offset to be written).
    Latest,
    /// Per partition: an offset, or -2 (earliest) / -1 (latest). Partitions not named
    /// take the default of the option.
    Specific(BTreeMap<String, BTreeMap<i32, i64>>),
}

/// Spark's marker offsets in JSON offset specs.
pub const EARLIEST: i64 = -2;
/// See [`EARLIEST`].
pub const LATEST: i64 = -1;

/// The options of one Kafka read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KafkaOptions {
    /// librdkafka configuration: `bootstrap.servers` and every `kafka.*` option with
    /// the prefix removed.
    pub client: BTreeMap<String, String>,
    /// What to read.
    pub subscription: Subscription,
    /// Where to start (default: earliest for batch reads, latest for streams).
    pub starting: Option<OffsetSpec>,
    /// Where a batch read ends (default: latest).
    pub ending: OffsetSpec,
    /// Fail when offsets are gone from the log (default true).
    pub fail_on_data_loss: bool,
    /// Add the `headers` column.
    pub include_headers: bool,
    /// Split offset ranges so that a read has at least this many tasks.
    pub min_partitions: Option<usize>,
    /// A stream reads at most this many offsets per micro-batch.
    pub max_offsets_per_trigger: Option<u64>,
    /// How long a task waits for records it knows exist (`kafkaConsumer.pollTimeoutMs`).
    pub poll_timeout_ms: u64,
}

/// The most tasks one read may be split into.
const MAX_TASKS: usize = 100_000;

/// librdkafka settings Sparkling manages itself; Spark refuses the same ones.
const MANAGED: &[&str] = &[
    "group.id",
    "auto.offset.reset",
    "enable.auto.commit",
    "key.deserializer",
    "value.deserializer",
    "interceptor.classes",
];

impl KafkaOptions {
    /// Parses options given as name/value pairs.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut client = BTreeMap::new();
        let mut plain: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in pairs {
            let lower = name.to_ascii_lowercase();
            if let Some(key) = lower.strip_prefix("kafka.") {
                if MANAGED.contains(&key) {
                    return plan_err!(
                        "Kafka option '{name}' is not supported: Sparkling tracks offsets itself \
                         and reads keys and values as binary"
                    );
                }
                client.insert(key.to_string(), value.to_string());
            } else if lower == "bootstrapservers" {
                client.insert("bootstrap.servers".to_string(), value.to_string());
            } else if plain.insert(lower, value.to_string()).is_some() {
                return plan_err!("Kafka option '{name}' is given twice");
            }
        }
        if !client.contains_key("bootstrap.servers") {
            return plan_err!(
                "the Kafka source needs 'kafka.bootstrap.servers' (or 'bootstrapServers')"
            );
        }
        let mut take = |k: &str| plain.remove(k);
        let subscription = match (take("subscribe"), take("subscribepattern"), take("assign")) {
            (Some(topics), None, None) => {
                let topics: Vec<String> = topics
                    .split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect();
                if topics.is_empty() {
                    return plan_err!("'subscribe' names no topic");
                }
                Subscription::Topics(topics)
            }
            (None, Some(pattern), None) => {
                regex::Regex::new(&pattern).map_err(|e| {
                    datafusion::common::DataFusionError::Plan(format!(
                        "'subscribePattern' is not a valid pattern: {e}"
                    ))
                })?;
                Subscription::Pattern(pattern)
            }
            (None, None, Some(assign)) => Subscription::Partitions(parse_assign(&assign)?),
            _ => {
                return plan_err!(
                    "the Kafka source needs exactly one of 'subscribe', 'subscribePattern' and \
                     'assign'"
                );
            }
        };
        let starting = take("startingoffsets")
            .map(|v| parse_offsets("startingOffsets", &v))
            .transpose()?;
        let ending = match take("endingoffsets") {
            None => OffsetSpec::Latest,
            Some(v) => match parse_offsets("endingOffsets", &v)? {
                OffsetSpec::Earliest => {
                    return plan_err!("'endingOffsets' cannot be earliest");
                }
                OffsetSpec::Specific(map)
                    if map
                        .values()
                        .flat_map(|p| p.values())
                        .any(|o| *o == EARLIEST) =>
                {
                    return plan_err!("'endingOffsets' cannot use -2 (earliest)");
                }
                other => other,
            },
        };
        let fail_on_data_loss = match take("failondataloss") {
            None => true,
            Some(v) => parse_bool("failOnDataLoss", &v)?,
        };
        let include_headers = match take("includeheaders") {
            None => false,
            Some(v) => parse_bool("includeHeaders", &v)?,
        };
        let min_partitions = take("minpartitions")
            .map(|v| parse_positive("minPartitions", &v).map(|n| n as usize))
            .transpose()?;
        if min_partitions.is_some_and(|n| n > MAX_TASKS) {
            return plan_err!("'minPartitions' can be at most {MAX_TASKS}");
        }
        let max_offsets_per_trigger = take("maxoffsetspertrigger")
            .map(|v| parse_positive("maxOffsetsPerTrigger", &v))
            .transpose()?;
        let poll_timeout_ms = take("kafkaconsumer.polltimeoutms")
            .map(|v| parse_positive("kafkaConsumer.pollTimeoutMs", &v))
            .transpose()?
            .unwrap_or(120_000);
        if let Some(unknown) = plain.keys().next() {
            return plan_err!("unknown Kafka option '{unknown}'");
        }
        Ok(Self {
            client,
            subscription,
            starting,
            ending,
            fail_on_data_loss,
            include_headers,
            min_partitions,
            max_offsets_per_trigger,
            poll_timeout_ms,
        })
    }

    /// The brokers, for messages.
    pub fn bootstrap_servers(&self) -> &str {
        self.client
            .get("bootstrap.servers")
            .map(String::as_str)
            .unwrap_or("")
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => plan_err!("'{name}' must be true or false, got '{value}'"),
    }
}

fn parse_positive(name: &str, value: &str) -> Result<u64> {
    match value.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => plan_err!("'{name}' must be a positive integer, got '{value}'"),
    }
}

fn parse_assign(value: &str) -> Result<BTreeMap<String, Vec<i32>>> {
    let parsed: BTreeMap<String, Vec<i32>> = serde_json::from_str(value).map_err(|e| {
        datafusion::common::DataFusionError::Plan(format!(
            "'assign' must be JSON like {{\"topic\":[0,1]}}: {e}"
        ))
    })?;
    if parsed.values().all(Vec::is_empty) {
        return plan_err!("'assign' names no partition");
    }
    Ok(parsed)
}

fn parse_offsets(name: &str, value: &str) -> Result<OffsetSpec> {
    match value.trim().to_ascii_lowercase().as_str() {
        "earliest" => return Ok(OffsetSpec::Earliest),
        "latest" => return Ok(OffsetSpec::Latest),
        _ => {}
    }
    let parsed: BTreeMap<String, BTreeMap<String, i64>> =
        serde_json::from_str(value).map_err(|e| {
            datafusion::common::DataFusionError::Plan(format!(
                "'{name}' must be earliest, latest or JSON like {{\"topic\":{{\"0\":23}}}}: {e}"
            ))
        })?;
    let mut out = BTreeMap::new();
    for (topic, partitions) in parsed {
        let mut offsets = BTreeMap::new();
        for (partition, offset) in partitions {
            let Ok(p) = partition.parse::<i32>() else {
                return plan_err!("'{name}': partition '{partition}' of {topic} is not a number");
            };
            if offset < EARLIEST {
                return plan_err!("'{name}': offset {offset} for {topic}-{p} is invalid");
            }
            offsets.insert(p, offset);
        }
        out.insert(topic, offsets);
    }
    Ok(OffsetSpec::Specific(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<KafkaOptions> {
        KafkaOptions::parse(pairs.iter().copied())
    }

    #[test]
    fn spark_options() {
        let o = parse(&[
            ("kafka.bootstrap.servers", "127.0.0.1:9092"),
            ("subscribe", "a, b"),
            ("startingOffsets", r#"{"a":{"0":5,"1":-2}}"#),
            ("endingOffsets", "latest"),
            ("failOnDataLoss", "false"),
            ("includeHeaders", "TRUE"),
            ("minPartitions", "8"),
            ("kafka.fetch.max.bytes", "1048576"),
        ])
        .unwrap();
        assert_eq!(o.bootstrap_servers(), "127.0.0.1:9092");
        assert_eq!(
            o.subscription,
            Subscription::Topics(vec!["a".into(), "b".into()])
        );
        let OffsetSpec::Specific(start) = o.starting.unwrap() else {
            panic!("specific offsets")
        };
        assert_eq!(start["a"][&0], 5);
        assert_eq!(start["a"][&1], EARLIEST);
        assert_eq!(o.ending, OffsetSpec::Latest);
        assert!(!o.fail_on_data_loss);
        assert!(o.include_headers);
        assert_eq!(o.min_partitions, Some(8));
        assert_eq!(o.client["fetch.max.bytes"], "1048576");
    }

    #[test]
    fn databricks_names_and_assign() {
        let o = parse(&[("bootstrapServers", "h:1"), ("assign", r#"{"t":[0,2]}"#)]).unwrap();
        assert_eq!(o.bootstrap_servers(), "h:1");
        assert_eq!(
            o.subscription,
            Subscription::Partitions(BTreeMap::from([("t".to_string(), vec![0, 2])]))
        );
        assert!(o.starting.is_none());
        assert!(o.fail_on_data_loss);
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("subscribe", "t")], "bootstrap.servers"),
            (&[("bootstrapServers", "h:1")], "exactly one of"),
            (
                &[
                    ("bootstrapServers", "h:1"),
                    ("subscribe", "t"),
                    ("assign", "{}"),
                ],
                "exactly one of",
            ),
            (
                &[("bootstrapServers", "h:1"), ("subscribePattern", "(")],
                "not a valid pattern",
            ),
            (
                &[
                    ("bootstrapServers", "h:1"),
                    ("subscribe", "t"),
                    ("startingOffsets", "soon"),
                ],
                "startingOffsets",
            ),
            (
                &[
                    ("bootstrapServers", "h:1"),
                    ("subscribe", "t"),
                    ("endingOffsets", "earliest"),
                ],
                "endingOffsets",
            ),
            (
                &[
                    ("bootstrapServers", "h:1"),
                    ("subscribe", "t"),
                    ("kafka.group.id", "g"),
                ],
                "group.id",
            ),
            (
                &[
                    ("bootstrapServers", "h:1"),
                    ("subscribe", "t"),
                    ("minPartitions", "0"),
                ],
                "minPartitions",
            ),
            (
                &[
                    ("bootstrapServers", "h:1"),
                    ("subscribe", "t"),
                    ("colour", "red"),
                ],
                "unknown Kafka option 'colour'",
            ),
        ];
        for (pairs, expected) in cases {
            let err = parse(pairs).unwrap_err().to_string();
            assert!(err.contains(expected), "{pairs:?}: {err}");
        }
    }
}
