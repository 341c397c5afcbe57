//! The TPC-H section of the report: best and cold times per engine, the answers'
//! cross-check, and the ratios of Sparkling to each peer.

use std::fmt::Write;

use super::EngineRun;

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}"))
        .unwrap_or_else(|| "failed".into())
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

/// What the cross-check found for query `n`: "agree", or which engines differ or fail.
fn answers(engines: &[EngineRun], n: usize) -> String {
    let mut problems = Vec::new();
    for e in engines {
        match &e.queries[n - 1] {
            Ok(q) => {
                if let Err(why) = &q.check {
                    problems.push(format!("{} DIFFERS: {why}", e.name));
                }
            }
            Err(why) => problems.push(format!("{} FAILED: {}", e.name, one_line(why))),
        }
    }
    if problems.is_empty() {
        "agree".into()
    } else {
        problems.join("; ")
    }
}

fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    let mut short: String = line.chars().take(120).collect();
    if short.len() < line.len() {
        short.push_str("...");
    }
    short.replace('|', "\\|")
}

pub(super) fn markdown(md: &mut String, engines: &[EngineRun]) {
    let Some(first) = engines.first() else {
        return;
    };
    let peers: Vec<&EngineRun> = engines.iter().filter(|e| !e.is_sparkling()).collect();
    let _ = writeln!(md, "## TPC-H\n");

    // Totals and ratios first: what a reader looks for.
    let _ = writeln!(
        md,
        "Total of the 22 best runs, and Sparkling's time as a multiple of each peer's (below 1: Sparkling is faster):\n"
    );
    let sparkling: Vec<&EngineRun> = engines.iter().filter(|e| e.is_sparkling()).collect();
    let mut header = "| engine | total best (ms) | total cold (ms) |".to_string();
    let mut rule = "|---|---:|---:|".to_string();
    for s in &sparkling {
        let _ = write!(header, " {} / engine |", s.name);
        rule.push_str("---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for e in engines {
        let mut row = format!(
            "| {} | {} | {} |",
            e.name,
            ms(e.total_best_ms()),
            ms(e.total_cold_ms())
        );
        for s in &sparkling {
            let _ = write!(row, " {} |", ratio(s.total_best_ms(), e.total_best_ms()));
        }
        let _ = writeln!(md, "{row}");
    }

    let _ = writeln!(md, "\nBest warm run per query (ms):\n");
    let mut header = "| query |".to_string();
    let mut rule = "|---|".to_string();
    for e in engines {
        let _ = write!(header, " {} |", e.name);
        rule.push_str("---:|");
    }
    for p in &peers {
        let _ = write!(header, " {} / {} |", first.name, p.name);
        rule.push_str("---:|");
    }
    header.push_str(" answers |");
    rule.push_str("---|");
    let _ = writeln!(md, "{header}\n{rule}");
    for n in 1..=22 {
        let mut row = format!("| q{n} |");
        for e in engines {
            let _ = write!(row, " {} |", ms(e.query(n).map(|q| q.best_ms)));
        }
        for p in &peers {
            let _ = write!(
                row,
                " {} |",
                ratio(
                    first.query(n).map(|q| q.best_ms),
                    p.query(n).map(|q| q.best_ms)
                )
            );
        }
        let _ = writeln!(md, "{row} {} |", answers(engines, n));
    }
    let mut row = "| **total** |".to_string();
    for e in engines {
        let _ = write!(row, " **{}** |", ms(e.total_best_ms()));
    }
    for p in &peers {
        let _ = write!(
            row,
            " **{}** |",
            ratio(first.total_best_ms(), p.total_best_ms())
        );
    }
    let _ = writeln!(md, "{row} |");

    let _ = writeln!(md, "\nFirst (cold) run per query (ms):\n");
    let mut header = "| query |".to_string();
    let mut rule = "|---|".to_string();
    for e in engines {
        let _ = write!(header, " {} |", e.name);
        rule.push_str("---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for n in 1..=22 {
        let mut row = format!("| q{n} |");
        for e in engines {
            let _ = write!(row, " {} |", ms(e.query(n).map(|q| q.cold_ms)));
        }
        let _ = writeln!(md, "{row}");
    }
    let mut row = "| **total** |".to_string();
    for e in engines {
        let _ = write!(row, " **{}** |", ms(e.total_cold_ms()));
    }
    let _ = writeln!(md, "{row}\n");
}

#[cfg(test)]
mod tests {
    use super::super::QueryRun;
    use super::*;

    fn engine(name: &str, best: f64, q3: Result<QueryRun, String>) -> EngineRun {
        let mut queries: Vec<Result<QueryRun, String>> = (1..=22)
            .map(|_| {
                Ok(QueryRun {
                    cold_ms: best * 2.0,
                    best_ms: best,
                    check: Ok(()),
                })
            })
            .collect();
        queries[2] = q3;
        EngineRun {
            name: name.into(),
            setup: String::new(),
            queries,
        }
    }

    #[test]
    fn tables_show_totals_ratios_and_what_differs() {
        let ok = |best| {
            Ok(QueryRun {
                cold_ms: best,
                best_ms: best,
                check: Ok(()),
            })
        };
        let engines = vec![
            engine("Sparkling local", 10.0, ok(10.0)),
            engine("DuckDB", 5.0, ok(5.0)),
            engine(
                "Spark",
                100.0,
                Ok(QueryRun {
                    cold_ms: 1.0,
                    best_ms: 100.0,
                    check: Err("2 rows vs 3 rows".into()),
                }),
            ),
            engine("Broken", 1.0, Err("boom | bang\nsecond line".into())),
        ];
        let mut md = String::new();
        markdown(&mut md, &engines);
        assert!(md.contains("| DuckDB | 110.0 | 215.0 | 2.00 |"), "{md}");
        assert!(md.contains("| Spark | 2200.0 | 4201.0 | 0.10 |"), "{md}");
        assert!(md.contains("| Broken | failed | failed | - |"), "{md}");
        assert!(
            md.contains(
                "| q3 | 10.0 | 5.0 | 100.0 | failed | 2.00 | 0.10 | - | \
                 Spark DIFFERS: 2 rows vs 3 rows; Broken FAILED: boom \\| bang |"
            ),
            "{md}"
        );
        assert!(md.contains("| q4 | 10.0 | 5.0 | 100.0 | 1.0 | 2.00 | 0.10 | 10.00 | agree |"));
        assert!(md.contains("| **total** | **220.0** | **110.0** | **2200.0** | **failed** | **2.00** | **0.10** | **-** | |"), "{md}");
    }
}
