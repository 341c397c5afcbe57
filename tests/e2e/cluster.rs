//! Starts a real cluster (scheduler + executors as child processes) for a test.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use sparkling_client::SparkSession;

/// The `sparkling` binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_sparkling")
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An executor process and its work directory.
pub struct Executor {
    pub child: Child,
    pub work_dir: PathBuf,
}

impl Executor {
    /// The job directories (shuffle output) in its work directory.
    pub fn job_dirs(&self) -> std::collections::HashSet<PathBuf> {
        std::fs::read_dir(self.work_dir.join(sparkling_executor::SHUFFLE_DIR))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A scheduler and its executors, killed when dropped.
pub struct TestCluster {
    pub scheduler: Child,
    pub executors: Vec<Executor>,
    pub scheduler_port: u16,
    pub connect_port: u16,
    /// The scheduler's HTTP port (REST submissions, JSON API).
    pub http_port: u16,
    pub dir: tempfile::TempDir,
    slots: usize,
    /// Extra environment variables of every process (e.g. S3 settings).
    env: Vec<(String, String)>,
    /// Extra scheduler flags.
    scheduler_args: Vec<String>,
    /// How often the scheduler was started (each start has its own log).
    scheduler_starts: usize,
    /// The running scheduler's process id, for the watchdog.
    scheduler_pid: Arc<AtomicU32>,
    /// Dropped with the cluster, which stops its watchdog.
    _watchdog: mpsc::Sender<()>,
}

/// How long a test may keep a cluster: every test finishes well within it, so a test
/// still running then is hung (a query that never ends).
const TEST_DEADLINE: Duration = Duration::from_secs(600);

/// Turns a hung test into a failure instead of letting it use up CI's time: if the
/// cluster is still alive after [`TEST_DEADLINE`], prints its processes' logs (the
/// evidence) and kills its scheduler, so the test's pending call fails and it panics.
fn watchdog(dir: PathBuf, scheduler_pid: Arc<AtomicU32>) -> mpsc::Sender<()> {
    let (alive, dropped) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = dropped.recv_timeout(TEST_DEADLINE) {
            eprintln!(
                "a test kept its cluster for more than {TEST_DEADLINE:?}: killing its scheduler; logs:\n{}",
                logs_in(&dir)
            );
            let pid = scheduler_pid.load(Ordering::SeqCst).to_string();
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    });
    alive
}

impl TestCluster {
    /// Starts a scheduler and `executors` executors with `slots` slots each.
    ///
    /// The scheduler binds port 0 and the test reads the ports it got from its
    /// output, so parallel tests never race for a scheduler or gateway port.
    pub async fn start(executors: usize, slots: usize) -> Self {
        Self::start_with(executors, slots, &[]).await
    }

    /// As [`TestCluster::start`], with extra scheduler flags (e.g. `--catalog URI`).
    pub async fn start_with(executors: usize, slots: usize, scheduler_args: &[&str]) -> Self {
        Self::start_with_env(executors, slots, scheduler_args, &[]).await
    }

    /// As [`TestCluster::start_with`], with extra environment variables for the
    /// scheduler and every executor.
    pub async fn start_with_env(
        executors: usize,
        slots: usize,
        scheduler_args: &[&str],
        env: &[(String, String)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let scheduler_args: Vec<String> = scheduler_args.iter().map(|a| a.to_string()).collect();
        let (scheduler, [scheduler_port, connect_port, http_port]) =
            spawn_scheduler(dir.path(), [0, 0, 0], &scheduler_args, env, "scheduler");
        let scheduler_pid = Arc::new(AtomicU32::new(scheduler.id()));
        let _watchdog = watchdog(dir.path().to_path_buf(), Arc::clone(&scheduler_pid));
        let mut cluster = TestCluster {
            scheduler,
            executors: Vec::new(),
            scheduler_port,
            connect_port,
            http_port,
            dir,
            slots,
            env: env.to_vec(),
            scheduler_args,
            scheduler_starts: 1,
            scheduler_pid,
            _watchdog,
        };
        for i in 0..executors {
            let child = cluster.spawn_executor(i, slots);
            cluster.executors.push(child);
        }
        cluster.wait_for_executors(executors).await;
        cluster
    }

    /// Sets the environment of processes started from now on.
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    pub fn set_env(&mut self, env: &[(String, String)]) {
        self.env = env.to_vec();
    }

    /// SIGKILLs the scheduler (no chance to clean up or stop its queries).
    pub fn kill_scheduler(&mut self) {
        let _ = self.scheduler.kill();
        let _ = self.scheduler.wait();
    }

    /// Starts the scheduler again on the same ports, with the same flags; executors
    /// register again by themselves.
    pub fn start_scheduler_again(&mut self) {
        self.scheduler_starts += 1;
        let name = format!("scheduler-{}", self.scheduler_starts);
        let (scheduler, _) = spawn_scheduler(
            self.dir.path(),
            [self.scheduler_port, self.connect_port, self.http_port],
            &self.scheduler_args,
            &self.env,
            &name,
        );
        self.scheduler_pid.store(scheduler.id(), Ordering::SeqCst);
        self.scheduler = scheduler;
    }

    /// Starts one more executor process (not yet tracked).
    pub fn spawn_executor(&self, i: usize, slots: usize) -> Executor {
        let port = free_port();
        let grpc_port = free_port();
        let work_dir: PathBuf = self.dir.path().join(format!("executor-{i}-{port}"));
        let child = Command::new(binary())
            .args([
                "executor",
                "--scheduler",
                &format!("127.0.0.1:{}", self.scheduler_port),
            ])
            .args([
                "--port",
                &port.to_string(),
                "--grpc-port",
                &grpc_port.to_string(),
            ])
            .args(["--slots", &slots.to_string()])
            .arg("--work-dir")
            .arg(&work_dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log_file(self.dir.path(), &format!("executor-{i}-{port}")))
            .spawn()
            .expect("start executor");
        Executor { child, work_dir }
    }

    /// The gateway URL.
    pub fn url(&self) -> String {
        let token = self
            .scheduler_args
            .iter()
            .position(|a| a == "--auth-token")
            .and_then(|i| self.scheduler_args.get(i + 1));
        match token {
            Some(token) => format!("sc://127.0.0.1:{}/;token={token}", self.connect_port),
            None => format!("sc://127.0.0.1:{}", self.connect_port),
        }
    }

    /// A new SDK session.
    pub async fn session(&self) -> SparkSession {
        SparkSession::connect(&self.url()).await.expect("connect")
    }

    /// Waits until the cluster runs jobs: a query over client data (which runs on the
    /// executors) succeeds and every executor process is still alive a moment later.
    /// An executor that exited while starting (its port was taken by another test
    /// between choosing and binding it, or its registration failed) is started again.
    pub async fn wait_for_executors(&mut self, _n: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut restarts = 0;
        let mut answered = false;
        loop {
            if answered {
                // Registration fails within moments of starting; give it that long.
                tokio::time::sleep(Duration::from_secs(1)).await;
                if self
                    .executors
                    .iter_mut()
                    .all(|e| matches!(e.child.try_wait(), Ok(None)))
                {
                    return;
                }
                answered = false;
            }
            for i in 0..self.executors.len() {
                if let Ok(Some(status)) = self.executors[i].child.try_wait() {
                    assert!(
                        restarts < 5,
                        "executors keep exiting ({status}); logs:\n{}",
                        self.logs()
                    );
                    restarts += 1;
                    self.executors[i] = self.spawn_executor(100 + restarts, self.slots);
                }
            }
            if let Ok(s) = SparkSession::connect(&self.url()).await
                && let Ok(df) = s.create_dataframe(vec![numbers(10)])
                && df.count().await.is_ok()
            {
                answered = true;
                continue;
            }
            if let Ok(Some(status)) = self.scheduler.try_wait() {
                panic!("the scheduler exited ({status}); logs:\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "cluster did not come up within 120s; logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The logs of all processes (for failure messages).
    pub fn logs(&self) -> String {
        logs_in(self.dir.path())
    }
}

/// Every file under `dir`, at any depth (directories themselves are not listed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The `*.log` files in `dir`, one after the other.
fn logs_in(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().extension().is_some_and(|e| e == "log") {
            out.push_str(&format!("==> {}\n", entry.path().display()));
            out.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
    }
    out
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for child in self
            .executors
            .iter_mut()
            .map(|e| &mut e.child)
            .chain(std::iter::once(&mut self.scheduler))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts a scheduler process on the given ports (scheduler, gateway, HTTP; 0: any)
/// and returns it with the ports it got.
fn spawn_scheduler(
    dir: &Path,
    [port, connect_port, http_port]: [u16; 3],
    args: &[String],
    env: &[(String, String)],
    log: &str,
) -> (Child, [u16; 3]) {
    let mut scheduler = Command::new(binary())
        .args(["scheduler", "--port", &port.to_string()])
        .args(["--connect-port", &connect_port.to_string()])
        .args(["--http-port", &http_port.to_string()])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(log_file(dir, log))
        .spawn()
        .expect("start scheduler");
    let ports = read_scheduler_ports(
        scheduler.stdout.take().unwrap(),
        &dir.join(format!("{log}.log")),
    );
    (scheduler, ports)
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    std::fs::File::create(dir.join(format!("{name}.log")))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

/// Reads the scheduler's, gateway's and HTTP ports from the scheduler's ready message.
fn read_scheduler_ports(stdout: std::process::ChildStdout, log: &Path) -> [u16; 3] {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut scheduler, mut connect) = (None, None);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let port = || {
                line.rsplit(':')
                    .next()
                    .and_then(|p| p.trim().parse::<u16>().ok())
            };
            if line.contains("executors register here") {
                scheduler = port();
            } else if line.contains("Spark Connect") {
                connect = port();
            } else if line.contains("REST submissions") {
                let _ = tx.send((scheduler, connect, port()));
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok((Some(scheduler), Some(connect), Some(http))) => [scheduler, connect, http],
        other => panic!(
            "the scheduler did not report its ports ({other:?}); log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        ),
    }
}

/// Registers the TPC-H tables under `dir` in the cluster session and in a
/// single-process DataFusion context, which is returned as the reference engine.
pub async fn register_tpch(
    spark: &SparkSession,
    dir: &Path,
) -> datafusion::prelude::SessionContext {
    let reference = datafusion::prelude::SessionContext::new();
    for statement in sparkling_benches::tpch::create_tables_sql(dir) {
        spark.run_sql(&statement).await.unwrap();
        reference
            .sql(&statement)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
    }
    reference
}

/// The reference answer of TPC-H query `n`: DataFusion single-process on the same files.
pub async fn reference_answer(
    reference: &datafusion::prelude::SessionContext,
    n: usize,
) -> Vec<arrow::array::RecordBatch> {
    reference
        .sql(sparkling_benches::tpch::query(n))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
}

/// Panics unless `ours` and the reference answer have the same rows, in any order, with
/// numbers equal to the cent. Not exactly: Sparkling types literals as Spark does (`0.06`
/// is a decimal, `1` an int) where plain DataFusion does not, so the last digits of
/// averages and the text of numbers may differ.
pub fn assert_same_answer(
    ours: &[arrow::array::RecordBatch],
    reference: &[arrow::array::RecordBatch],
    what: &str,
) {
    use sparkling_benches::tpch::check::{compare, rows_of_batches};
    if let Err(e) = compare(
        rows_of_batches(ours).unwrap(),
        rows_of_batches(reference).unwrap(),
    ) {
        panic!("{what} differs from DataFusion single-process: {e}");
    }
}

/// The first row's value of integer column `column` of a result, as an i64 (Spark types
/// `1 + 1` as `int` and `count(*)` as `bigint`; both are read).
pub fn first_int64(batches: &[arrow::array::RecordBatch], column: usize) -> i64 {
    let array = batches[0].column(column);
    assert!(
        array.data_type().is_integer(),
        "an integer column, not {}",
        array.data_type()
    );
    let array = arrow::compute::cast(array, &arrow::datatypes::DataType::Int64).unwrap();
    array
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .expect("an Int64 column")
        .value(0)
}

/// A batch with one column `x` holding 0..n.
pub fn numbers(n: i64) -> arrow::array::RecordBatch {
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("x", arrow::datatypes::DataType::Int64, false),
    ]));
    arrow::array::RecordBatch::try_new(
        schema,
        vec![std::sync::Arc::new(
            arrow::array::Int64Array::from_iter_values(0..n),
        )],
    )
    .unwrap()
}

/// TPC-H data at a small scale factor, generated once per test run.
pub async fn tpch_data() -> PathBuf {
    static DIR: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    DIR.get_or_init(|| async {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tpch-sf0.01");
        sparkling_benches::tpch::data::generate_parquet(&dir, 0.01, 2)
            .await
            .expect("generate TPC-H data");
        dir
    })
    .await
    .clone()
}

/// Runs a statement, failing the test with the cluster's logs if it fails.
pub async fn sql(
    spark: &SparkSession,
    cluster: &TestCluster,
    query: &str,
) -> Vec<arrow::array::RecordBatch> {
    spark
        .run_sql(query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}\n{}", cluster.logs()))
        .batches
}

/// The plan `EXPLAIN` shows for a query.
pub async fn explain(spark: &SparkSession, query: &str) -> String {
    spark
        .sql(query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .explain(false)
        .await
        .unwrap_or_else(|e| panic!("explaining {query}: {e}"))
}

/// A minimal HTTP/1.1 request; returns (status, body). The body is written from a
/// thread of its own while the answer is read, so a server that answers before it has
/// read all of a large body (413) is heard.
pub fn http(addr: &str, method: &str, path: &str, body: &str, headers: &[&str]) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        // The server may close early (after refusing the request); that is its answer.
        let _ = writer.write_all(request.as_bytes());
    });
    let mut response = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = sending.join();
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `GET path` on the cluster's HTTP port with `headers`, which must answer 200 with
/// JSON.
pub fn get_json(cluster: &TestCluster, path: &str, headers: &[&str]) -> serde_json::Value {
    let (status, body) = http(
        &format!("127.0.0.1:{}", cluster.http_port),
        "GET",
        path,
        "",
        headers,
    );
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}
