"""Drives a Sparkling Iceberg REST catalog with pyiceberg, an independent client.

Usage: catalog_with_pyiceberg.py CATALOG_URI WAREHOUSE_DIR [TOKEN]

Creates namespaces and tables (partitioned with identity, day and bucket transforms),
appends data through pyiceberg's own writer (so every commit goes through the
catalog's requirement checks), scans it back, and checks staged creates, stale
commits (409), renames, registration, and drops with purge. Exits non-zero with a
message on the first thing that is wrong.
"""

import datetime
import os
import sys

import pyarrow as pa
from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import (
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import BucketTransform, DayTransform, IdentityTransform
from pyiceberg.types import LongType, NestedField, StringType, TimestampType


def expect_error(kind, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except kind:
        return
    raise AssertionError(f"expected {kind.__name__} from {fn.__name__}")


def main():
    uri, warehouse = sys.argv[1], sys.argv[2]
    props = {"type": "rest", "uri": uri}
    if len(sys.argv) > 3:
        props["token"] = sys.argv[3]
    catalog = load_catalog("sparkling", **props)

    # Namespaces: create, nest, list, properties, errors.
    catalog.create_namespace("sales", {"owner": "analytics"})
    catalog.create_namespace(("sales", "eu"))
    expect_error(NamespaceAlreadyExistsError, catalog.create_namespace, "sales")
    assert ("sales",) in catalog.list_namespaces(), catalog.list_namespaces()
    assert catalog.list_namespaces("sales") == [("sales", "eu")], catalog.list_namespaces("sales")
    assert catalog.load_namespace_properties("sales")["owner"] == "analytics"
    summary = catalog.update_namespace_properties("sales", removals={"owner", "nope"}, updates={"tier": "gold"})
    assert summary.removed == ["owner"] and summary.missing == ["nope"], summary
    assert catalog.load_namespace_properties("sales") == {"tier": "gold"}
    expect_error(NoSuchNamespaceError, catalog.load_namespace_properties, "nowhere")

    # A partitioned table, filled by pyiceberg's writer.
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "region", StringType(), required=False),
        NestedField(3, "ts", TimestampType(), required=False),
        NestedField(4, "amount", LongType(), required=False),
    )
    spec = PartitionSpec(
        PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="region"),
        PartitionField(source_id=3, field_id=1001, transform=DayTransform(), name="ts_day"),
        PartitionField(source_id=1, field_id=1002, transform=BucketTransform(16), name="id_bucket"),
    )
    table = catalog.create_table("sales.orders", schema=schema, partition_spec=spec,
                                 properties={"write.format.default": "parquet"})
    expect_error(TableAlreadyExistsError, catalog.create_table, "sales.orders", schema=schema)
    expect_error(NoSuchNamespaceError, catalog.create_table, "nowhere.t", schema=schema)
    assert table.location().startswith("file://" + os.path.realpath(warehouse)), table.location()

    arrow_schema = schema.as_arrow()
    base = datetime.datetime(2024, 1, 1)
    for batch in range(3):
        rows = 100
        data = pa.table({
            "id": pa.array([batch * rows + i for i in range(rows)], pa.int64()),
            "region": pa.array(["eu" if i % 2 else "us" for i in range(rows)]),
            "ts": pa.array([base + datetime.timedelta(hours=i + batch * 24) for i in range(rows)],
                           pa.timestamp("us")),
            "amount": pa.array([i for i in range(rows)], pa.int64()),
        }, schema=arrow_schema)
        table.append(data)

    table = catalog.load_table("sales.orders")
    scanned = table.scan().to_arrow()
    assert scanned.num_rows == 300, scanned.num_rows
    assert sum(scanned.column("amount").to_pylist()) == 3 * sum(range(100))
    assert len(table.snapshots()) == 3, table.snapshots()
    assert table.spec().fields[2].transform == BucketTransform(16), table.spec()
    eu = table.scan(row_filter="region == 'eu'").to_arrow()
    assert eu.num_rows == 150, eu.num_rows

    # A writer holding stale metadata gets a 409; pyiceberg refreshes and retries, and
    # neither writer's rows are lost.
    stale = catalog.load_table("sales.orders")
    catalog.load_table("sales.orders").append(data)
    stale.append(data)
    current = catalog.load_table("sales.orders")
    assert len(current.snapshots()) == 5, current.snapshots()
    assert current.scan().to_arrow().num_rows == 500

    # Schema evolution through a commit.
    with table.update_schema() as update:
        update.add_column("note", StringType())
    assert "note" in catalog.load_table("sales.orders").schema().column_names

    # Staged create: the table appears only when the transaction commits.
    tx = catalog.create_table_transaction("sales.staged", schema=schema)
    assert not catalog.table_exists("sales.staged")
    tx.append(data)
    tx.commit_transaction()
    staged = catalog.load_table("sales.staged")
    assert staged.scan().to_arrow().num_rows == 100

    # Rename across namespaces, then register the metadata under another name.
    catalog.rename_table("sales.staged", "sales.eu.moved")
    assert not catalog.table_exists("sales.staged")
    moved = catalog.load_table("sales.eu.moved")
    catalog.register_table("sales.registered", moved.metadata_location)
    assert catalog.load_table("sales.registered").scan().to_arrow().num_rows == 100
    expect_error(TableAlreadyExistsError, catalog.register_table, "sales.registered",
                 moved.metadata_location)
    catalog.drop_table("sales.registered")
    assert catalog.load_table("sales.eu.moved").scan().to_arrow().num_rows == 100

    # Drop a namespace only when empty; purge deletes the files.
    expect_error(NamespaceNotEmptyError, catalog.drop_namespace, "sales")
    files = [t.file.file_path for t in catalog.load_table("sales.eu.moved").scan().plan_files()]
    assert files
    catalog.purge_table("sales.eu.moved")
    for f in files:
        path = f.removeprefix("file://")
        assert not os.path.exists(path), f"purge left {path}"
    expect_error(NoSuchTableError, catalog.load_table, "sales.eu.moved")
    catalog.drop_namespace(("sales", "eu"))

    tables = catalog.list_tables("sales")
    assert tables == [("sales", "orders")], tables
    print("pyiceberg: all catalog checks passed")


if __name__ == "__main__":
    main()
