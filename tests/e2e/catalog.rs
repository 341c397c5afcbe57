//! The Iceberg REST catalog (`sparkling catalog`) as a separate process, driven by
//! pyiceberg (an independent client) over SQLite and PostgreSQL, and by raw HTTP for
//! malformed and conflicting requests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cluster::{binary, http};

/// A `sparkling catalog` process, killed when dropped.
pub struct CatalogProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub uri: String,
    log: PathBuf,
}

impl CatalogProcess {
    /// Starts a catalog on a free port; `extra` adds flags (e.g. `--auth-token`).
    pub fn start(db: &str, warehouse: &Path, dir: &Path, extra: &[&str]) -> Self {
        Self::start_at(db, &warehouse.to_string_lossy(), dir, extra, &[])
    }

    /// As [`CatalogProcess::start`], with the warehouse as a URL and extra environment
    /// variables (e.g. S3 settings).
    pub fn start_at(
        db: &str,
        warehouse: &str,
        dir: &Path,
        extra: &[&str],
        env: &[(String, String)],
    ) -> Self {
        use std::io::BufRead;
        let log = dir.join(format!("catalog-{}.log", uuid::Uuid::new_v4()));
        let mut child = Command::new(binary())
            .args([
                "catalog",
                "--port",
                "0",
                "--db",
                db,
                "--warehouse",
                warehouse,
            ])
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start catalog");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(uri) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                    let _ = tx.send(uri.to_string());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(uri) => Self { child, uri, log },
            Err(_) => panic!(
                "the catalog did not start; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        }
    }

    /// The catalog's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// host:port of the server.
    fn addr(&self) -> &str {
        self.uri.trim_start_matches("http://")
    }
}

impl Drop for CatalogProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Python with pyiceberg: `SPARKLING_TEST_PYTHON` (set by scripts/test.sh) or
/// `python3` if that can import pyiceberg.
pub fn python() -> String {
    let python = std::env::var("SPARKLING_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import pyiceberg, pyarrow, pyiceberg_core"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{python} cannot import pyiceberg and pyarrow; run scripts/test.sh (which makes a venv) \
         or set SPARKLING_TEST_PYTHON"
    );
    python
}

pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/python")
        .join(name)
}

/// Runs a Python script or snippet and returns its stdout, failing with its output.
pub fn run_python(args: &[&str], catalog: &CatalogProcess) -> String {
    run_python_with_env(args, catalog, &[])
}

/// As [`run_python`], with extra environment variables.
pub fn run_python_with_env(
    args: &[&str],
    catalog: &CatalogProcess,
    env: &[(String, String)],
) -> String {
    let out = Command::new(python())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{}\n{}\ncatalog log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        catalog.log()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pyiceberg_session(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = dir.path().join("warehouse");
    let catalog = CatalogProcess::start(db, &warehouse, dir.path(), &[]);
    let checks = script("catalog_with_pyiceberg.py");
    let out = run_python(
        &[
            checks.to_str().unwrap(),
            &catalog.uri,
            warehouse.to_str().unwrap(),
        ],
        &catalog,
    );
    assert!(out.contains("all catalog checks passed"), "{out}");
    // The catalog's state is in the database: a restarted catalog serves the same table.
    drop(catalog);
    let catalog = CatalogProcess::start(db, &warehouse, dir.path(), &[]);
    let snippet = format!(
        "from pyiceberg.catalog import load_catalog\n\
         t = load_catalog('c', type='rest', uri='{}').load_table('sales.orders')\n\
         print(t.scan().to_arrow().num_rows, len(t.snapshots()))",
        catalog.uri
    );
    let out = run_python(&["-c", &snippet], &catalog);
    assert_eq!(out.trim(), "500 5", "after restart");
}

#[test]
fn pyiceberg_drives_the_catalog_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    pyiceberg_session(&format!(
        "sqlite:{}",
        dir.path().join("metadata/iceberg_catalog.db").display()
    ));
}

/// Runs against the PostgreSQL server scripts/test.sh starts
/// (`SPARKLING_TEST_POSTGRES_URL`, a database the test may fill).
#[test]
fn pyiceberg_drives_the_catalog_on_postgres() {
    let Ok(url) = std::env::var("SPARKLING_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("SPARKLING_TEST_REQUIRE_SERVICES").is_err(),
            "SPARKLING_TEST_POSTGRES_URL is not set"
        );
        eprintln!("skipped: SPARKLING_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)");
        return;
    };
    pyiceberg_session(&url);
}

#[test]
fn bad_requests_get_clear_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("c.db").display());
    let catalog = CatalogProcess::start(&db, &dir.path().join("wh"), dir.path(), &[]);
    let addr = catalog.addr();

    let (status, body) = http(addr, "GET", "/v1/config", "", &[]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("POST /v1/{prefix}/namespaces/{namespace}/tables/{table}"));

    let (status, body) = http(addr, "POST", "/v1/namespaces", "{not json", &[]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("BadRequestException") && body.contains("invalid request body"));

    let (status, body) = http(
        addr,
        "POST",
        "/v1/namespaces",
        r#"{"namespace":"flat"}"#,
        &[],
    );
    assert_eq!(status, 400, "{body}");

    let (status, body) = http(addr, "GET", "/v1/namespaces/nowhere/tables", "", &[]);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("NoSuchNamespaceException") && body.contains("nowhere"));

    let (status, _) = http(
        addr,
        "POST",
        "/v1/namespaces",
        r#"{"namespace":["ns"]}"#,
        &[],
    );
    assert_eq!(status, 200);
    let (status, body) = http(
        addr,
        "POST",
        "/v1/namespaces/ns/tables",
        r#"{"name":"t"}"#,
        &[],
    );
    assert_eq!(status, 400, "a table without a schema: {body}");
    assert!(body.contains("schema"), "{body}");

    let create = r#"{"name":"t","schema":{"type":"struct","schema-id":0,"fields":[
        {"id":1,"name":"id","required":true,"type":"long"}]}}"#;
    let (status, body) = http(addr, "POST", "/v1/namespaces/ns/tables", create, &[]);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let uuid = v["metadata"]["table-uuid"].as_str().unwrap().to_string();
    let location = v["metadata-location"].as_str().unwrap().to_string();

    // A commit whose requirement does not hold is a 409 and changes nothing.
    let stale = r#"{"requirements":[{"type":"assert-table-uuid","uuid":"00000000-0000-0000-0000-000000000000"}],
            "updates":[{"action":"set-properties","updates":{"k":"v"}}]}"#;
    let (status, body) = http(addr, "POST", "/v1/namespaces/ns/tables/t", stale, &[]);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("CommitFailedException"), "{body}");
    let (_, body) = http(addr, "GET", "/v1/namespaces/ns/tables/t", "", &[]);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["metadata-location"].as_str().unwrap(), location);
    assert!(v["metadata"]["properties"].get("k").is_none());

    // The same commit with the right requirement lands.
    let good = stale.replace("00000000-0000-0000-0000-000000000000", &uuid);
    let (status, body) = http(addr, "POST", "/v1/namespaces/ns/tables/t", &good, &[]);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["metadata"]["properties"]["k"], "v");
    assert_ne!(v["metadata-location"].as_str().unwrap(), location);

    // An update the metadata rejects is a 400, not a server error.
    let bad_update =
        r#"{"requirements":[],"updates":[{"action":"set-current-schema","schema-id":42}]}"#;
    let (status, body) = http(addr, "POST", "/v1/namespaces/ns/tables/t", bad_update, &[]);
    assert_eq!(status, 400, "{body}");

    let (status, body) = http(addr, "POST", "/v1/namespaces/ns/tables/missing", &good, &[]);
    assert_eq!(status, 404, "{body}");
    let (status, _) = http(addr, "HEAD", "/v1/namespaces/ns/tables/missing", "", &[]);
    assert_eq!(status, 404);
    let (status, _) = http(addr, "HEAD", "/v1/namespaces/ns/tables/t", "", &[]);
    assert_eq!(status, 204);
    let (status, body) = http(addr, "DELETE", "/v1/namespaces/ns", "", &[]);
    assert_eq!(status, 409, "{body}");
    let (status, body) = http(addr, "GET", "/v1/no/such/route", "", &[]);
    assert_eq!(status, 404, "{body}");
}

#[test]
fn a_token_protected_catalog_refuses_clients_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("c.db").display());
    let catalog = CatalogProcess::start(
        &db,
        &dir.path().join("wh"),
        dir.path(),
        &["--auth-token", "s3cret"],
    );
    let (status, body) = http(catalog.addr(), "GET", "/v1/namespaces", "", &[]);
    assert_eq!(status, 401, "{body}");
    let (status, _) = http(
        catalog.addr(),
        "GET",
        "/v1/namespaces",
        "",
        &["Authorization: Bearer wrong"],
    );
    assert_eq!(status, 401);
    let (status, body) = http(
        catalog.addr(),
        "GET",
        "/v1/namespaces",
        "",
        &["Authorization: Bearer s3cret"],
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_catalog_that_cannot_open_its_storage_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = Command::new(binary())
        .args(["catalog", "--port", "0", "--db"])
        .arg(format!("sqlite:{}", dir.path().join("c.db").display()))
        .arg("--warehouse")
        .arg(file.join("wh"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warehouse"), "{err}");

    let out = Command::new(binary())
        .args(["catalog", "--port", "0", "--db", "mysql://nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sqlite:PATH or postgres://"), "{err}");
}
