//! `sparkling gen kafka`: the event generator's events as JSON records into a Kafka
//! topic, paced at a rate, keyed by user id.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sparkling_connectors::events::{EventKind, EventSpec, generate};

use super::GenKafkaArgs;

/// Events produced per step.
const STEP: u64 = 1000;

/// Produces events until `--count` is reached (or forever).
pub async fn kafka(args: GenKafkaArgs) -> anyhow::Result<()> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of events per second");
    }
    let start_ms = match args.start {
        Some(ms) => ms,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64,
    };
    let spec = EventSpec {
        kind: EventKind::parse(&args.kind)?,
        rate: args.rate,
        seed: args.seed,
        users: args.users.max(1),
        start_ms,
    };
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &args.bootstrap)
        .set("linger.ms", "5");
    for kv in &args.producer_conf {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--producer-conf takes KEY=VALUE, got {kv:?}");
        };
        config.set(k, v);
    }
    if let Some(partitions) = args.partitions {
        create_topic(&config, &args.topic, partitions).await?;
    }
    let producer: FutureProducer = config
        .create()
        .with_context(|| format!("cannot create a Kafka producer for {}", args.bootstrap))?;
    let began = Instant::now();
    let mut produced = 0u64;
    loop {
        // Events whose time has come (as fast as possible with --no-wait).
        let due = if args.no_wait {
            u64::MAX
        } else {
            (began.elapsed().as_secs_f64() * args.rate) as u64 + 1
        };
        let due = args.count.map_or(due, |c| due.min(c));
        if produced >= due {
            if args.count.is_some_and(|c| produced >= c) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let to = due.min(produced + STEP);
        let batch = generate(&spec, produced, to)?;
        let users = batch
            .column_by_name("userId")
            .context("the generated events have no userId column")?
            .as_primitive::<Int64Type>()
            .clone();
        let mut json = Vec::new();
        {
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut json);
            writer.write(&batch)?;
            writer.finish()?;
        }
        let lines: Vec<&[u8]> = json
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let sends = lines.iter().enumerate().map(|(i, line)| {
            let key = (!users.is_null(i)).then(|| users.value(i).to_string());
            let producer = &producer;
            let topic = &args.topic;
            async move {
                let mut record = FutureRecord::to(topic).payload(*line);
                if let Some(key) = &key {
                    record = record.key(key.as_str());
                }
                producer
                    .send(record, Duration::from_secs(60))
                    .await
                    .map_err(|(e, _)| anyhow::anyhow!("producing to {topic}: {e}"))
            }
        });
        for result in futures::future::join_all(sends).await {
            result?;
        }
        produced = to;
    }
    eprintln!(
        "produced {produced} {} events to {} in {:.1} s",
        args.kind,
        args.topic,
        began.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Creates `topic` with `partitions` partitions (replication factor 1) unless it exists:
/// some brokers (tansu among them) do not create topics on first use.
async fn create_topic(config: &ClientConfig, topic: &str, partitions: i32) -> anyhow::Result<()> {
    if partitions < 1 {
        bail!("--partitions must be at least 1");
    }
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .context("cannot create a Kafka admin client")?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .with_context(|| format!("cannot create topic {topic}"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, e)) => bail!("cannot create topic {name}: {e}"),
        }
    }
    Ok(())
}
