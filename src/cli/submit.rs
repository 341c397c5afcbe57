//! `sparkling submit | status | kill | jobs`: jobs on a cluster through the scheduler's
//! REST submission server (Spark's standalone REST shapes), as `spark-submit` uses a
//! standalone master's.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use sparkling_sql::pipeline_spec::PipelineBundle;

use super::{MasterArgs, SubmitArgs};

/// Exit codes of `sparkling submit --wait` by final state.
fn exit_code(state: &str) -> i32 {
    match state {
        "FINISHED" => 0,
        "KILLED" => 3,
        "ERROR" => 4,
        _ => 1,
    }
}

/// The scheduler's REST server.
struct Master {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Master {
    fn new(args: &MasterArgs) -> anyhow::Result<Self> {
        let master = args.master.trim_end_matches('/');
        // `spark://HOST:PORT` as spark-submit spells a master.
        let base = match master.strip_prefix("spark://") {
            Some(rest) => format!("http://{rest}"),
            None if master.starts_with("http://") || master.starts_with("https://") => {
                master.to_string()
            }
            None => {
                bail!("--master must be http://HOST:PORT (the scheduler's HTTP port), got {master}")
            }
        };
        Ok(Self {
            base,
            token: args.token.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the scheduler at {}", self.base))?;
        let status = response.status();
        let text = response.text().await?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{url} answered {status} with no JSON: {text}"))?;
        if value["action"] == "ErrorResponse" {
            bail!("{}", value["message"].as_str().unwrap_or(&text));
        }
        Ok(value)
    }

    async fn job(&self, id: &str) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/submissions/{id}"),
            None,
        )
        .await
    }
}

/// `sparkling submit FILE`.
pub async fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let master = Master::new(&args.master)?;
    let is_pipeline = args
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"));
    // A pipeline travels with the SQL files its spec names.
    let content = if is_pipeline {
        PipelineBundle::read(&args.file)?.to_json()?
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?
    };
    let mut properties = BTreeMap::new();
    for kv in &args.conf {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--conf takes KEY=VALUE, got {kv:?}");
        };
        properties.insert(k.trim().to_string(), v.to_string());
    }
    if let Some(name) = &args.name {
        properties.insert("spark.app.name".into(), name.clone());
    }
    let request = json!({
        "action": "CreateSubmissionRequest",
        "appResource": args.file.display().to_string(),
        "appContent": content,
        "appArgs": [],
        "sparkProperties": properties,
        "environmentVariables": {},
        "clientSparkVersion": sparkling_proto::SPARK_VERSION,
    });
    let created = master
        .call(
            reqwest::Method::POST,
            "/v1/submissions/create",
            Some(request),
        )
        .await?;
    let id = created["submissionId"]
        .as_str()
        .context("the scheduler answered without a submissionId")?
        .to_string();
    println!("{id}");
    if !args.wait {
        return Ok(());
    }
    let state = watch(&master, &id).await?;
    if state != "FINISHED" {
        std::process::exit(exit_code(&state));
    }
    Ok(())
}

/// Prints what a pipeline's datasets did since `shown` (dataset -> the state and
/// duration last printed; a new refresh of a dataset has a new duration).
fn report_datasets(pipeline: &Value, shown: &mut BTreeMap<String, (String, Option<u64>)>) {
    for d in pipeline["datasets"].as_array().cloned().unwrap_or_default() {
        let name = d["name"].as_str().unwrap_or("").to_string();
        let state = d["state"].as_str().unwrap_or("").to_string();
        let key = (state.clone(), d["durationMs"].as_u64());
        if state == "PENDING" || shown.get(&name) == Some(&key) {
            continue;
        }
        let streaming = d["kind"] == "STREAMING_TABLE";
        let kind = if streaming {
            "streaming table"
        } else {
            "materialized view"
        };
        let mut detail = match state.as_str() {
            // A continuous stream, started and left running.
            "RUNNING" if streaming && !d["durationMs"].is_null() => {
                "running continuously".to_string()
            }
            "RUNNING" => {
                // Started; reported again when it completes.
                eprintln!("{name} ({kind}) ...");
                shown.insert(name, key);
                continue;
            }
            "COMPLETED" => format!(
                "{} rows, {} ms",
                d["rowsWritten"].as_u64().unwrap_or(0),
                d["durationMs"].as_u64().unwrap_or(0)
            ),
            _ => d["error"].as_str().unwrap_or("").to_string(),
        };
        for e in d["expectations"].as_array().cloned().unwrap_or_default() {
            detail.push_str(&format!(
                "; expectation {}: {} passed, {} failed ({})",
                e["name"].as_str().unwrap_or(""),
                e["passed"],
                e["failed"],
                e["on_violation"].as_str().unwrap_or("")
            ));
        }
        eprintln!("{name} ({kind}): {state} ({detail})");
        shown.insert(name, key);
    }
}

/// Prints a job's statements (or a pipeline's datasets) as they finish, until it
/// ends; returns its final state.
async fn watch(master: &Master, id: &str) -> anyhow::Result<String> {
    let mut reported = 0;
    let mut running_shown = None;
    let mut streams_shown = false;
    let mut datasets_shown = BTreeMap::new();
    loop {
        let job = master.job(id).await?;
        if job["pipeline"].is_object() {
            report_datasets(&job["pipeline"], &mut datasets_shown);
        }
        let statements = job["statements"].as_array().cloned().unwrap_or_default();
        let total = statements.len();
        while let Some(s) = statements.get(reported) {
            let state = s["state"].as_str().unwrap_or("");
            if state == "PENDING" || state == "RUNNING" {
                if state == "RUNNING" && running_shown != Some(reported) {
                    eprintln!(
                        "[{}/{total}] line {}: {} ...",
                        reported + 1,
                        s["line"],
                        sparkling_sql::script::first_line(s["text"].as_str().unwrap_or(""), 80)
                    );
                    running_shown = Some(reported);
                }
                break;
            }
            let detail = match state {
                "FINISHED" => format!(
                    "{} rows, {} ms",
                    s["rows"].as_u64().unwrap_or(0),
                    s["durationMs"].as_u64().unwrap_or(0)
                ),
                _ => s["error"].as_str().unwrap_or(state).to_string(),
            };
            eprintln!(
                "[{}/{total}] line {}: {state} ({detail})",
                reported + 1,
                s["line"]
            );
            reported += 1;
        }
        let state = job["state"].as_str().unwrap_or("UNKNOWN").to_string();
        // (A pipeline reports its streams as datasets.)
        if reported == total && state == "RUNNING" && !streams_shown && job["pipeline"].is_null() {
            if let Some(streams) = job["streams"].as_array().filter(|s| !s.is_empty()) {
                let ids: Vec<_> = streams.iter().filter_map(|s| s.as_str()).collect();
                eprintln!(
                    "running streaming queries {} (sparkling streams; sparkling kill {id} stops them)",
                    ids.join(", ")
                );
            }
            streams_shown = true;
        }
        if !matches!(state.as_str(), "SUBMITTED" | "RUNNING") {
            match job["message"].as_str() {
                Some(message) => eprintln!("{id} {state}: {message}"),
                None => eprintln!("{id} {state}"),
            }
            return Ok(state);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `sparkling status ID`.
pub async fn status(master: MasterArgs, id: String) -> anyhow::Result<()> {
    let master = Master::new(&master)?;
    let status = master
        .call(
            reqwest::Method::GET,
            &format!("/v1/submissions/status/{id}"),
            None,
        )
        .await?;
    if status["success"] != true {
        bail!(
            "{}",
            status["message"].as_str().unwrap_or("unknown submission")
        );
    }
    match status["message"].as_str() {
        Some(message) => println!(
            "{id} {}: {message}",
            status["driverState"].as_str().unwrap_or("")
        ),
        None => println!("{id} {}", status["driverState"].as_str().unwrap_or("")),
    }
    Ok(())
}

/// `sparkling kill ID`.
pub async fn kill(master: MasterArgs, id: String) -> anyhow::Result<()> {
    let master = Master::new(&master)?;
    let answer = master
        .call(
            reqwest::Method::POST,
            &format!("/v1/submissions/kill/{id}"),
            None,
        )
        .await?;
    let message = answer["message"].as_str().unwrap_or("");
    if answer["success"] != true {
        bail!("{message}");
    }
    println!("{message}");
    Ok(())
}

/// `sparkling jobs`.
pub async fn jobs(master: MasterArgs) -> anyhow::Result<()> {
    let master = Master::new(&master)?;
    let jobs = master
        .call(reqwest::Method::GET, "/api/v1/submissions", None)
        .await?;
    let jobs = jobs.as_array().cloned().unwrap_or_default();
    if jobs.is_empty() {
        println!("no jobs");
        return Ok(());
    }
    println!(
        "{:<28} {:<20} {:<9} {:>10} {:>9}  message",
        "id", "name", "state", "steps", "seconds"
    );
    for job in jobs {
        // A pipeline's steps are its datasets.
        let (steps, finished) = match job["pipeline"]["datasets"].as_array() {
            Some(datasets) => (datasets.clone(), "COMPLETED"),
            None => (
                job["statements"].as_array().cloned().unwrap_or_default(),
                "FINISHED",
            ),
        };
        let done = steps.iter().filter(|s| s["state"] == finished).count();
        let seconds = match (job["startedMs"].as_i64(), job["endedMs"].as_i64()) {
            (Some(start), Some(end)) => format!("{:.1}", (end - start) as f64 / 1000.0),
            (Some(_), None) => "running".into(),
            _ => "-".into(),
        };
        println!(
            "{:<28} {:<20} {:<9} {:>10} {:>9}  {}",
            job["id"].as_str().unwrap_or(""),
            job["name"].as_str().unwrap_or(""),
            job["state"].as_str().unwrap_or(""),
            format!("{done}/{}", steps.len()),
            seconds,
            sparkling_sql::script::first_line(job["message"].as_str().unwrap_or(""), 80)
        );
    }
    Ok(())
}
