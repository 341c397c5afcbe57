//! Datasets as OpenLineage names them: tables, and the sources a query reads besides
//! tables (Kafka topics, the event generator). Shared by the pipeline graph, which
//! records what each dataset reads, and the lineage events.

use std::collections::BTreeSet;

/// A dataset as OpenLineage names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DatasetName {
    /// Where it lives (`iceberg+http://catalog:8181`, `kafka://broker:9092`).
    pub namespace: String,
    /// Its name there (`ns.table`, the topic).
    pub name: String,
}

/// The datasets of sources a query reads besides tables: Kafka topics and the
/// event generator, from the option pairs of `read_kafka` and `generate_events`
/// (in any of their spellings).
pub fn source_datasets(function: &str, options: &[(String, String)]) -> Vec<DatasetName> {
    let get = |key: &str| {
        options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    let function = function.to_ascii_lowercase();
    if function.ends_with("kafka") {
        let servers = get("bootstrapServers")
            .or_else(|| get("kafka.bootstrap.servers"))
            .unwrap_or_default();
        let first = servers.split(',').next().unwrap_or("").trim().to_string();
        let topics: BTreeSet<String> = get("subscribe")
            .or_else(|| get("assign"))
            .or_else(|| get("subscribePattern"))
            .unwrap_or_default()
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        return topics
            .into_iter()
            .map(|topic| DatasetName {
                namespace: format!("kafka://{first}"),
                name: topic,
            })
            .collect();
    }
    if function.ends_with("events") {
        return vec![DatasetName {
            namespace: "sparkling".to_string(),
            name: format!("generate_events/{}", get("kind").unwrap_or_default()),
        }];
    }
    Vec::new()
}
