"""Runs TPC-H queries through a Sparkling gateway with `sparkling sql` and checks every
answer against DuckDB's over the same Parquet files (an independent engine).

The cluster reads the files at --cluster-data (a path inside its containers); DuckDB
reads the same files at --data on this machine. Tables are created in the cluster's
session catalog as external Parquet tables first (--create). Numbers agree when they
are within a cent or 1e-9 relative; rows may come in any order.

    python tpch_check.py --sparkling BIN --remote sc://127.0.0.1:15002/;token=T \
        --data /tmp/tpch --cluster-data /data/tpch --queries benches/tpch/queries \
        --create --only 1,3,18
"""

import argparse
import csv
import io
import os
import re
import subprocess
import sys

TABLES = ["part", "supplier", "partsupp", "customer", "orders", "lineitem", "nation", "region"]


def sparkling_sql(args, sql=None, file=None):
    cmd = [args.sparkling, "sql", "--remote", args.remote, "--format", "csv"]
    cmd += ["-f", file] if file else [sql]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"sparkling sql failed ({' '.join(cmd[:2])} {file or sql}):\n{out.stderr}")
    return out.stdout


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def same(a, b):
    x, y = number(a), number(b)
    if x is not None and y is not None:
        return abs(x - y) <= max(0.01, 1e-9 * max(abs(x), abs(y)))
    return a == b


def key(row):
    return [f"{number(v):.1f}" if number(v) is not None else v for v in row]


def compare(n, got, want):
    if len(got) != len(want):
        return f"q{n}: {len(got)} rows, DuckDB has {len(want)}"
    rest = sorted(want, key=key)
    for row in sorted(got, key=key):
        match = next((i for i, w in enumerate(rest) if len(w) == len(row) and all(map(same, row, w))), None)
        if match is None:
            return f"q{n}: row {row} is not in DuckDB's answer"
        rest.pop(match)
    return None


def duckdb_rows(con, sql):
    rows = []
    for r in con.execute(sql).fetchall():
        rows.append(["" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v)) for v in r])
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sparkling", required=True)
    p.add_argument("--remote", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--cluster-data", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--create", action="store_true")
    p.add_argument("--only", default=",".join(str(n) for n in range(1, 23)))
    args = p.parse_args()

    import duckdb

    con = duckdb.connect()
    for t in TABLES:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{os.path.join(args.data, t, '*.parquet')}')")
    if args.create:
        for t in TABLES:
            sparkling_sql(args, f"CREATE EXTERNAL TABLE IF NOT EXISTS {t} STORED AS PARQUET LOCATION '{args.cluster_data}/{t}/'")
    failures = []
    for n in [int(x) for x in args.only.split(",")]:
        path = os.path.join(args.queries, f"q{n}.sql")
        with open(path) as f:
            text = "\n".join(line for line in f.read().splitlines() if not line.lstrip().startswith("--"))
        want = duckdb_rows(con, re.sub(r";\s*$", "", text.strip()))
        got = list(csv.reader(io.StringIO(sparkling_sql(args, file=path))))[1:]
        problem = compare(n, got, want)
        print(f"q{n}: {len(got)} rows, " + ("differs" if problem else "matches DuckDB"), flush=True)
        if problem:
            failures.append(problem)
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
