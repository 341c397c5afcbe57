//! `sparkling sql`: runs each statement of a script in order in one session and
//! prints each result.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use arrow::array::RecordBatch;
use sparkling_client::SparkSession;

use super::{OutputFormat, SqlArgs};

/// The statements of a script (split as submitted scripts are).
pub fn split_statements(script: &str) -> anyhow::Result<Vec<String>> {
    Ok(sparkling_sql::script::split(script)?
        .into_iter()
        .map(|s| s.text)
        .collect())
}

pub async fn run(args: SqlArgs) -> anyhow::Result<()> {
    let script = match (&args.file, &args.query) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (None, Some(q)) => q.clone(),
        (None, None) => anyhow::bail!("give a query or -f FILE"),
    };
    let statements = split_statements(&script)?;
    let session = SparkSession::connect(&super::streams::remote(args.remote)).await?;
    let interactive = std::io::stderr().is_terminal();
    let total = statements.len();
    for (i, statement) in statements.iter().enumerate() {
        let progress = interactive.then(|| spinner(i + 1, total));
        let started = Instant::now();
        let result = session.run_sql(statement).await;
        if let Some(p) = progress {
            p.finish_and_clear();
        }
        let result = result.map_err(|e| {
            if total > 1 {
                anyhow::anyhow!("statement {} of {total} failed: {e}", i + 1)
            } else {
                anyhow::anyhow!("{e}")
            }
        })?;
        print_result(&result.schema, &result.batches, args.format)?;
        if interactive {
            let rows: usize = result.batches.iter().map(|b| b.num_rows()).sum();
            eprintln!("({rows} rows, {:.3}s)", started.elapsed().as_secs_f64());
        }
    }
    let _ = session.stop().await;
    Ok(())
}

fn spinner(n: usize, total: usize) -> indicatif::ProgressBar {
    let p = indicatif::ProgressBar::new_spinner();
    p.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} statement {msg} running {elapsed}")
    {
        p.set_style(style);
    }
    p.set_message(format!("{n}/{total}"));
    p.enable_steady_tick(Duration::from_millis(120));
    p
}

pub(super) fn print_result(
    schema: &arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    format: OutputFormat,
) -> anyhow::Result<()> {
    if schema.fields().is_empty() {
        return Ok(());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        OutputFormat::Table => {
            let table = if batches.is_empty() {
                arrow::util::pretty::pretty_format_batches(&[RecordBatch::new_empty(
                    schema.clone(),
                )])?
            } else {
                arrow::util::pretty::pretty_format_batches(batches)?
            };
            writeln!(out, "{table}")?;
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for b in batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn splits_on_top_level_semicolons_only() {
        let script = "-- a comment; with a semicolon\nselect 'a;b' as x;\n/* block; */ select 2;\n\n-- trailing comment\n";
        let s = split_statements(script).unwrap();
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0], "select 'a;b' as x");
        assert_eq!(s[1], "select 2");
    }
}
