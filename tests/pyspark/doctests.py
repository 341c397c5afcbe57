"""PySpark's own docstring examples, run through Spark Connect on Sparkling and on
Spark's own Connect server, and the share of Spark's passing examples that pass on
Sparkling, per module, written to docs/compatibility.md.

    python tests/pyspark/doctests.py [--modules pyspark.sql.column ...] [--out FILE]

Needs what the PySpark suite needs (the `sparkling` binary, pip `pyspark` 4.1, Java
17); scripts/compatibility.sh installs it and runs this.
"""

import argparse
import doctest
import importlib
import os
import re
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conftest import Cluster, SparkServer  # noqa: E402

MODULES = [
    "pyspark.sql.dataframe",
    "pyspark.sql.column",
    "pyspark.sql.functions.builtin",
    "pyspark.sql.group",
    "pyspark.sql.window",
    "pyspark.sql.readwriter",
    "pyspark.sql.catalog",
    "pyspark.sql.session",
    "pyspark.sql.types",
    "pyspark.sql.conf",
]

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.IGNORE_EXCEPTION_DETAIL


def examples(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(module) if t.examples]
    # Only the examples defined in this module (not re-exported ones).
    return module, sorted(tests, key=lambda t: t.name)


def run(test, module, session, details=None):
    """Whether all examples of one docstring pass on `session`, and the first failure
    (with what was expected and what came, in full, appended to `details`)."""
    globs = dict(module.__dict__)
    globs["spark"] = session
    globs["sc"] = None
    test = doctest.DocTest(test.examples, globs, test.name, test.filename, test.lineno,
                           test.docstring)
    failures = []

    class Runner(doctest.DocTestRunner):
        def report_failure(self, out, test, example, got):
            failures.append(f"{example.source.strip()[:80]!r}: got {got.strip()[:160]!r}")
            if details is not None:
                details.append(f"## {test.name}\n>>> {example.source}want:\n{example.want}"
                               f"got:\n{got}")

        def report_unexpected_exception(self, out, test, example, exc_info):
            message = "".join(traceback.format_exception_only(exc_info[0], exc_info[1]))
            failures.append(f"{example.source.strip()[:80]!r}: {message.strip()[:200]}")
            if details is not None:
                details.append(f"## {test.name}\n>>> {example.source}raised:\n{message}")

    runner = Runner(optionflags=FLAGS, verbose=False)
    try:
        runner.run(test, out=lambda s: None, clear_globs=True)
    except Exception as e:  # a session that broke down
        failures.append(f"runner: {e}")
    return not failures, (failures[0] if failures else "")


def fresh(session_url):
    from pyspark.sql import SparkSession

    s = SparkSession.builder.remote(session_url).create()
    s.conf.set("spark.sql.session.timeZone", "UTC")
    return s


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--modules", nargs="*", default=MODULES)
    parser.add_argument("--out", default=None)
    parser.add_argument("--only", default=None,
                        help="a regular expression: run only the docstrings whose name matches")
    parser.add_argument("--details", default=None,
                        help="a file for each failure's example, expected and actual output")
    args = parser.parse_args()
    only = re.compile(args.only) if args.only else None
    details = []
    cluster = Cluster()
    server = SparkServer()
    results = {}
    try:
        ours, theirs = fresh(cluster.url), fresh(server.url)
        for name in args.modules:
            module, tests = examples(name)
            rows = []
            for t in tests:
                if only and not only.search(t.name):
                    continue
                started = time.monotonic()
                spark_ok, _ = run(t, module, theirs)
                ours_ok, why = run(t, module, ours, details) if spark_ok else (False, "")
                rows.append((t.name, spark_ok, ours_ok, why))
                print(f"{t.name}: spark={'ok' if spark_ok else 'FAIL'} "
                      f"sparkling={'ok' if ours_ok else ('FAIL' if spark_ok else '-')} "
                      f"({time.monotonic() - started:.1f}s)", flush=True)
            results[name] = rows
    finally:
        server.stop()
        cluster.stop()
    if args.details:
        with open(args.details, "w") as f:
            f.write("\n".join(details))
    report = render(results)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    else:
        print(report)


def render(results):
    lines = [
        "# PySpark compatibility",
        "",
        "PySpark's own docstring examples (the doctests of each module below), run through",
        "Spark Connect with the pip `pyspark` 4.1 client: first on Spark 4.1's own Connect",
        "server, then, for the examples that pass there, on a Sparkling cluster (catalog,",
        "scheduler and two executor processes). Regenerate with `scripts/compatibility.sh`.",
        "",
        "| module | pass on Spark | also pass on Sparkling | share |",
        "|---|---:|---:|---:|",
    ]
    total_spark = total_ours = 0
    for name, rows in results.items():
        spark = sum(1 for r in rows if r[1])
        ours = sum(1 for r in rows if r[1] and r[2])
        total_spark += spark
        total_ours += ours
        share = f"{100 * ours / spark:.0f}%" if spark else "-"
        lines.append(f"| `{name}` | {spark} | {ours} | {share} |")
    share = f"{100 * total_ours / total_spark:.0f}%" if total_spark else "-"
    lines.append(f"| **all** | {total_spark} | {total_ours} | **{share}** |")
    lines += ["", "## What still fails, and why", ""]
    for name, rows in results.items():
        failing = [r for r in rows if r[1] and not r[2]]
        if not failing:
            continue
        lines.append(f"### `{name}`")
        lines.append("")
        for test, _, _, why in failing:
            why = why.replace("|", "\\|").replace("\n", " ")
            lines.append(f"- `{test}`: {why}")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
    # Spark's JVM and the cluster's gRPC threads can keep the interpreter from exiting.
    sys.stdout.flush()
    os._exit(0)
