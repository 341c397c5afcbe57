"""Running one PySpark program on Sparkling and on Spark and comparing what a user
sees: column names, Spark types, rows (and `show()` text)."""

import math


def _normalize(value):
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return round(value, 9)
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if hasattr(value, "asDict"):
        return tuple(_normalize(v) for v in value)
    return value


def rows(df, ordered):
    out = [tuple(_normalize(v) for v in row) for row in df.collect()]
    return out if ordered else sorted(out, key=repr)


def schema(df):
    return [(f.name, f.dataType.simpleString()) for f in df.schema.fields]


def assert_same(spark, reference, program, ordered=False, types=True):
    """`program(session)` returns a DataFrame; both sessions must give the same
    columns, types and rows (in order when `ordered`)."""
    ours = program(spark)
    theirs = program(reference)
    if types:
        assert schema(ours) == schema(theirs), f"{schema(ours)} != {schema(theirs)}"
    else:
        assert ours.columns == theirs.columns, f"{ours.columns} != {theirs.columns}"
    ours_rows, their_rows = rows(ours, ordered), rows(theirs, ordered)
    assert ours_rows == their_rows, f"{ours_rows} != {their_rows}"


def assert_same_value(spark, reference, program):
    """`program(session)` returns a plain Python value (a count, collected rows)."""
    assert _normalize(program(spark)) == _normalize(program(reference))
