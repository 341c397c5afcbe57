//! The server roles: `scheduler`, `executor`, `catalog` and `local` (all of them in
//! one process).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sparkling_executor::{ExecutorOptions, run_executor};
use sparkling_scheduler::{SchedulerOptions, start};
use tokio::sync::watch;

use super::{CatalogArgs, ExecutorArgs, LocalArgs, SchedulerArgs};

/// How long a stopping executor may wait for its running tasks.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

pub async fn scheduler(args: SchedulerArgs) -> anyhow::Result<()> {
    let running = start(SchedulerOptions {
        bind: args.server.bind,
        port: args.scheduler_port,
        connect_port: args.server.connect_port,
        http_port: args.server.http_port,
        external_host: args.external_host,
        auth_token: args.server.auth_token,
        catalog_uri: args.catalog.clone(),
        catalog_token: args.catalog_token,
        state_dir: args.state_dir.clone(),
        lineage: args.server.lineage.clone(),
    })
    .await?;
    println!("sparkling scheduler ready");
    println!(
        "  scheduler (executors register here)  {}",
        running.scheduler_addr
    );
    println!(
        "  Spark Connect                         sc://{}",
        running.gateway_addr
    );
    println!(
        "  HTTP (REST submissions, JSON API)     http://{}",
        running.http_addr
    );
    if let Some(catalog) = &args.catalog {
        println!("  Iceberg REST catalog (spark_catalog)  {catalog}");
    }
    match &args.state_dir {
        Some(dir) => println!("  state (streams, submissions)          {}", dir.display()),
        None => println!(
            "  state                                 none (--state-dir keeps streaming queries \
             and submitted jobs across restarts)"
        ),
    }
    shutdown_signal().await;
    eprintln!("stopping");
    running.stop().await;
    Ok(())
}

pub async fn catalog(args: CatalogArgs) -> anyhow::Result<()> {
    let running = sparkling_catalog::start(sparkling_catalog::CatalogOptions {
        bind: args.bind,
        port: args.catalog_port,
        db: args.db,
        warehouse: args.warehouse,
        auth_token: args.auth_token,
        ..Default::default()
    })
    .await?;
    println!("sparkling catalog ready");
    println!("  Iceberg REST catalog  {}", running.uri());
    println!("  warehouse             {}", running.warehouse);
    shutdown_signal().await;
    eprintln!("stopping");
    running.stop().await;
    Ok(())
}

fn parse_host_port(s: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("--scheduler must be HOST:PORT, got {s:?}"))?;
    let port = port
        .parse()
        .with_context(|| format!("--scheduler must be HOST:PORT, got {s:?}"))?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

pub async fn executor(args: ExecutorArgs) -> anyhow::Result<()> {
    let (host, port) = parse_host_port(&args.scheduler)?;
    // Fail fast and clearly when nothing answers at the scheduler address.
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => bail!("the scheduler at {host}:{port} does not answer: {e}"),
        Err(_) => bail!("the scheduler at {host}:{port} does not answer (timed out after 5s)"),
    }
    let slots = args.slots.unwrap_or_else(default_slots);
    let work_dir = args.work_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sparkling-executor-{}", args.flight_port))
    });
    let options = ExecutorOptions {
        scheduler_host: host,
        scheduler_port: port,
        bind: args.bind.to_string(),
        external_host: args.external_host.or_else(|| advertised_host(args.bind)),
        port: args.flight_port,
        grpc_port: args.task_port.unwrap_or(args.flight_port.saturating_add(1)),
        slots,
        work_dir: work_dir.clone(),
        shuffle_compression: args.shuffle_compression,
    };
    println!(
        "sparkling executor: Flight {}:{}, {slots} slots, work dir {}",
        args.bind,
        args.flight_port,
        work_dir.display()
    );
    run_executor(options, std::future::pending(), DRAIN_TIMEOUT).await?;
    Ok(())
}

/// The name other machines reach an executor by when none is given: bound to every
/// interface (0.0.0.0, as in a container), its host name; otherwise the bind address.
fn advertised_host(bind: IpAddr) -> Option<String> {
    if !bind.is_unspecified() {
        return None;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
}

fn default_slots() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// A free port on `addr` (the OS picks it; it is free again when this returns).
fn free_port(addr: IpAddr) -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(SocketAddr::new(addr, 0))?;
    Ok(listener.local_addr()?.port())
}

pub async fn local(args: LocalArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if args.executors == 0 {
        bail!("--executors must be at least 1");
    }
    let server = args.server;
    let catalog = sparkling_catalog::start(sparkling_catalog::CatalogOptions {
        bind: server.bind,
        port: args.catalog_port,
        db: format!("sqlite:{}", args.catalog_db.display()),
        warehouse: args.warehouse.clone(),
        auth_token: server.auth_token.clone(),
        ..Default::default()
    })
    .await?;
    let state_dir = args.state_dir.clone().unwrap_or_else(|| {
        args.catalog_db
            .parent()
            .unwrap_or_else(|| std::path::Path::new("."))
            .join("scheduler")
    });
    let running = start(SchedulerOptions {
        bind: server.bind,
        port: args.scheduler_port,
        connect_port: server.connect_port,
        http_port: server.http_port,
        external_host: None,
        auth_token: server.auth_token.clone(),
        catalog_uri: Some(catalog.uri()),
        catalog_token: server.auth_token,
        state_dir: Some(state_dir.clone()),
        lineage: server.lineage.clone(),
    })
    .await?;
    let slots = args
        .slots
        .unwrap_or_else(|| (default_slots() / args.executors).max(1));
    let work_root: PathBuf = args.work_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sparkling-local-{}", std::process::id()))
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut executors = Vec::new();
    for i in 0..args.executors {
        let options = ExecutorOptions {
            scheduler_host: running.scheduler_addr.ip().to_string(),
            scheduler_port: running.scheduler_addr.port(),
            bind: server.bind.to_string(),
            external_host: None,
            port: free_port(server.bind)?,
            grpc_port: free_port(server.bind)?,
            slots,
            work_dir: work_root.join(format!("executor-{i}")),
            shuffle_compression: args.shuffle_compression,
        };
        let mut stop = stop_rx.clone();
        executors.push(tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|v| *v).await;
            };
            if let Err(e) = run_executor(options, stopped, DRAIN_TIMEOUT).await {
                eprintln!("error: executor {i}: {e}");
            }
        }));
    }
    // Ready means every executor has registered.
    let deadline = Instant::now() + Duration::from_secs(30);
    while running.cluster.executors().await.len() < args.executors {
        if Instant::now() > deadline {
            bail!("executors did not register within 30s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "sparkling local ready in {} ms: {} executors x {slots} slots",
        started.elapsed().as_millis(),
        args.executors
    );
    println!("  Spark Connect  sc://{}", running.gateway_addr);
    println!("  HTTP           http://{}", running.http_addr);
    println!("  scheduler      {}", running.scheduler_addr);
    println!("  Iceberg REST   {}", catalog.uri());
    println!("  warehouse      {}", catalog.warehouse);
    println!("  work dir       {}", work_root.display());
    println!("  state          {}", state_dir.display());
    println!("press Ctrl-C to stop");
    shutdown_signal().await;
    eprintln!("stopping");
    let _ = stop_tx.send(true);
    for e in executors {
        let _ = e.await;
    }
    running.stop().await;
    catalog.stop().await;
    let _ = std::fs::remove_dir_all(&work_root);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executor_bound_to_every_interface_advertises_its_host_name() {
        assert_eq!(advertised_host("127.0.0.1".parse().unwrap()), None);
        assert_eq!(advertised_host("10.1.2.3".parse().unwrap()), None);
        let name = advertised_host("0.0.0.0".parse().unwrap()).expect("a host name");
        assert!(!name.is_empty() && !name.contains(char::is_whitespace));
    }
}
