"""Round trip of a trivial query through a Spark Connect server, measured with the
PySpark Connect client: `spark.sql("SELECT 1").collect()`, `--runs` times after a
warm-up. Against `--url` (Sparkling's gateway), or, without it, against Spark's own
Spark Connect server, started here (local[N]) and timed from process start to its
first answer. Writes one JSON document:

    {"server": "spark-connect", "version": "4.0.1", "coldStartMs": 9120.5, "runs": 1000,
     "p50Ms": 3.1, "p99Ms": 5.2, "memory": {"idleRssBytes": ..., "peakRssBytes": ...}}

    python connect_latency.py --runs 1000 --out spark.json
    python connect_latency.py --url sc://127.0.0.1:15002 --runs 1000 --out ours.json
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spark_server import ConnectServer, rss  # noqa: E402


def percentile(sorted_ms, q):
    return sorted_ms[round((len(sorted_ms) - 1) * q)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="an existing server; without it Spark's is started")
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--spark-memory", default="2g")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    import pyspark
    from pyspark.sql import SparkSession

    server = None
    result = {"version": pyspark.__version__}
    if args.url:
        session = SparkSession.builder.remote(args.url).getOrCreate()
        result["server"] = args.url
    else:
        server = ConnectServer(args.threads, args.spark_memory)
        try:
            session, cold_ms = server.connect()
        except Exception:
            server.stop()
            raise
        result["server"] = "spark-connect"
        result["coldStartMs"] = cold_ms
        idle_rss, _ = rss(server.process.pid)
    try:
        for _ in range(max(args.runs // 10, 10)):
            session.sql("SELECT 1").collect()
        samples = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            rows = session.sql("SELECT 1").collect()
            samples.append((time.perf_counter() - t0) * 1000)
            assert rows[0][0] == 1, rows
        samples.sort()
        result.update(runs=len(samples), p50Ms=percentile(samples, 0.5), p99Ms=percentile(samples, 0.99))
        if server:
            _, peak = rss(server.process.pid)
            result["memory"] = {"idleRssBytes": idle_rss, "peakRssBytes": peak}
    finally:
        session.stop()
        if server:
            server.stop()
    with open(args.out, "w") as f:
        json.dump(result, f)
    print(f"{result['server']}: SELECT 1 p50 {result['p50Ms']:.2f} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
