//! Generates TPC-H tables as Parquet files with the `tpchgen` crate.
//!
//! Each table is generated as CSV (the crate's own formatter), read back by
//! DataFusion with the TPC-H column types (decimals as `Decimal128(15, 2)`, dates as
//! `Date32`) and written as Parquet, split into `files_per_table` files so scans
//! have several partitions to spread over executors.

use std::fmt::Display;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{CsvReadOptions, SessionContext};
use tpchgen::csv::{
    CustomerCsv, LineItemCsv, NationCsv, OrderCsv, PartCsv, PartSuppCsv, RegionCsv, SupplierCsv,
};
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};

/// The eight TPC-H tables, in the order the specification lists them.
pub const TABLES: [&str; 8] = [
    "part", "supplier", "partsupp", "customer", "orders", "lineitem", "nation", "region",
];

/// Writes every TPC-H table at `scale_factor` under `dir/<table>/part-<n>.parquet`.
///
/// Tables that already exist under `dir` are left as they are, so repeated test and
/// benchmark runs reuse their data. Returns the directory of each table.
pub async fn generate_parquet(
    dir: &Path,
    scale_factor: f64,
    files_per_table: usize,
) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let ctx = SessionContext::new();
    let mut out = Vec::new();
    for table in TABLES {
        let table_dir = dir.join(table);
        out.push((table.to_string(), table_dir.clone()));
        if table_dir.join("_SUCCESS").exists() {
            continue;
        }
        let _ = std::fs::remove_dir_all(&table_dir);
        std::fs::create_dir_all(&table_dir)?;
        // Small tables stay in one file; the big ones are split.
        let parts = if matches!(table, "nation" | "region") {
            1
        } else {
            files_per_table.max(1)
        };
        for part in 1..=parts {
            let csv_path = table_dir.join(format!("part-{part}.csv"));
            write_csv(table, scale_factor, part as i32, parts as i32, &csv_path)?;
            let table_schema = schema(table);
            let options = CsvReadOptions::new()
                .has_header(true)
                .schema(&table_schema)
                .file_extension(".csv");
            let df = ctx
                .read_csv(csv_path.to_string_lossy().as_ref(), options)
                .await?;
            let parquet_path = table_dir.join(format!("part-{part}.parquet"));
            df.write_parquet(
                parquet_path.to_string_lossy().as_ref(),
                DataFrameWriteOptions::new().with_single_file_output(true),
                None,
            )
            .await?;
            std::fs::remove_file(&csv_path)?;
        }
        File::create(table_dir.join("_SUCCESS"))?;
    }
    Ok(out)
}

fn write_csv(table: &str, sf: f64, part: i32, parts: i32, path: &Path) -> std::io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    fn rows<T: Display>(
        w: &mut impl Write,
        header: &str,
        rows: impl Iterator<Item = T>,
    ) -> std::io::Result<()> {
        writeln!(w, "{header}")?;
        for row in rows {
            writeln!(w, "{row}")?;
        }
        Ok(())
    }
    match table {
        "part" => rows(
            &mut w,
            PartCsv::header(),
            PartGenerator::new(sf, part, parts).iter().map(PartCsv::new),
        ),
        "supplier" => rows(
            &mut w,
            SupplierCsv::header(),
            SupplierGenerator::new(sf, part, parts)
                .iter()
                .map(SupplierCsv::new),
        ),
        "partsupp" => rows(
            &mut w,
            PartSuppCsv::header(),
            PartSuppGenerator::new(sf, part, parts)
                .iter()
                .map(PartSuppCsv::new),
        ),
        "customer" => rows(
            &mut w,
            CustomerCsv::header(),
            CustomerGenerator::new(sf, part, parts)
                .iter()
                .map(CustomerCsv::new),
        ),
        "orders" => rows(
            &mut w,
            OrderCsv::header(),
            OrderGenerator::new(sf, part, parts)
                .iter()
                .map(OrderCsv::new),
        ),
        "lineitem" => rows(
            &mut w,
            LineItemCsv::header(),
            LineItemGenerator::new(sf, part, parts)
                .iter()
                .map(LineItemCsv::new),
        ),
        "nation" => rows(
            &mut w,
            NationCsv::header(),
            NationGenerator::new(sf, part, parts)
                .iter()
                .map(NationCsv::new),
        ),
        "region" => rows(
            &mut w,
            RegionCsv::header(),
            RegionGenerator::new(sf, part, parts)
                .iter()
                .map(RegionCsv::new),
        ),
        other => Err(std::io::Error::other(format!(
            "unknown TPC-H table {other}"
        ))),
    }?;
    w.flush()
}

/// The Arrow schema of a TPC-H table, with the specification's column types.
pub fn schema(table: &str) -> Schema {
    let int = |n: &str| Field::new(n, DataType::Int64, false);
    let int32 = |n: &str| Field::new(n, DataType::Int32, false);
    let money = |n: &str| Field::new(n, DataType::Decimal128(15, 2), false);
    let text = |n: &str| Field::new(n, DataType::Utf8, false);
    let date = |n: &str| Field::new(n, DataType::Date32, false);
    let fields = match table {
        "part" => vec![
            int("p_partkey"),
            text("p_name"),
            text("p_mfgr"),
            text("p_brand"),
            text("p_type"),
            int32("p_size"),
            text("p_container"),
            money("p_retailprice"),
            text("p_comment"),
        ],
        "supplier" => vec![
            int("s_suppkey"),
            text("s_name"),
            text("s_address"),
            int("s_nationkey"),
            text("s_phone"),
            money("s_acctbal"),
            text("s_comment"),
        ],
        "partsupp" => vec![
            int("ps_partkey"),
            int("ps_suppkey"),
            int32("ps_availqty"),
            money("ps_supplycost"),
            text("ps_comment"),
        ],
        "customer" => vec![
            int("c_custkey"),
            text("c_name"),
            text("c_address"),
            int("c_nationkey"),
            text("c_phone"),
            money("c_acctbal"),
            text("c_mktsegment"),
            text("c_comment"),
        ],
        "orders" => vec![
            int("o_orderkey"),
            int("o_custkey"),
            text("o_orderstatus"),
            money("o_totalprice"),
            date("o_orderdate"),
            text("o_orderpriority"),
            text("o_clerk"),
            int32("o_shippriority"),
            text("o_comment"),
        ],
        "lineitem" => vec![
            int("l_orderkey"),
            int("l_partkey"),
            int("l_suppkey"),
            int32("l_linenumber"),
            money("l_quantity"),
            money("l_extendedprice"),
            money("l_discount"),
            money("l_tax"),
            text("l_returnflag"),
            text("l_linestatus"),
            date("l_shipdate"),
            date("l_commitdate"),
            date("l_receiptdate"),
            text("l_shipinstruct"),
            text("l_shipmode"),
            text("l_comment"),
        ],
        "nation" => vec![
            int("n_nationkey"),
            text("n_name"),
            int("n_regionkey"),
            text("n_comment"),
        ],
        "region" => vec![int("r_regionkey"), text("r_name"), text("r_comment")],
        other => panic!("unknown TPC-H table {other}"),
    };
    Schema::new(fields)
}

/// The schema as a shared reference, for APIs that take a [`SchemaRef`].
pub fn schema_ref(table: &str) -> SchemaRef {
    Arc::new(schema(table))
}
