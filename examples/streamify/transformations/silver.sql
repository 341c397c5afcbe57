-- Silver: each event once (the first copy of an event_id), with expectations on
-- what a usable event looks like, and listening sessions.

CREATE MATERIALIZED VIEW silver_listen_events (
  CONSTRAINT has_user EXPECT (user_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT has_song EXPECT (song IS NOT NULL AND artist IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT full_play EXPECT (duration >= 120)
)
PARTITIONED BY (event_date)
AS SELECT event_id, event_date, ts, user_id, session_id, level, artist, song, duration,
          city, state
FROM (SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY ts) AS copy
      FROM bronze_listen_events)
WHERE copy = 1;

CREATE MATERIALIZED VIEW silver_page_view_events (
  CONSTRAINT has_user EXPECT (user_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT served EXPECT (status = 200)
)
PARTITIONED BY (event_date)
AS SELECT event_id, event_date, ts, user_id, session_id, page, method, status, level,
          artist, song, city, state
FROM (SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY ts) AS copy
      FROM bronze_page_view_events)
WHERE copy = 1;

CREATE MATERIALIZED VIEW silver_auth_events (
  CONSTRAINT has_user EXPECT (user_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT succeeded EXPECT (success)
)
AS SELECT event_id, event_date, ts, user_id, session_id, level, success
FROM (SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY ts) AS copy
      FROM bronze_auth_events)
WHERE copy = 1;

-- A session is a user's run of page views with no gap over 30 minutes.
CREATE MATERIALIZED VIEW silver_user_sessions AS
WITH gaps AS (
  SELECT user_id, ts, level,
         CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) <= 1800000
              THEN 0 ELSE 1 END AS starts_session
  FROM silver_page_view_events
),
numbered AS (
  SELECT user_id, ts, level,
         sum(starts_session) OVER (PARTITION BY user_id ORDER BY ts
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           AS session_number
  FROM gaps
)
SELECT user_id, session_number,
       to_date(from_unixtime(min(ts) / 1000)) AS session_date,
       min(ts) AS start_ts, max(ts) AS end_ts,
       (max(ts) - min(ts)) div 1000 AS duration_seconds,
       count(*) AS page_views,
       max(level) AS level
FROM numbered
GROUP BY user_id, session_number;
