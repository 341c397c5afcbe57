//! TPC-H: data ([`data`]), the 22 queries (written from the TPC-H specification, with
//! its validation parameters, in `benches/tpch/queries/`), and result comparison
//! (exact, as sorted CSV, between Arrow engines; with a tolerance against peers: [`check`]).

pub mod check;
pub mod data;

use arrow::array::RecordBatch;

/// The 22 queries, `QUERIES[n - 1]` is query n.
pub const QUERIES: [&str; 22] = [
    include_str!("../../tpch/queries/q1.sql"),
    include_str!("../../tpch/queries/q2.sql"),
    include_str!("../../tpch/queries/q3.sql"),
    include_str!("../../tpch/queries/q4.sql"),
    include_str!("../../tpch/queries/q5.sql"),
    include_str!("../../tpch/queries/q6.sql"),
    include_str!("../../tpch/queries/q7.sql"),
    include_str!("../../tpch/queries/q8.sql"),
    include_str!("../../tpch/queries/q9.sql"),
    include_str!("../../tpch/queries/q10.sql"),
    include_str!("../../tpch/queries/q11.sql"),
    include_str!("../../tpch/queries/q12.sql"),
    include_str!("../../tpch/queries/q13.sql"),
    include_str!("../../tpch/queries/q14.sql"),
    include_str!("../../tpch/queries/q15.sql"),
    include_str!("../../tpch/queries/q16.sql"),
    include_str!("../../tpch/queries/q17.sql"),
    include_str!("../../tpch/queries/q18.sql"),
    include_str!("../../tpch/queries/q19.sql"),
    include_str!("../../tpch/queries/q20.sql"),
    include_str!("../../tpch/queries/q21.sql"),
    include_str!("../../tpch/queries/q22.sql"),
];

/// Query `n` (1-based).
pub fn query(n: usize) -> &'static str {
    QUERIES[n - 1]
}

/// `CREATE EXTERNAL TABLE` statements registering the tables under `dir`.
pub fn create_tables_sql(dir: &std::path::Path) -> Vec<String> {
    data::TABLES
        .iter()
        .map(|t| {
            format!(
                "CREATE EXTERNAL TABLE {t} STORED AS PARQUET LOCATION '{}/'",
                dir.join(t).display()
            )
        })
        .collect()
}

/// A result in a form two engines can be compared by: the header line, then each row
/// as CSV, rows sorted (queries with ties in their ORDER BY may order them either way).
pub fn normalize(batches: &[RecordBatch]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    {
        let mut w = arrow::csv::WriterBuilder::new()
            .with_header(false)
            .build(&mut out);
        for b in batches {
            w.write(b)?;
        }
    }
    let text = String::from_utf8(out)?;
    let mut rows: Vec<String> = text.lines().map(str::to_string).collect();
    rows.sort();
    Ok(rows)
}
