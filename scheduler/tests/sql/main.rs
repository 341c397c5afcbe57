//! SQL-file tests: every `*.slt` file beside this one is a [sqllogictest] script
//! (statements and queries with their expected results side by side, as DataFusion's
//! own SQL tests are written) run against a whole Sparkling cluster inside this test
//! process: the Iceberg REST catalog, the scheduler with its gateway, and two
//! executors, on loopback ports. Statements take the path every front end takes
//! (`Engine::run_statement`), so DDL, `STREAM(...)`, time travel, expectations and
//! Spark's semantics are tested without starting processes.
//!
//! Each file runs in a fresh session of the one shared cluster; files that create
//! tables use a namespace of their own. `SPARKLING_SLT=name` runs only the files
//! whose name contains `name`.
//!
//! [sqllogictest]: https://www.sqlite.org/sqllogictest/doc/trunk/about.wiki

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use sparkling_engine::Engine;
use sparkling_engine::session::Session;
use sparkling_executor::{ExecutorOptions, ShuffleCompression, run_executor};
use sparkling_scheduler::SchedulerOptions;
use sqllogictest::{DBOutput, DefaultColumnType};
use tokio::sync::watch;

const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// The cluster the files run against; stopped when dropped with the runtime.
struct TestCluster {
    engine: Engine,
    _dir: tempfile::TempDir,
    _stop: watch::Sender<bool>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(SocketAddr::new(LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_cluster() -> TestCluster {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = dir.path().join("warehouse");
    let catalog = sparkling_catalog::start(sparkling_catalog::CatalogOptions {
        bind: LOCALHOST,
        port: 0,
        db: format!("sqlite:{}", dir.path().join("catalog.db").display()),
        warehouse: warehouse.to_string_lossy().to_string(),
        ..Default::default()
    })
    .await
    .unwrap();
    let running = sparkling_scheduler::start(SchedulerOptions {
        port: 0,
        connect_port: 0,
        http_port: 0,
        catalog_uri: Some(catalog.uri()),
        state_dir: Some(dir.path().join("state")),
        ..Default::default()
    })
    .await
    .unwrap();
    let (stop, stopped) = watch::channel(false);
    for i in 0..2 {
        let options = ExecutorOptions {
            scheduler_host: LOCALHOST.to_string(),
            scheduler_port: running.scheduler_addr.port(),
            bind: LOCALHOST.to_string(),
            external_host: None,
            port: free_port(),
            grpc_port: free_port(),
            slots: 2,
            work_dir: dir.path().join(format!("executor-{i}")),
            shuffle_compression: ShuffleCompression::None,
        };
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let stop = async move {
                let _ = stopped.wait_for(|v| *v).await;
            };
            if let Err(e) = run_executor(options, stop, Duration::from_secs(5)).await {
                eprintln!("executor {i}: {e}");
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while running.cluster.executors().await.len() < 2 {
        assert!(Instant::now() < deadline, "executors did not register");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The catalog and scheduler run until the test's runtime ends.
    std::mem::forget(catalog);
    let engine = running.engine.clone();
    std::mem::forget(running);
    TestCluster {
        engine,
        _dir: dir,
        _stop: stop,
    }
}

/// A failed statement, as the file expects it (`statement error <message>`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct StatementError(String);

/// One file's connection: a session of the shared cluster.
struct SlsSession {
    engine: Engine,
    session: Arc<Session>,
}

#[async_trait]
impl sqllogictest::AsyncDB for SlsSession {
    type Error = StatementError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, StatementError> {
        let id = uuid::Uuid::new_v4().to_string();
        let (operation, interrupted) = self.session.start_operation(&id, Vec::new());
        let result = self
            .engine
            .run_statement(&self.session, sql, &operation, interrupted)
            .await;
        self.session.end_operation(&id);
        let (_, batches) = result.map_err(|e| StatementError(e.to_string()))?;
        Ok(output(&batches))
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "sparkling"
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }
}

/// Rows as text: `NULL` for nulls, Arrow's display of everything else. A result with
/// no columns is a completed statement.
fn output(batches: &[RecordBatch]) -> DBOutput<DefaultColumnType> {
    let Some(first) = batches.first() else {
        return DBOutput::StatementComplete(0);
    };
    if first.num_columns() == 0 {
        return DBOutput::StatementComplete(0);
    }
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| {
                        let text = f.value(row).to_string();
                        if text.is_empty() {
                            "(empty)".to_string()
                        } else {
                            text
                        }
                    })
                    .collect(),
            );
        }
    }
    DBOutput::Rows {
        types: vec![DefaultColumnType::Any; first.num_columns()],
        rows,
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql");
    let only = std::env::var("SPARKLING_SLT").ok();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .filter(|p| {
            only.as_ref().is_none_or(|o| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .contains(o.as_str())
            })
        })
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_files() {
    let cluster = start_cluster().await;
    let files = slt_files();
    assert!(!files.is_empty(), "no .slt files found");
    let mut failures = Vec::new();
    for file in &files {
        let engine = cluster.engine.clone();
        let session = engine
            .sessions()
            .get_or_create(&uuid::Uuid::new_v4().to_string())
            .unwrap();
        let mut runner = sqllogictest::Runner::new(move || {
            let engine = engine.clone();
            let session = Arc::clone(&session);
            async move { Ok(SlsSession { engine, session }) }
        });
        runner.with_column_validator(sqllogictest::default_column_validator);
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        match runner.run_file_async(file).await {
            Ok(()) => eprintln!("ok   {name}"),
            Err(e) => {
                eprintln!("FAIL {name}\n{e}");
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} SQL files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
