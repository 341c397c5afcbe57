"""Reads an Iceberg table through the cluster's REST catalog with pyiceberg (an
independent Iceberg client) and prints its rows as one JSON list, sorted, plus the
number of snapshots: `{"rows": [...], "snapshots": N}`.

    python iceberg_read.py --uri http://127.0.0.1:8181 --token T --table default.t
"""

import argparse
import json

from pyiceberg.catalog import load_catalog


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--uri", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--table", required=True)
    args = p.parse_args()
    catalog = load_catalog("sparkling", type="rest", uri=args.uri, token=args.token)
    table = catalog.load_table(args.table)
    rows = table.scan().to_arrow().to_pylist()
    rows = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    print(json.dumps({"rows": rows, "snapshots": len(table.metadata.snapshots)}, default=str, sort_keys=True))


if __name__ == "__main__":
    main()
