"""A seed-style PySpark batch pipeline, unchanged, on Sparkling and on Spark 4.1:
JSON events -> bronze (parsed, with an event id and date) -> silver (deduplicated on
the event id with a window) -> sessions (30 minutes of inactivity, with lag and a
running sum) -> gold aggregates joined with a dimension table, written to tables."""

import json

import pyspark.sql.functions as F
from pyspark.sql import Window

from compare import assert_same, rows

SESSION_GAP_MS = 30 * 60 * 1000
START = 1_700_000_000_000


def _events():
    events = []
    for user in range(6):
        ts = START + user * 1000
        for i in range(12):
            # A long pause every fifth play starts a new session.
            ts += (SESSION_GAP_MS + 5000) if i % 5 == 4 else 60_000 + user * 7
            events.append({"user_id": f"u{user}", "song": f"s{(user + i) % 4}", "ts": ts,
                           "level": "paid" if user % 2 else "free"})
    # Delivered twice (the silver layer drops the copies), and one malformed record.
    return [json.dumps(e) for e in events] + [json.dumps(e) for e in events[::7]] + ["{oops"]


SCHEMA = "user_id string, song string, ts bigint, level string"


def bronze(s):
    raw = s.createDataFrame([(e,) for e in _events()], "value string")
    parsed = raw.select(F.from_json("value", SCHEMA).alias("e")).select("e.*")
    return (parsed.filter(F.col("user_id").isNotNull())
            .withColumn("event_id", F.sha2(F.concat_ws("|", "user_id", "song",
                                                       F.col("ts").cast("string")), 256))
            .withColumn("event_date", F.to_date(F.from_unixtime(F.col("ts") / 1000))))


def silver(s):
    first = Window.partitionBy("event_id").orderBy("ts")
    return (bronze(s).withColumn("rn", F.row_number().over(first))
            .filter(F.col("rn") == 1).drop("rn"))


def sessions(s):
    by_user = Window.partitionBy("user_id").orderBy("ts")
    running = by_user.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (silver(s)
            .withColumn("prev_ts", F.lag("ts").over(by_user))
            .withColumn("starts", F.when(F.col("prev_ts").isNull()
                                         | (F.col("ts") - F.col("prev_ts") > SESSION_GAP_MS), 1)
                        .otherwise(0))
            .withColumn("session", F.sum("starts").over(running))
            .groupBy("user_id", "session")
            .agg(F.count("*").alias("plays"), F.min("event_date").alias("day"),
                 ((F.max("ts") - F.min("ts")) / 1000).alias("seconds"),
                 F.first("level").alias("level")))


def gold(s):
    songs = s.createDataFrame([("s0", "Artist A"), ("s1", "Artist B"), ("s2", "Artist A"),
                               ("s3", "Artist C")], "song string, artist string")
    top = (silver(s).join(F.broadcast(songs), "song")
           .groupBy("artist", "level").agg(F.count("*").alias("plays"),
                                           F.countDistinct("user_id").alias("listeners"))
           .orderBy(F.desc("plays"), "artist", "level"))
    return top


def test_bronze_parses_and_keys_events(spark, reference):
    assert_same(spark, reference, bronze)


def test_silver_drops_duplicate_deliveries(spark, reference):
    assert_same(spark, reference, silver)
    assert silver(spark).count() == 72


def test_silver_from_parquet_with_drop_duplicates(spark, reference, tmp_path):
    # The bronze layer landed as Parquet files; dropDuplicates keeps one row per id.
    for name, s in (("ours", spark), ("spark", reference)):
        bronze(s).write.parquet(str(tmp_path / name))
    assert_same(spark, reference, lambda s: s.read.parquet(
        str(tmp_path / ("ours" if s is spark else "spark"))).dropDuplicates(["event_id"])
        .select("event_id", "user_id", "ts"))


def test_sessions_split_on_inactivity(spark, reference):
    assert_same(spark, reference, sessions)
    assert sessions(spark).count() == 18


def test_gold_aggregates_and_tables(spark, reference):
    assert_same(spark, reference, gold, ordered=True)
    ours = gold(spark).toPandas()
    theirs = gold(reference).toPandas()
    assert ours.equals(theirs), f"{ours}\n{theirs}"
    # Written as tables, appended to by a second run, read back.
    for s in (spark, reference):
        s.sql("CREATE NAMESPACE IF NOT EXISTS seed")
        s.sql("DROP TABLE IF EXISTS seed.sessions")
        sessions(s).write.saveAsTable("seed.sessions")
        sessions(s).filter("plays > 3").write.mode("append").saveAsTable("seed.sessions")
        later = sessions(s).filter("plays > 4")
        if s is spark:
            later.writeTo("seed.sessions").append()
        else:
            # Spark's own session catalog has no Iceberg: its tables are v1 ones,
            # which take no writeTo(); insertInto appends the same rows.
            later.write.insertInto("seed.sessions")
    assert_same(spark, reference, lambda s: s.table("seed.sessions"))
    assert rows(spark.table("seed.sessions").groupBy().count(), False)[0][0] > 18
