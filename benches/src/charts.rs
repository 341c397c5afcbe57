//! PNG charts for the report, drawn with `plotters`: TPC-H totals per engine, TPC-H
//! per query per engine (log scale), and resident memory per process. Text is drawn
//! with DejaVu Sans from the system's fonts (Debian's `fonts-dejavu-core`).

use std::path::Path;

use anyhow::{Context, anyhow};
use plotters::prelude::*;

use crate::report::{EngineRun, MemoryRow};

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// One colour per engine, in report order.
const COLOURS: &[RGBColor] = &[
    RGBColor(230, 126, 34),  // Sparkling local: orange
    RGBColor(211, 84, 0),    // Sparkling cluster: dark orange
    RGBColor(52, 152, 219),  // DataFusion: blue
    RGBColor(241, 196, 15),  // DuckDB: yellow
    RGBColor(127, 140, 141), // Spark local: grey
    RGBColor(44, 62, 80),    // Spark Connect: dark blue-grey
    RGBColor(39, 174, 96),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// Registers the font plotters draws text with (once per process).
fn font() -> anyhow::Result<()> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let bytes = FONT_PATHS
            .iter()
            .find_map(|p| std::fs::read(p).ok())
            .ok_or_else(|| {
                format!("no DejaVu Sans font in {FONT_PATHS:?} (apt-get install fonts-dejavu-core)")
            })?;
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes.leak())
            .map_err(|_| "DejaVu Sans could not be parsed".to_string())
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// The series' names and colours in a box at `position`, the same on every chart.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(plot_err)
}

/// Horizontal bars, one group per label, one bar per series.
fn horizontal_bars(
    path: &Path,
    title: &str,
    unit: &str,
    labels: &[String],
    series: &[(String, Vec<Option<f64>>)],
    colours: &[RGBColor],
) -> anyhow::Result<()> {
    font()?;
    // Each bar is two units high so the label can sit at the group's centre.
    let bars = series.len().max(1) as i32;
    let per_group = 2 * bars + 2;
    let rows = labels.len() as i32 * per_group;
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(0.0_f64, |a, b| a.max(*b))
        * 1.15;
    let height = 90 + 12 * rows as u32;
    // Room for the longest label at about 8 px a character.
    let label_width = labels
        .iter()
        .map(|l| l.chars().count() as u32 * 13 / 2 + 20)
        .max()
        .unwrap_or(100)
        .clamp(100, 600);
    let root = BitMapBackend::new(path, (700 + label_width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0.0..max.max(1e-9), rows..0)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows as usize + 1)
        .y_label_formatter(&|y: &i32| {
            if y % per_group == bars {
                labels
                    .get((y / per_group) as usize)
                    .cloned()
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc(unit)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(plot_err)?;
    for (s, (name, values)) in series.iter().enumerate() {
        let c = colours[s % colours.len()];
        let bars = values.iter().enumerate().filter_map(|(i, v)| {
            let y = i as i32 * per_group + 2 * s as i32;
            v.map(|v| Rectangle::new([(0.0, y), (v, y + 2)], c.filled()))
        });
        let drawn = chart.draw_series(bars).map_err(plot_err)?;
        if series.len() > 1 {
            drawn
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
        }
        // The value at the end of each bar.
        chart
            .draw_series(values.iter().enumerate().filter_map(|(i, v)| {
                let y = i as i32 * per_group + 2 * s as i32;
                v.map(|v| {
                    Text::new(
                        format!(" {}", short(v)),
                        (v, y),
                        ("sans-serif", 14).into_font(),
                    )
                })
            }))
            .map_err(plot_err)?;
    }
    if series.len() > 1 {
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn short(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Total TPC-H time (best runs) per engine, seconds.
pub fn tpch_totals(path: &Path, engines: &[EngineRun], scale: f64) -> anyhow::Result<()> {
    let labels: Vec<String> = engines.iter().map(|e| e.name.clone()).collect();
    let totals = engines
        .iter()
        .map(|e| e.total_best_ms().map(|ms| ms / 1000.0))
        .collect();
    horizontal_bars(
        path,
        &format!("TPC-H SF{scale}: total of the 22 queries (best runs, lower is better)"),
        "seconds",
        &labels,
        &[("total".to_string(), totals)],
        &[COLOURS[0]],
    )
}

/// Every TPC-H query's best run per engine, log scale.
pub fn tpch_queries(path: &Path, engines: &[EngineRun], scale: f64) -> anyhow::Result<()> {
    font()?;
    // Each bar is two units wide so the label can sit at the group's centre.
    let bars = engines.len() as i32;
    let per_group = 2 * bars + 2;
    let columns = 22 * per_group;
    let (mut lo, mut hi) = (f64::MAX, 0.0_f64);
    for e in engines {
        for n in 1..=22 {
            if let Some(q) = e.query(n) {
                lo = lo.min(q.best_ms);
                hi = hi.max(q.best_ms);
            }
        }
    }
    if hi <= 0.0 {
        anyhow::bail!("no query ran");
    }
    let lo = (lo / 2.0).max(0.1);
    let root = BitMapBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("TPC-H SF{scale}: best run per query (ms, log scale, lower is better)"),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0..columns, (lo..hi * 2.0).log_scale())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(columns as usize + 1)
        .x_label_formatter(&|x: &i32| {
            if x % per_group == bars {
                format!("q{}", x / per_group + 1)
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 14))
        .y_desc("ms")
        .draw()
        .map_err(plot_err)?;
    for (s, e) in engines.iter().enumerate() {
        let c = colour(s);
        chart
            .draw_series((1..=22).filter_map(|n| {
                let x = (n as i32 - 1) * per_group + 2 * s as i32;
                e.query(n)
                    .map(|q| Rectangle::new([(x, lo), (x + 2, q.best_ms)], c.filled()))
            }))
            .map_err(plot_err)?
            .label(e.name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Idle and peak resident memory per process, MiB.
pub fn memory(path: &Path, rows: &[MemoryRow]) -> anyhow::Result<()> {
    let mib = |b: Option<u64>| b.map(|b| b as f64 / 1048576.0);
    let labels: Vec<String> = rows.iter().map(|r| r.process.replace("**", "")).collect();
    horizontal_bars(
        path,
        "Resident memory per process (MiB, lower is better)",
        "MiB",
        &labels,
        &[
            (
                "idle (RSS)".to_string(),
                rows.iter().map(|r| mib(r.idle_bytes)).collect(),
            ),
            (
                "peak (after TPC-H)".to_string(),
                rows.iter().map(|r| mib(r.peak_bytes)).collect(),
            ),
        ],
        &[COLOURS[2], COLOURS[5]],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::QueryRun;

    fn engine(name: &str, scale: f64) -> EngineRun {
        EngineRun {
            name: name.into(),
            setup: String::new(),
            queries: (1..=22)
                .map(|n| {
                    if n == 5 && scale > 2.0 {
                        Err("failed".into())
                    } else {
                        Ok(QueryRun {
                            cold_ms: n as f64 * scale * 2.0,
                            best_ms: n as f64 * scale,
                            check: Ok(()),
                        })
                    }
                })
                .collect(),
        }
    }

    fn is_png(path: &Path) -> bool {
        let bytes = std::fs::read(path).unwrap();
        bytes.len() > 1000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n")
    }

    #[test]
    fn charts_are_written_as_png() {
        if font().is_err() {
            eprintln!("skipped: no DejaVu Sans on this machine");
            return;
        }
        let dir = std::env::temp_dir().join(format!("sparkling-charts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let engines = vec![
            engine("Sparkling local", 1.0),
            engine("DuckDB", 0.5),
            engine("Spark", 4.0),
        ];
        tpch_totals(&dir.join("totals.png"), &engines, 1.0).unwrap();
        tpch_queries(&dir.join("queries.png"), &engines, 1.0).unwrap();
        memory(
            &dir.join("memory.png"),
            &[
                MemoryRow {
                    process: "a".into(),
                    idle_bytes: Some(50 << 20),
                    idle_pss_bytes: Some(30 << 20),
                    idle_anon_bytes: Some(10 << 20),
                    peak_bytes: Some(300 << 20),
                },
                MemoryRow {
                    process: "b".into(),
                    idle_bytes: None,
                    idle_pss_bytes: None,
                    idle_anon_bytes: None,
                    peak_bytes: Some(1 << 30),
                },
            ],
        )
        .unwrap();
        for f in ["totals.png", "queries.png", "memory.png"] {
            assert!(is_png(&dir.join(f)), "{f}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
