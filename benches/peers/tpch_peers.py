"""Runs the TPC-H queries on a peer engine, for the benchmark harness to set beside
Sparkling's figures: DuckDB (in process), Apache Spark local[N] (in a JVM started by
pyspark) or Spark's Spark Connect server (local[N], its own JVM, queried with the
PySpark Connect client), over the same Parquet files and the same query files.

For each query: one cold run (the first), then `--iterations` warm runs; the result
of the last run is kept for cross-checking answers between engines. Writes one JSON
document:

    {"engine": "duckdb", "version": "1.4.2", "setupMs": 812.0,
     "memory": {"idleRssBytes": 61000000, "peakRssBytes": 900000000},
     "queries": [{"query": 1, "coldMs": 91.2, "runsMs": [80.1, 79.5], "bestMs": 79.5,
                  "columns": ["l_returnflag", ...], "rows": [["A", "F", 37734107.0, ...]]}]}

Memory is the resident set of the engine's process (this one for DuckDB, the JVM for
Spark): after setup, and its high-water mark at the end. Values are JSON numbers (decimals as floats), strings, or ISO dates; a query that
fails carries "error" instead of times and rows.

    python tpch_peers.py --engine duckdb --data benches/data/sf1 \
        --queries benches/tpch/queries --iterations 3 --out duckdb.json
"""

import argparse
import datetime
import decimal
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spark_server import ConnectServer, default_shuffle_partitions, memory, rss  # noqa: E402

TABLES = [
    "part", "supplier", "partsupp", "customer", "orders", "lineitem", "nation", "region",
]


def query_text(queries_dir, n):
    with open(os.path.join(queries_dir, f"q{n}.sql")) as f:
        text = f.read()
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return re.sub(r";\s*$", "", text.strip())


def value(v):
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return v


class DuckDb:
    def __init__(self, data, threads):
        import duckdb

        self.version = duckdb.__version__
        self.con = duckdb.connect()
        self.con.execute(f"SET threads = {threads}")
        self.pid = os.getpid()
        for t in TABLES:
            path = os.path.join(data, t, "*.parquet")
            self.con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{path}')")

    def run(self, sql):
        cur = self.con.execute(sql)
        columns = [d[0] for d in cur.description]
        return columns, cur.fetchall()

    def close(self):
        self.con.close()


class Spark:
    def __init__(self, data, threads, memory, shuffle_partitions):
        from pyspark.sql import SparkSession

        self.session = (
            SparkSession.builder.master(f"local[{threads}]")
            .appName("sparkling-bench")
            .config("spark.driver.memory", memory)
            .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        self.session.sparkContext.setLogLevel("ERROR")
        self.version = self.session.version
        self.pid = self.session.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
        for t in TABLES:
            self.session.read.parquet(os.path.join(data, t)).createOrReplaceTempView(t)

    def run(self, sql):
        rows = self.session.sql(sql).collect()
        # Column names from the rows: asking the DataFrame would cost Spark Connect
        # another round trip inside the timed run.
        columns = list(rows[0].__fields__) if rows else []
        return columns, [tuple(r) for r in rows]

    def close(self):
        self.session.stop()


class SparkConnect(Spark):
    def __init__(self, data, threads, memory, shuffle_partitions):
        self.server = ConnectServer(threads, memory, shuffle_partitions)
        try:
            self.session, _ = self.server.connect()
        except Exception:
            self.server.stop()
            raise
        self.version = self.session.version
        self.pid = self.server.process.pid
        for t in TABLES:
            self.session.read.parquet(os.path.join(data, t)).createOrReplaceTempView(t)

    def close(self):
        self.session.stop()
        self.server.stop()


ENGINES = {"duckdb": DuckDb, "spark": Spark, "spark-connect": SparkConnect}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", choices=sorted(ENGINES), required=True)
    p.add_argument("--data", required=True, help="directory with one folder of Parquet files per table")
    p.add_argument("--queries", required=True, help="directory with q1.sql .. q22.sql")
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--spark-memory", default="4g")
    p.add_argument("--shuffle-partitions", type=int, help="Spark's spark.sql.shuffle.partitions (default: max(threads, 2))")
    p.add_argument("--only", type=int, nargs="*", help="run only these query numbers")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    start = time.perf_counter()
    if args.engine == "duckdb":
        engine = DuckDb(args.data, args.threads)
    else:
        partitions = args.shuffle_partitions or default_shuffle_partitions(args.threads)
        engine = ENGINES[args.engine](args.data, args.threads, args.spark_memory, partitions)
    setup_ms = (time.perf_counter() - start) * 1000
    idle = memory(engine.pid)

    results = []
    for n in args.only or range(1, 23):
        sql = query_text(args.queries, n)
        entry = {"query": n}
        try:
            times = []
            for _ in range(1 + args.iterations):
                t0 = time.perf_counter()
                columns, rows = engine.run(sql)
                times.append((time.perf_counter() - t0) * 1000)
            entry.update(
                coldMs=times[0],
                runsMs=times[1:],
                bestMs=min(times[1:] or times),
                columns=list(columns),
                rows=[[value(v) for v in r] for r in rows],
            )
        except Exception as e:  # a failing query is reported, the others still run
            entry["error"] = f"{type(e).__name__}: {e}"
        results.append(entry)
        status = entry.get("error") or f"best {entry['bestMs']:.1f} ms"
        print(f"{args.engine} q{n}: {status}", file=sys.stderr, flush=True)
    _, peak_rss = rss(engine.pid)
    engine.close()

    with open(args.out, "w") as f:
        json.dump(
            {
                "engine": args.engine,
                "version": engine.version,
                "threads": args.threads,
                "setupMs": setup_ms,
                "memory": dict(idle, peakRssBytes=peak_rss),
                "queries": results,
            },
            f,
        )


if __name__ == "__main__":
    main()
