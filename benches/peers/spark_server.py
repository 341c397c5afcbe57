"""Helpers the peer scripts share: Spark's own Spark Connect server (started with the
spark-submit that ships in the pip `pyspark` package, `local[N]`, in its own JVM) and
a process's resident memory from /proc."""

import os
import socket
import subprocess
import time


def _kb_fields(path, names):
    fields = {}
    try:
        with open(path) as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name in names:
                    fields[name] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return fields


def rss(pid):
    """(current, high-water mark) resident memory of `pid`, bytes."""
    fields = _kb_fields(f"/proc/{pid}/status", ("VmRSS", "VmHWM"))
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)


def memory(pid):
    """Resident memory of `pid` now, as the report's JSON fields: RSS, PSS (shared pages
    divided among their processes) and anonymous (private heap and stacks), bytes."""
    status = _kb_fields(f"/proc/{pid}/status", ("VmRSS", "RssAnon"))
    rollup = _kb_fields(f"/proc/{pid}/smaps_rollup", ("Pss",))
    return {
        "idleRssBytes": status.get("VmRSS", 0),
        "idlePssBytes": rollup.get("Pss"),
        "idleAnonBytes": status.get("RssAnon"),
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_shuffle_partitions(threads):
    """Spark's `spark.sql.shuffle.partitions` when the harness does not set it: one per
    thread, at least two."""
    return max(threads, 2)


class ConnectServer:
    """`SparkConnectServer` on a free loopback port, stopped by `stop()`."""

    def __init__(self, threads, memory, shuffle_partitions=None):
        import pyspark

        home = os.path.dirname(pyspark.__file__)
        self.port = free_port()
        self.url = f"sc://127.0.0.1:{self.port}"
        env = dict(os.environ, SPARK_HOME=home)
        self.started = time.perf_counter()
        # spark-class execs java, so this pid is the server's JVM.
        self.process = subprocess.Popen(
            [
                os.path.join(home, "bin", "spark-submit"),
                "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
                "--master", f"local[{threads}]",
                "--driver-memory", memory,
                "--conf", f"spark.connect.grpc.binding.port={self.port}",
                "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
                "--conf", f"spark.sql.shuffle.partitions={shuffle_partitions or default_shuffle_partitions(threads)}",
                "--conf", "spark.ui.enabled=false",
                "--conf", "spark.sql.session.timeZone=UTC",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def connect(self, timeout=180):
        """A PySpark Connect session, once the server answers; and the ms from the
        server's start to its first answer. The port is polled first: the client's own
        retries back off to many seconds and would inflate the start-up time."""
        from pyspark.sql import SparkSession

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"Spark Connect server exited ({self.process.returncode})")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Spark Connect server not listening after {timeout} s")
                time.sleep(0.02)
        session = SparkSession.builder.remote(self.url).getOrCreate()
        session.sql("SELECT 1").collect()
        return session, (time.perf_counter() - self.started) * 1000

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
