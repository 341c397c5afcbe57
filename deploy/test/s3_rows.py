"""Lists a table's objects in an S3 bucket and counts the rows of its Parquet data
files with pyarrow, independently of Sparkling; prints one JSON object:
`{"metadataFiles": N, "dataFiles": N, "rows": N}`.

    python s3_rows.py --endpoint http://127.0.0.1:3900 --region garage \
        --key-id GK... --secret ... --prefix warehouse/lake/default/t
"""

import argparse
import json

import pyarrow.parquet as pq
from pyarrow import fs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--key-id", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--prefix", required=True, help="bucket/path of the table")
    args = p.parse_args()
    scheme, host = args.endpoint.split("://", 1)
    s3 = fs.S3FileSystem(
        endpoint_override=host, scheme=scheme, region=args.region,
        access_key=args.key_id, secret_key=args.secret,
    )
    files = [f for f in s3.get_file_info(fs.FileSelector(args.prefix, recursive=True)) if f.is_file]
    metadata = [f for f in files if f.path.endswith(".metadata.json")]
    data = [f for f in files if "/data/" in f.path and f.path.endswith(".parquet")]
    rows = sum(pq.ParquetFile(s3.open_input_file(f.path)).metadata.num_rows for f in data)
    print(json.dumps({"metadataFiles": len(metadata), "dataFiles": len(data), "rows": rows}))


if __name__ == "__main__":
    main()
