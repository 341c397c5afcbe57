"""Creates (if missing) a table partitioned by region and appends to it with pyiceberg.

Usage: append_with_pyiceberg.py CATALOG_URI NAMESPACE.TABLE APPENDS

Each append writes 100 rows, half in region 'eu' and half in 'us' (so one data file per
region per append). Prints the table's total row count and the sum of `amount`.
"""

import sys

import pyarrow as pa
from pyiceberg.catalog import load_catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import LongType, NestedField, StringType

uri, name, appends = sys.argv[1], sys.argv[2], int(sys.argv[3])
catalog = load_catalog("sparkling", type="rest", uri=uri)
namespace = name.split(".")[0]
if (namespace,) not in catalog.list_namespaces():
    catalog.create_namespace(namespace)
schema = Schema(
    NestedField(1, "id", LongType(), required=False),
    NestedField(2, "region", StringType(), required=False),
    NestedField(3, "amount", LongType(), required=False),
)
if not catalog.table_exists(name):
    spec = PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "region"))
    catalog.create_table(name, schema=schema, partition_spec=spec)
table = catalog.load_table(name)
for _ in range(appends):
    start = table.scan().to_arrow().num_rows
    data = pa.table({
        "id": pa.array(range(start, start + 100), pa.int64()),
        "region": pa.array(["eu" if i % 2 else "us" for i in range(100)]),
        "amount": pa.array(range(100), pa.int64()),
    }, schema=schema.as_arrow())
    table.append(data)
    table = catalog.load_table(name)
rows = table.scan().to_arrow()
print(rows.num_rows, sum(rows.column("amount").to_pylist()))
