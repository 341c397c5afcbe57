//! `sparkling`: one binary whose subcommands start every role of the cluster and
//! talk to it.

mod cli;

use clap::Parser;

/// The stack of each async worker thread (see `main`).
const WORKER_STACK_BYTES: usize = 32 * 1024 * 1024;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Plans are trees walked recursively (DataFusion's analyzer and optimizer, plan
    // codecs): a PySpark program's chain of `withColumn`s nests a plan dozens of
    // nodes deep, more than tokio's default 2 MiB worker stack holds in a debug build.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK_BYTES)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
