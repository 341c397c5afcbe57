"""Looks at an S3 bucket the way another tool would, with pyarrow's own S3 client.

Usage:
  s3_objects.py put-numbers s3://BUCKET/KEY.parquet N   write a Parquet file of n = 0..N-1
  s3_objects.py count s3://BUCKET/PREFIX                print how many objects are under PREFIX

The endpoint, region and keys come from AWS_ENDPOINT_URL, AWS_REGION,
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
"""

import os
import sys
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

endpoint = urlparse(os.environ["AWS_ENDPOINT_URL"])
fs = pafs.S3FileSystem(
    endpoint_override=endpoint.netloc,
    scheme=endpoint.scheme,
    region=os.environ["AWS_REGION"],
    access_key=os.environ["AWS_ACCESS_KEY_ID"],
    secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
)
command, url = sys.argv[1], sys.argv[2]
path = url.removeprefix("s3://")
if command == "put-numbers":
    n = int(sys.argv[3])
    pq.write_table(pa.table({"n": pa.array(range(n), pa.int64())}), path, filesystem=fs)
    print("ok")
elif command == "count":
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    print(sum(1 for i in infos if i.type == pafs.FileType.File))
else:
    sys.exit(f"unknown command {command}")
