//! The UI's pictures, drawn on the server as inline SVG: line charts of a streaming
//! query's recent batches and a pipeline's dataset graph.

use std::collections::HashMap;
use std::fmt::Write;

use super::esc;

/// One line of a chart.
pub struct Series<'a> {
    /// Its name, in the legend.
    pub name: &'a str,
    /// Its values, oldest first.
    pub values: Vec<f64>,
    /// Its colour.
    pub color: &'a str,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 170.0;
const LEFT: f64 = 60.0;
const BOTTOM: f64 = 20.0;
const TOP: f64 = 24.0;

/// A line chart of `series` over the same x steps (batches), with its title and the
/// unit of the y axis.
pub fn line_chart(title: &str, unit: &str, series: &[Series]) -> String {
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    let plot_w = WIDTH - LEFT - 10.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| {
        if n <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| TOP + plot_h - plot_h * (v / top).clamp(0.0, 1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{title}">"##,
        title = esc(title)
    );
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="14" class="chart-title">{}</text>"##,
        esc(title)
    );
    // Axes and the top value.
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" class="axis"/><line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" class="axis"/>"##,
        b = TOP + plot_h,
        r = LEFT + plot_w
    );
    let _ = write!(
        svg,
        r##"<text x="{tx}" y="{TOP}" class="tick" text-anchor="end">{}</text><text x="{tx}" y="{b}" class="tick" text-anchor="end">0</text>"##,
        esc(&format!("{} {unit}", compact(top))),
        tx = LEFT - 4.0,
        b = TOP + plot_h
    );
    if n == 0 {
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" class="tick" text-anchor="middle">no batches yet</text>"##,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    let mut legend_x = LEFT + 200.0;
    for s in series {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(if v.is_finite() { *v } else { 0.0 })))
            .collect();
        if points.len() == 1 {
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"##,
                x(0),
                y(s.values[0]),
                s.color
            );
        } else if !points.is_empty() {
            let _ = write!(
                svg,
                r##"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"##,
                points.join(" "),
                s.color
            );
        }
        let _ = write!(
            svg,
            r##"<rect x="{legend_x}" y="6" width="10" height="10" fill="{}"/><text x="{}" y="15" class="tick">{}</text>"##,
            s.color,
            legend_x + 14.0,
            esc(s.name)
        );
        legend_x += 14.0 + 8.0 * s.name.len() as f64 + 16.0;
    }
    svg.push_str("</svg>");
    svg
}

/// 1234567 as 1.2M.
pub fn compact(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A node of a dataset graph.
pub struct Node<'a> {
    /// Its name.
    pub name: &'a str,
    /// A second line (its kind).
    pub label: &'a str,
    /// Its state (colours the box).
    pub state: &'a str,
    /// The nodes it reads.
    pub inputs: Vec<&'a str>,
}

const BOX_W: f64 = 290.0;
const BOX_H: f64 = 40.0;
const GAP_X: f64 = 60.0;
const GAP_Y: f64 = 14.0;

fn state_color(state: &str) -> &'static str {
    match state {
        "COMPLETED" => "#d4f4dd",
        "RUNNING" => "#d6e8ff",
        "FAILED" => "#ffd6d6",
        "SKIPPED" => "#eeeeee",
        _ => "#fff8d6",
    }
}

/// The graph of `nodes` (each after its inputs), left to right by depth; inputs
/// outside the graph are drawn as plain boxes on the left.
pub fn dataset_graph(nodes: &[Node]) -> String {
    // External inputs first, then each node one column right of its deepest input.
    let mut depth: HashMap<&str, usize> = HashMap::new();
    let mut external: Vec<&str> = Vec::new();
    for node in nodes {
        for input in &node.inputs {
            if !nodes.iter().any(|n| n.name == *input) && !external.contains(input) {
                external.push(input);
            }
        }
    }
    let shift = usize::from(!external.is_empty());
    for e in &external {
        depth.insert(*e, 0);
    }
    for node in nodes {
        let d = node
            .inputs
            .iter()
            .filter_map(|i| depth.get(i).map(|d| d + 1))
            .max()
            .unwrap_or(shift);
        depth.insert(node.name, d);
    }
    let mut columns: Vec<Vec<(&str, &str, &str)>> = Vec::new();
    for e in &external {
        columns.resize(columns.len().max(1), Vec::new());
        columns[0].push((*e, "table", ""));
    }
    for node in nodes {
        let d = depth[node.name];
        if columns.len() <= d {
            columns.resize(d + 1, Vec::new());
        }
        columns[d].push((node.name, node.label, node.state));
    }
    let mut position: HashMap<&str, (f64, f64)> = HashMap::new();
    for (c, column) in columns.iter().enumerate() {
        for (r, (name, _, _)) in column.iter().enumerate() {
            position.insert(
                *name,
                (
                    10.0 + c as f64 * (BOX_W + GAP_X),
                    10.0 + r as f64 * (BOX_H + GAP_Y),
                ),
            );
        }
    }
    let width = 20.0 + columns.len() as f64 * (BOX_W + GAP_X) - GAP_X;
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    let height = 20.0 + rows as f64 * (BOX_H + GAP_Y) - GAP_Y;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="graph" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="dataset graph"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#667"/></marker></defs>"##
    );
    for node in nodes {
        let (tx, ty) = position[node.name];
        for input in &node.inputs {
            let (sx, sy) = position[input];
            let _ = write!(
                svg,
                r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#667" marker-end="url(#arrow)"/>"##,
                sx + BOX_W,
                sy + BOX_H / 2.0,
                tx,
                ty + BOX_H / 2.0
            );
        }
    }
    for column in &columns {
        for (name, label, state) in column {
            let (x, y) = position[name];
            let _ = write!(
                svg,
                r##"<g class="node"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5" fill="{}" stroke="#889"/><text x="{}" y="{}" class="node-name">{}</text><text x="{}" y="{}" class="node-label">{}</text></g>"##,
                state_color(state),
                x + 8.0,
                y + 16.0,
                esc(name),
                x + 8.0,
                y + 32.0,
                esc(&if state.is_empty() {
                    label.to_string()
                } else {
                    format!("{label} - {state}")
                })
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_and_graphs_are_well_formed_svg() {
        let chart = line_chart(
            "rows <per> second",
            "rows/s",
            &[Series {
                name: "input",
                values: vec![1.0, 5.0, f64::NAN],
                color: "#36c",
            }],
        );
        assert!(chart.starts_with("<svg") && chart.ends_with("</svg>"));
        assert!(chart.contains("rows &lt;per&gt; second"));
        assert!(chart.contains("<polyline"));
        assert!(!chart.contains("NaN"));
        let graph = dataset_graph(&[
            Node {
                name: "ns.a",
                label: "streaming table",
                state: "COMPLETED",
                inputs: vec![],
            },
            Node {
                name: "ns.b",
                label: "materialized view",
                state: "FAILED",
                inputs: vec!["ns.a", "other.dim"],
            },
        ]);
        assert_eq!(graph.matches("<rect").count(), 3);
        assert_eq!(graph.matches("<line").count(), 2);
        assert!(graph.contains("materialized view - FAILED"));
    }
}
