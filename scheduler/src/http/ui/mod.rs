//! The web UI on the HTTP port: server-rendered pages (no scripts, no external
//! assets) over the same data as the JSON API: the cluster (`/`), submitted jobs and
//! pipelines (`/jobs`), distributed queries with their stages and tasks (`/queries`),
//! streaming queries with charts of their batches (`/streams`)
//! and the catalog's tables with their schemas and snapshots (`/tables`). Pages of
//! things that change reload themselves every few seconds.

mod pages;
mod queries;
pub mod svg;

use axum::Router;
use axum::response::Html;
use axum::routing::get;

use super::HttpState;

/// How often live pages reload, seconds.
const REFRESH_SECONDS: u32 = 3;

/// The UI's routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/", get(pages::cluster))
        .route("/jobs", get(pages::jobs))
        .route("/jobs/{id}", get(pages::job))
        .route("/queries", get(queries::queries))
        .route("/queries/{id}", get(queries::query))
        .route("/streams", get(pages::streams))
        .route("/streams/{id}", get(pages::stream))
        .route("/tables", get(pages::tables))
        .route("/tables/{namespace}/{table}", get(pages::table))
}

/// `text` escaped for HTML text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment escaped for a link.
fn url_segment(text: &str) -> String {
    sparkling_connectors::iceberg::catalog::percent_encode(text)
}

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2a44; color: #fff; padding: 10px 24px; display: flex; gap: 24px; align-items: baseline; }
header a { color: #cfe0ff; text-decoration: none; }
header a.here { color: #fff; font-weight: 600; }
header .brand { font-weight: 700; font-size: 17px; color: #ffd76a; }
main { padding: 16px 24px; }
h1 { font-size: 20px; margin: 4px 0 12px; }
h2 { font-size: 16px; margin: 20px 0 8px; }
table { border-collapse: collapse; background: #fff; margin-bottom: 12px; }
th, td { border: 1px solid #dde1e8; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-weight: 600; }
.FINISHED, .COMPLETED, .ACTIVE, .RUNNING, .SUCCEEDED { color: #1b7a36; }
.FAILED, .ERROR { color: #b3261e; }
.KILLED, .STOPPED, .SKIPPED { color: #6b6f7a; }
.muted { color: #6b6f7a; }
pre { background: #fff; border: 1px solid #dde1e8; padding: 8px; overflow-x: auto; max-width: 1100px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 12px; }
.card { background: #fff; border: 1px solid #dde1e8; padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 22px; }
progress { width: 90px; vertical-align: middle; }
details summary { cursor: pointer; color: #3a5a9a; }
svg { background: #fff; border: 1px solid #dde1e8; margin: 0 12px 12px 0; }
svg .chart-title { font-weight: 600; font-size: 12px; }
svg .tick { font-size: 11px; fill: #4a5060; }
svg .axis { stroke: #99a; }
svg .node-name { font-size: 12px; font-weight: 600; }
svg .node-label { font-size: 11px; fill: #4a5060; }
";

/// A whole page: navigation, `title`, `body`; `live` pages reload themselves.
fn page(here: &str, title: &str, live: bool, body: &str) -> Html<String> {
    let nav = [
        ("/", "Cluster"),
        ("/jobs", "Jobs"),
        ("/queries", "Queries"),
        ("/streams", "Streams"),
        ("/tables", "Tables"),
    ]
    .iter()
    .map(|(href, name)| {
        let class = if *name == here { " class=\"here\"" } else { "" };
        format!("<a href=\"{href}\"{class}>{name}</a>")
    })
    .collect::<String>();
    let refresh = if live {
        format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">")
    } else {
        String::new()
    };
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}\
         <link rel=\"icon\" href=\"data:,\"><title>{title} - Sparkling</title>\
         <style>{STYLE}</style></head><body><header><span class=\"brand\">Sparkling</span>\
         {nav}</header><main><h1>{title}</h1>{body}</main></body></html>",
        title = esc(title)
    ))
}

/// Milliseconds as `850 ms`, `12.3 s` or `4.0 min`.
fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{:.1} min", ms as f64 / 60_000.0)
    }
}

/// Epoch milliseconds as `2026-11-30 16:02:11 UTC`.
fn time(ms: i64) -> String {
    let t = sparkling_engine::clock::utc(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_pages_are_whole() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(url_segment("driver-1 2/x"), "driver-1%202%2Fx");
        let Html(html) = page("Jobs", "Jobs <1>", true, "<p>x</p>");
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>"));
        assert!(html.contains("<title>Jobs &lt;1&gt; - Sparkling</title>"));
        assert!(html.contains("<a href=\"/jobs\" class=\"here\">Jobs</a>"));
        assert!(html.contains("http-equiv=\"refresh\""));
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_340), "12.3 s");
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
    }
}
