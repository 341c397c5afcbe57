//! `sparkling streams`: the cluster's streaming queries, through the gateway
//! (`SHOW STREAMS` for the list, Spark Connect's streaming query commands for the
//! rest).

use sparkling_client::SparkSession;

use super::{OutputFormat, StreamsAction, StreamsArgs};

/// The gateway URL: `--remote`, `SPARK_REMOTE`, or the local default.
pub(super) fn remote(remote: Option<String>) -> String {
    remote
        .or_else(|| std::env::var("SPARK_REMOTE").ok())
        .unwrap_or_else(|| "sc://127.0.0.1:15002".to_string())
}

pub async fn run(args: StreamsArgs) -> anyhow::Result<()> {
    let session = SparkSession::connect(&remote(args.remote)).await?;
    let result = async {
        match args.action.unwrap_or(StreamsAction::List) {
            StreamsAction::List => {
                let result = session.run_sql("SHOW STREAMS").await?;
                super::sql::print_result(&result.schema, &result.batches, OutputFormat::Table)?;
            }
            StreamsAction::Status { id } => {
                let query = session.streams().get(&id).await?;
                let status = query.status().await?;
                println!("query     {} ({})", query.id(), query.name());
                println!("active    {}", status.is_active);
                println!("status    {}", status.message);
                println!("data      {}", status.is_data_available);
                println!("trigger   {}", status.is_trigger_active);
                if let Some(e) = query.exception().await? {
                    println!("error     {e}");
                }
            }
            StreamsAction::Progress { id, last } => {
                let query = session.streams().get(&id).await?;
                let reports = if last {
                    query.last_progress().await?.into_iter().collect()
                } else {
                    query.recent_progress().await?
                };
                for report in reports {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                }
            }
            StreamsAction::Stop { id } => {
                let query = session.streams().get(&id).await?;
                query.stop().await?;
                println!("stopped {} ({})", query.id(), query.name());
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let _ = session.stop().await;
    result
}
