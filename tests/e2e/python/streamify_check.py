"""Checks the streamify pipeline's silver and gold tables against the same
computation done independently: pyiceberg reads the bronze tables through the
catalog, DuckDB computes event ids, dates, deduplication, sessions and the gold
aggregates from them, and the results must equal the pipeline's tables (also read
with pyiceberg). Prints a JSON summary (row counts, expectation violations) for the
Rust test to compare with what the pipeline reported.

usage: streamify_check.py CATALOG_URI NAMESPACE
"""

import json
import sys

import duckdb
from pyiceberg.catalog import load_catalog

uri, namespace = sys.argv[1], sys.argv[2]
catalog = load_catalog("sparkling", type="rest", uri=uri)


def arrow(name):
    return catalog.load_table(f"{namespace}.{name}").scan().to_arrow()


db = duckdb.connect()
for table in [
    "bronze_listen_events",
    "bronze_page_view_events",
    "bronze_auth_events",
    "silver_listen_events",
    "silver_page_view_events",
    "silver_auth_events",
    "silver_user_sessions",
    "gold_top_songs_daily",
    "gold_top_artists_daily",
    "gold_active_users_daily",
    "gold_sessions_per_user_daily",
]:
    db.register(table, arrow(table))

failures = []


def rows(sql):
    return sorted(tuple(round(v, 6) if isinstance(v, float) else v for v in r)
                  for r in db.execute(sql).fetchall())


def same(what, expected_sql, actual_sql):
    expected, actual = rows(expected_sql), rows(actual_sql)
    if expected != actual:
        missing = [r for r in expected if r not in actual][:5]
        extra = [r for r in actual if r not in expected][:5]
        failures.append(f"{what}: {len(expected)} rows expected, {len(actual)} found; "
                        f"missing {missing}, unexpected {extra}")
    return len(actual)


# Bronze: event ids are SHA-256 of user|session|ts, dates the UTC day of ts.
for table in ["bronze_listen_events", "bronze_page_view_events", "bronze_auth_events"]:
    bad = db.execute(f"""
        SELECT count(*) FROM {table}
        WHERE event_id <> sha256(concat_ws('|', user_id, session_id, ts))
           OR event_date <> CAST(epoch_ms(ts) AS DATE)""").fetchone()[0]
    if bad:
        failures.append(f"{table}: {bad} rows with a wrong event_id or event_date")

db.execute("""
    CREATE VIEW listens AS
    SELECT * FROM bronze_listen_events
    WHERE user_id IS NOT NULL AND song IS NOT NULL AND artist IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts) = 1""")
db.execute("""
    CREATE VIEW page_views AS
    SELECT * FROM bronze_page_view_events WHERE user_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts) = 1""")
db.execute("""
    CREATE VIEW logins AS
    SELECT * FROM bronze_auth_events WHERE user_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts) = 1""")

summary = {}
summary["silver_listen_events"] = same(
    "silver_listen_events",
    "SELECT event_id, user_id, song, ts FROM listens",
    "SELECT event_id, user_id, song, ts FROM silver_listen_events")
summary["silver_page_view_events"] = same(
    "silver_page_view_events",
    "SELECT event_id, page, status FROM page_views",
    "SELECT event_id, page, status FROM silver_page_view_events")
summary["silver_auth_events"] = same(
    "silver_auth_events",
    "SELECT event_id, success FROM logins",
    "SELECT event_id, success FROM silver_auth_events")

# Sessions: a user's page views with no gap over 30 minutes.
db.execute("""
    CREATE VIEW sessions AS
    WITH marked AS (
      SELECT user_id, ts,
             CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) <= 1800000
                  THEN 0 ELSE 1 END AS starts
      FROM page_views),
    numbered AS (
      SELECT user_id, ts, sum(starts) OVER (PARTITION BY user_id ORDER BY ts
                                            ROWS UNBOUNDED PRECEDING) AS n
      FROM marked)
    SELECT user_id, n, CAST(epoch_ms(min(ts)) AS DATE) AS day, count(*) AS page_views,
           (max(ts) - min(ts)) // 1000 AS seconds
    FROM numbered GROUP BY user_id, n""")
summary["silver_user_sessions"] = same(
    "silver_user_sessions",
    "SELECT user_id, n, day, page_views, seconds FROM sessions",
    "SELECT user_id, session_number, session_date, page_views, duration_seconds "
    "FROM silver_user_sessions")

summary["gold_top_songs_daily"] = same(
    "gold_top_songs_daily",
    """SELECT day, rank, song, artist, plays, listeners FROM (
         SELECT *, row_number() OVER (PARTITION BY day ORDER BY plays DESC, song, artist) AS rank
         FROM (SELECT CAST(epoch_ms(ts) AS DATE) AS day, song, artist, count(*) AS plays,
                      count(DISTINCT user_id) AS listeners
               FROM listens GROUP BY ALL)) WHERE rank <= 10""",
    "SELECT event_date, rank, song, artist, plays, listeners FROM gold_top_songs_daily")
summary["gold_top_artists_daily"] = same(
    "gold_top_artists_daily",
    """SELECT day, rank, artist, plays, listeners FROM (
         SELECT *, row_number() OVER (PARTITION BY day ORDER BY plays DESC, artist) AS rank
         FROM (SELECT CAST(epoch_ms(ts) AS DATE) AS day, artist, count(*) AS plays,
                      count(DISTINCT user_id) AS listeners
               FROM listens GROUP BY ALL)) WHERE rank <= 10""",
    "SELECT event_date, rank, artist, plays, listeners FROM gold_top_artists_daily")
summary["gold_active_users_daily"] = same(
    "gold_active_users_daily",
    """SELECT CAST(epoch_ms(ts) AS DATE), level, count(DISTINCT user_id), count(*)
       FROM page_views GROUP BY ALL""",
    "SELECT event_date, level, active_users, page_views FROM gold_active_users_daily")
summary["gold_sessions_per_user_daily"] = same(
    "gold_sessions_per_user_daily",
    """SELECT day, user_id, count(*), sum(page_views), avg(seconds)
       FROM sessions GROUP BY ALL""",
    """SELECT session_date, user_id, sessions, page_views, avg_session_seconds
       FROM gold_sessions_per_user_daily""")

# What the warn-only expectations should have counted.
summary["violations"] = {
    "full_play": db.execute("SELECT count(*) FROM listens WHERE NOT coalesce(duration >= 120, false)").fetchone()[0],
    "served": db.execute("SELECT count(*) FROM page_views WHERE NOT coalesce(status = 200, false)").fetchone()[0],
    "succeeded": db.execute("SELECT count(*) FROM logins WHERE NOT coalesce(success, false)").fetchone()[0],
}
summary["bronze"] = {
    t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    for t in ["bronze_listen_events", "bronze_page_view_events", "bronze_auth_events"]
}
summary["days"] = db.execute("SELECT count(DISTINCT event_date) FROM bronze_listen_events").fetchone()[0]

if failures:
    print("\n".join(failures), file=sys.stderr)
    sys.exit(1)
print(json.dumps(summary, sort_keys=True))
