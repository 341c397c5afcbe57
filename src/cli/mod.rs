//! The command line: one subcommand per role (`local`, `scheduler`, `executor`,
//! `catalog`), the client commands (`sql`, `streams`, `submit`, `status`, `kill`,
//! `jobs`) and tools (`gen`).

mod generate;
mod roles;
mod sql;
mod streams;
mod submit;

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use sparkling_catalog::{
    DEFAULT_DB as DEFAULT_CATALOG_DB, DEFAULT_DB_PATH as DEFAULT_CATALOG_DB_PATH,
    DEFAULT_PORT as DEFAULT_CATALOG_PORT, DEFAULT_WAREHOUSE,
};
use sparkling_executor::{DEFAULT_FLIGHT_PORT, ShuffleCompression};
use sparkling_proto::DEFAULT_CONNECT_PORT;
use sparkling_scheduler::{DEFAULT_BIND, DEFAULT_HTTP_PORT, DEFAULT_SCHEDULER_PORT};

/// Sparkling: a Spark-like lakehouse compute cluster in one binary.
#[derive(Debug, Parser)]
#[command(name = "sparkling", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scheduler, gateway and executors in one process.
    Local(LocalArgs),
    /// The scheduler and the Spark Connect gateway.
    Scheduler(SchedulerArgs),
    /// An executor that registers with a scheduler.
    Executor(ExecutorArgs),
    /// The Iceberg REST catalog server.
    Catalog(CatalogArgs),
    /// Runs SQL statements on a cluster and prints their results.
    Sql(SqlArgs),
    /// Lists, inspects and stops the cluster's streaming queries.
    Streams(StreamsArgs),
    /// Submits a job (a SQL script) to the cluster, like spark-submit.
    Submit(SubmitArgs),
    /// Shows a submitted job's state.
    Status {
        #[command(flatten)]
        master: MasterArgs,
        /// Submission id (driver-...).
        id: String,
    },
    /// Kills a submitted job (its running statement and its streaming queries).
    Kill {
        #[command(flatten)]
        master: MasterArgs,
        /// Submission id (driver-...).
        id: String,
    },
    /// Lists the submitted jobs.
    Jobs {
        #[command(flatten)]
        master: MasterArgs,
    },
    /// Generates streamify-like events.
    #[command(subcommand)]
    Gen(GenCommand),
}

/// `sparkling streams [status|progress|stop ID]`.
#[derive(Debug, clap::Args)]
pub struct StreamsArgs {
    /// Gateway URL (sc://HOST:PORT[/;token=...]); also `SPARK_REMOTE`.
    #[arg(long, env = "SPARKLING_REMOTE")]
    pub remote: Option<String>,
    /// What to do (default: list every query).
    #[command(subcommand)]
    pub action: Option<StreamsAction>,
}

/// What `sparkling streams` does.
#[derive(Debug, Subcommand)]
pub enum StreamsAction {
    /// Every query: state, last batch, rates, lag, error.
    List,
    /// One query's status.
    Status {
        /// Query id.
        id: String,
    },
    /// One query's recent progress, as Spark's StreamingQueryProgress JSON.
    Progress {
        /// Query id.
        id: String,
        /// Only the last report.
        #[arg(long)]
        last: bool,
    },
    /// Stops a query for good.
    Stop {
        /// Query id.
        id: String,
    },
}

/// Where the scheduler's REST server is.
#[derive(Debug, clap::Args)]
pub struct MasterArgs {
    /// The scheduler's HTTP address (http://HOST:8080; spark://HOST:PORT also works).
    #[arg(
        long,
        default_value_t = format!("http://{DEFAULT_BIND}:{DEFAULT_HTTP_PORT}"),
        env = "SPARKLING_MASTER"
    )]
    pub master: String,
    /// Bearer token (required when the scheduler listens beyond loopback).
    #[arg(long, env = "SPARKLING_AUTH_TOKEN")]
    pub token: Option<String>,
}

/// `sparkling submit FILE`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub master: MasterArgs,
    /// The job: a SQL script (statements run in order in one session), or a pipeline
    /// spec (`spark-pipeline.yml`; its SQL files are sent along).
    pub file: PathBuf,
    /// The job's name (default: the file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Spark settings for the job's session, KEY=VALUE (repeatable); for a pipeline
    /// also values of its configuration.
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    pub conf: Vec<String>,
    /// Wait for the job to end, printing its progress; the exit code is 0 when it
    /// finished, 1 when it failed, 3 when killed, 4 on a scheduler error.
    #[arg(long)]
    pub wait: bool,
}

/// `sparkling gen ...`.
#[derive(Debug, Subcommand)]
pub enum GenCommand {
    /// Produces events as JSON records into a Kafka topic.
    Kafka(GenKafkaArgs),
}

/// `sparkling gen kafka`.
#[derive(Debug, clap::Args)]
pub struct GenKafkaArgs {
    /// Kafka brokers (HOST:PORT[,HOST:PORT...]).
    #[arg(long)]
    pub bootstrap: String,
    /// Topic to produce to.
    #[arg(long)]
    pub topic: String,
    /// Create the topic with this many partitions first, unless it exists (for brokers
    /// that do not create topics on first use, such as tansu).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// listen, page_view or auth.
    #[arg(long, default_value = "listen")]
    pub kind: String,
    /// Events per second.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Stop after this many events (default: run until stopped).
    #[arg(long)]
    pub count: Option<u64>,
    /// Seed of the pseudo-random choices (same seed, same events).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of distinct users.
    #[arg(long, default_value_t = 1000)]
    pub users: u64,
    /// Time of the first event, epoch milliseconds (default: now).
    #[arg(long)]
    pub start: Option<i64>,
    /// Produce as fast as possible instead of at --rate (event times still follow --rate).
    #[arg(long)]
    pub no_wait: bool,
    /// Extra librdkafka producer settings, KEY=VALUE (repeatable).
    #[arg(long = "producer-conf")]
    pub producer_conf: Vec<String>,
}

/// What `sparkling local` and `sparkling scheduler` serve the same way: the address,
/// the client-facing ports, the token and where lineage goes.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address to bind.
    #[arg(long, default_value_t = DEFAULT_BIND, env = "SPARKLING_BIND")]
    pub bind: IpAddr,
    /// Spark Connect port.
    #[arg(long, default_value_t = DEFAULT_CONNECT_PORT, env = "SPARKLING_CONNECT_PORT")]
    pub connect_port: u16,
    /// HTTP port: REST submissions and the JSON API (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_HTTP_PORT, env = "SPARKLING_HTTP_PORT")]
    pub http_port: u16,
    /// Bearer token clients must present (required off loopback).
    #[arg(long, env = "SPARKLING_AUTH_TOKEN")]
    pub auth_token: Option<String>,
    /// Where OpenLineage events of jobs and pipelines go: an HTTP endpoint
    /// (`http://host:5000`, events POSTed to /api/v1/lineage) or a file (JSON lines).
    #[arg(long, env = "SPARKLING_LINEAGE")]
    pub lineage: Option<String>,
}

/// `sparkling local`.
#[derive(Debug, clap::Args)]
pub struct LocalArgs {
    /// Number of executors.
    #[arg(long, default_value_t = 2, env = "SPARKLING_EXECUTORS")]
    pub executors: usize,
    /// Task slots per executor (default: CPU cores / executors, at least 1).
    #[arg(long, env = "SPARKLING_SLOTS")]
    pub slots: Option<usize>,
    /// Address, ports, token, lineage.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Scheduler gRPC port, where the executors register (0, the default here,
    /// picks a free one).
    #[arg(
        long = "scheduler-port",
        visible_alias = "port",
        default_value_t = 0,
        env = "SPARKLING_SCHEDULER_PORT"
    )]
    pub scheduler_port: u16,
    /// Directory for executors' shuffle files.
    #[arg(long, env = "SPARKLING_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// Compression of shuffle files: none or lz4.
    #[arg(long, default_value = "none", env = "SPARKLING_SHUFFLE_COMPRESSION")]
    pub shuffle_compression: ShuffleCompression,
    /// Where table data and metadata files go.
    #[arg(long, default_value = DEFAULT_WAREHOUSE, env = "SPARKLING_WAREHOUSE")]
    pub warehouse: String,
    /// The embedded catalog's SQLite database.
    #[arg(long, default_value = DEFAULT_CATALOG_DB_PATH, env = "SPARKLING_CATALOG_DB")]
    pub catalog_db: PathBuf,
    /// Port of the embedded Iceberg REST catalog (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_CATALOG_PORT, env = "SPARKLING_CATALOG_PORT")]
    pub catalog_port: u16,
    /// Directory for the scheduler's state (streaming queries resume from it);
    /// default: `scheduler/` next to the catalog database.
    #[arg(long, env = "SPARKLING_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `sparkling catalog`.
#[derive(Debug, clap::Args)]
pub struct CatalogArgs {
    /// Address to bind.
    #[arg(long, default_value_t = DEFAULT_BIND, env = "SPARKLING_BIND")]
    pub bind: IpAddr,
    /// Port of the Iceberg REST catalog (0 picks a free one).
    #[arg(
        long = "catalog-port",
        visible_alias = "port",
        default_value_t = DEFAULT_CATALOG_PORT,
        env = "SPARKLING_CATALOG_PORT"
    )]
    pub catalog_port: u16,
    /// Catalog database: sqlite:PATH or postgres://USER@HOST:PORT/DB.
    #[arg(long, default_value = DEFAULT_CATALOG_DB, env = "SPARKLING_DB")]
    pub db: String,
    /// Where new tables go (a local directory).
    #[arg(long, default_value = DEFAULT_WAREHOUSE, env = "SPARKLING_WAREHOUSE")]
    pub warehouse: String,
    /// Bearer token clients must present (required off loopback).
    #[arg(long, env = "SPARKLING_AUTH_TOKEN")]
    pub auth_token: Option<String>,
}

/// `sparkling scheduler`.
#[derive(Debug, clap::Args)]
pub struct SchedulerArgs {
    /// Address, ports, token, lineage.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Scheduler gRPC port (executors register here).
    #[arg(
        long = "scheduler-port",
        visible_alias = "port",
        default_value_t = DEFAULT_SCHEDULER_PORT,
        env = "SPARKLING_SCHEDULER_PORT"
    )]
    pub scheduler_port: u16,
    /// Host name executors and clients use for this machine (default: the bind address).
    #[arg(long, env = "SPARKLING_EXTERNAL_HOST")]
    pub external_host: Option<String>,
    /// Iceberg REST catalog behind spark_catalog (e.g. http://127.0.0.1:8181).
    #[arg(long, env = "SPARKLING_CATALOG")]
    pub catalog: Option<String>,
    /// Token to present to the Iceberg REST catalog.
    #[arg(long, env = "SPARKLING_CATALOG_TOKEN")]
    pub catalog_token: Option<String>,
    /// Directory for what must survive a restart (streaming queries, which resume
    /// when the scheduler starts again, and submitted jobs); without it nothing is kept.
    #[arg(long, env = "SPARKLING_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `sparkling executor`.
#[derive(Debug, clap::Args)]
pub struct ExecutorArgs {
    /// Scheduler address, HOST:PORT.
    #[arg(long, env = "SPARKLING_SCHEDULER")]
    pub scheduler: String,
    /// Address to bind (an IP address).
    #[arg(long, default_value_t = DEFAULT_BIND, env = "SPARKLING_BIND")]
    pub bind: IpAddr,
    /// Host name the scheduler and other executors use for this executor (default:
    /// the bind address, or this machine's host name when bound to 0.0.0.0).
    #[arg(long, env = "SPARKLING_EXTERNAL_HOST")]
    pub external_host: Option<String>,
    /// Arrow Flight port (shuffle and results).
    #[arg(
        long = "flight-port",
        visible_alias = "port",
        default_value_t = DEFAULT_FLIGHT_PORT,
        env = "SPARKLING_FLIGHT_PORT"
    )]
    pub flight_port: u16,
    /// Port the scheduler pushes tasks to (default: Flight port + 1).
    #[arg(
        long = "task-port",
        visible_alias = "grpc-port",
        env = "SPARKLING_TASK_PORT"
    )]
    pub task_port: Option<u16>,
    /// Concurrent task slots (default: CPU cores).
    #[arg(long, env = "SPARKLING_SLOTS")]
    pub slots: Option<usize>,
    /// Directory for shuffle files and spills.
    #[arg(long, env = "SPARKLING_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// Compression of shuffle files: none, or lz4 for networks slower than LZ4 (about
    /// 0.5 GB/s per core).
    #[arg(long, default_value = "none", env = "SPARKLING_SHUFFLE_COMPRESSION")]
    pub shuffle_compression: ShuffleCompression,
}

/// Output formats of `sparkling sql`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    /// Aligned table.
    Table,
    /// CSV with a header.
    Csv,
    /// One JSON object per row.
    Json,
}

/// `sparkling sql`.
#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    /// Gateway URL (sc://HOST:PORT[/;token=...]); also `SPARK_REMOTE`.
    #[arg(long, env = "SPARKLING_REMOTE")]
    pub remote: Option<String>,
    /// SQL file to run, statement by statement.
    #[arg(short = 'f', long = "file", conflicts_with = "query")]
    pub file: Option<PathBuf>,
    /// Statements to run.
    #[arg(required_unless_present = "file")]
    pub query: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, env = "SPARKLING_FORMAT")]
    pub format: OutputFormat,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Local(args) => roles::local(args).await,
        Command::Scheduler(args) => roles::scheduler(args).await,
        Command::Executor(args) => roles::executor(args).await,
        Command::Catalog(args) => roles::catalog(args).await,
        Command::Sql(args) => sql::run(args).await,
        Command::Streams(args) => streams::run(args).await,
        Command::Submit(args) => submit::submit(args).await,
        Command::Status { master, id } => submit::status(master, id).await,
        Command::Kill { master, id } => submit::kill(master, id).await,
        Command::Jobs { master } => submit::jobs(master).await,
        Command::Gen(GenCommand::Kafka(args)) => generate::kafka(args).await,
    }
}
