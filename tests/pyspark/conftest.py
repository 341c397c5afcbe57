"""Fixtures of the PySpark suite: one Sparkling cluster (an Iceberg REST catalog, a
scheduler and two executor processes on loopback ports) and one Spark 4.1 Connect
server (Spark's own, from the pip `pyspark` package, in its own JVM), both started
once for the whole run. Tests run the same PySpark program on both and compare what
a user sees.

Environment: SPARKLING_BIN (the `sparkling` binary; default: the debug build in
CARGO_TARGET_DIR or ./target).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from pyspark.sql import SparkSession

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _binary():
    if os.environ.get("SPARKLING_BIN"):
        return os.environ["SPARKLING_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "debug", "sparkling")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port, process, what, timeout=180):
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not listening on {port} after {timeout} s")
            time.sleep(0.05)


class Cluster:
    """A catalog, a scheduler and two executors, stopped by `stop()`."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sparkling-pyspark-")
        self.processes = []
        binary = _binary()
        log = lambda name: open(os.path.join(self.dir, f"{name}.log"), "w")
        catalog_port = _free_port()
        catalog = self._spawn(
            [binary, "catalog", "--catalog-port", str(catalog_port),
             "--db", f"sqlite:{self.dir}/catalog.db",
             "--warehouse", os.path.join(self.dir, "warehouse")],
            log("catalog"),
        )
        _wait_for_port(catalog_port, catalog, "catalog")
        scheduler_port, self.connect_port, http_port = _free_port(), _free_port(), _free_port()
        scheduler = self._spawn(
            [binary, "scheduler", "--scheduler-port", str(scheduler_port),
             "--connect-port", str(self.connect_port), "--http-port", str(http_port),
             "--catalog", f"http://127.0.0.1:{catalog_port}",
             "--state-dir", os.path.join(self.dir, "state")],
            log("scheduler"),
        )
        _wait_for_port(self.connect_port, scheduler, "scheduler")
        for i in range(2):
            self._spawn(
                [binary, "executor", "--scheduler", f"127.0.0.1:{scheduler_port}",
                 "--flight-port", str(_free_port()), "--task-port", str(_free_port()),
                 "--slots", "2", "--work-dir", os.path.join(self.dir, f"executor-{i}")],
                log(f"executor-{i}"),
            )
        self.url = f"sc://127.0.0.1:{self.connect_port}"
        self.http = f"http://127.0.0.1:{http_port}"
        self._wait_for_executors(2)

    def _spawn(self, args, log):
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        self.processes.append(p)
        return p

    def _wait_for_executors(self, n, timeout=60):
        import json
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.http}/api/v1/cluster", timeout=2) as r:
                    if len(json.load(r).get("executors", [])) >= n:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{n} executors did not register in {timeout} s; logs in {self.dir}")

    def logs(self):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".log"):
                with open(os.path.join(self.dir, name)) as f:
                    out.append(f"==> {name}\n{f.read()[-4000:]}")
        return "\n".join(out)

    def stop(self):
        for p in reversed(self.processes):
            p.kill()
            p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class SparkServer:
    """Spark's own Connect server, `local[2]`, in UTC."""

    def __init__(self):
        import pyspark

        home = os.path.dirname(pyspark.__file__)
        self.port = _free_port()
        self.url = f"sc://127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix="spark-connect-")
        self.process = subprocess.Popen(
            [os.path.join(home, "bin", "spark-submit"),
             "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
             "--master", "local[2]",
             "--driver-memory", "1g",
             "--conf", f"spark.connect.grpc.binding.port={self.port}",
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
             "--conf", "spark.sql.shuffle.partitions=4",
             "--conf", "spark.ui.enabled=false",
             "--conf", "spark.sql.session.timeZone=UTC",
             "--conf", f"spark.sql.warehouse.dir={self.dir}/warehouse"],
            env=dict(os.environ, SPARK_HOME=home),
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "spark.log"), "w"),
            cwd=self.dir,
        )
        _wait_for_port(self.port, self.process, "Spark Connect server")

    def stop(self):
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster():
    c = Cluster()
    yield c
    c.stop()


@pytest.fixture(scope="session")
def spark_server():
    s = SparkServer()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def spark(cluster):
    """A PySpark session on Sparkling."""
    session = SparkSession.builder.remote(cluster.url).create()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def reference(spark_server):
    """A PySpark session on Spark's own Connect server."""
    session = SparkSession.builder.remote(spark_server.url).create()
    yield session
    session.stop()
