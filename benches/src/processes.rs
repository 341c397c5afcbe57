//! Sparkling as the harness runs it, from the release binary: `sparkling local` (one
//! process) or a cluster of a scheduler and executor processes on loopback; each is
//! timed from process start to its first answer, reports its processes' resident
//! memory, and is stopped when dropped.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sparkling_benches::peers::{ProcMemory, memory_of};
use sparkling_client::SparkSession;

/// A running Sparkling: its processes (killed on drop) and its gateway's URL.
pub struct Sparkling {
    processes: Vec<(String, Child)>,
    /// The gateway, `sc://127.0.0.1:PORT`.
    pub url: String,
    /// Process start to the first answered query (with every executor registered).
    pub cold_start: Duration,
}

impl Drop for Sparkling {
    fn drop(&mut self) {
        for (_, child) in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn spawn(bin: &Path, args: &[String], log: &Path) -> anyhow::Result<Child> {
    let log = std::fs::File::create(log)?;
    Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))
}

/// The body of `GET http://127.0.0.1:{port}{path}`, if it answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let body = response.split_once("\r\n\r\n")?.1;
    Some(body.to_string())
}

/// Executors registered with the scheduler whose HTTP port is `port`.
fn registered_executors(port: u16) -> usize {
    http_get(port, "/api/v1/cluster")
        .and_then(|body| {
            let json = &body[body.find('{')?..=body.rfind('}')?];
            serde_json::from_str::<serde_json::Value>(json).ok()
        })
        .and_then(|v| v["executors"].as_array().map(Vec::len))
        .unwrap_or(0)
}

impl Sparkling {
    /// `sparkling local --executors 2 --slots <slots>` with its catalog and warehouse
    /// under `work`.
    pub async fn local(bin: &Path, work: &Path, slots: usize) -> anyhow::Result<Self> {
        std::fs::create_dir_all(work)?;
        let port = free_port()?;
        let args: Vec<String> = vec![
            "local".into(),
            "--executors".into(),
            "2".into(),
            "--slots".into(),
            slots.to_string(),
            "--connect-port".into(),
            port.to_string(),
            "--catalog-port".into(),
            "0".into(),
            "--http-port".into(),
            "0".into(),
            "--warehouse".into(),
            work.join("warehouse").display().to_string(),
            "--catalog-db".into(),
            work.join("catalog.db").display().to_string(),
            "--work-dir".into(),
            work.join("shuffle").display().to_string(),
        ];
        let started = Instant::now();
        let child = spawn(bin, &args, &work.join("local.log"))?;
        let mut me = Self {
            processes: vec![("local".into(), child)],
            url: format!("sc://127.0.0.1:{port}"),
            cold_start: Duration::ZERO,
        };
        me.cold_start = me.first_answer(started).await?;
        Ok(me)
    }

    /// `sparkling scheduler` and `executors` `sparkling executor --slots <slots>` processes.
    pub async fn cluster(
        bin: &Path,
        work: &Path,
        executors: usize,
        slots: usize,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(work)?;
        let (port, connect, http) = (free_port()?, free_port()?, free_port()?);
        let started = Instant::now();
        let scheduler = spawn(
            bin,
            &[
                "scheduler".into(),
                "--port".into(),
                port.to_string(),
                "--connect-port".into(),
                connect.to_string(),
                "--http-port".into(),
                http.to_string(),
            ],
            &work.join("scheduler.log"),
        )?;
        let mut me = Self {
            processes: vec![("scheduler".into(), scheduler)],
            url: format!("sc://127.0.0.1:{connect}"),
            cold_start: Duration::ZERO,
        };
        // Executors give up at once if the scheduler does not answer, as a deployment's
        // health check would, start them once it listens.
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            me.check_running()?;
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "the scheduler did not listen within 30 s; see {}",
                    work.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for i in 1..=executors {
            let (flight, grpc) = (free_port()?, free_port()?);
            let child = spawn(
                bin,
                &[
                    "executor".into(),
                    "--scheduler".into(),
                    format!("127.0.0.1:{port}"),
                    "--port".into(),
                    flight.to_string(),
                    "--grpc-port".into(),
                    grpc.to_string(),
                    "--slots".into(),
                    slots.to_string(),
                    "--work-dir".into(),
                    work.join(format!("executor-{i}")).display().to_string(),
                ],
                &work.join(format!("executor-{i}.log")),
            )?;
            me.processes.push((format!("executor {i}"), child));
        }
        while registered_executors(http) < executors {
            me.check_running()?;
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "the executors did not register within 30 s; see {}",
                    work.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        me.cold_start = me.first_answer(started).await?;
        Ok(me)
    }

    async fn first_answer(&mut self, started: Instant) -> anyhow::Result<Duration> {
        loop {
            if let Ok(s) = SparkSession::connect(&self.url).await
                && s.run_sql("select 1").await.is_ok()
            {
                return Ok(started.elapsed());
            }
            self.check_running()?;
            if started.elapsed() > Duration::from_secs(30) {
                bail!("sparkling did not answer within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// An error if one of the processes has exited.
    fn check_running(&mut self) -> anyhow::Result<()> {
        for (role, child) in &mut self.processes {
            if let Some(status) = child.try_wait()? {
                bail!("sparkling {role} exited ({status})");
            }
        }
        Ok(())
    }

    /// Each process's role and memory now.
    pub fn memory(&self) -> Vec<(String, Option<ProcMemory>)> {
        self.processes
            .iter()
            .map(|(role, child)| (role.clone(), memory_of(child.id())))
            .collect()
    }
}

/// A scratch directory for one Sparkling, removed by the caller.
pub fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sparkling-bench-{}-{name}", std::process::id()))
}
