-- Gold: daily aggregates for dashboards.

-- The ten most played songs of each day.
CREATE MATERIALIZED VIEW gold_top_songs_daily AS
SELECT event_date, rank, song, artist, plays, listeners
FROM (SELECT event_date, song, artist, plays, listeners,
             row_number() OVER (PARTITION BY event_date
                                ORDER BY plays DESC, song, artist) AS rank
      FROM (SELECT event_date, song, artist, count(*) AS plays,
                   count(DISTINCT user_id) AS listeners
            FROM silver_listen_events
            GROUP BY event_date, song, artist))
WHERE rank <= 10;

-- The ten most played artists of each day.
CREATE MATERIALIZED VIEW gold_top_artists_daily AS
SELECT event_date, rank, artist, plays, listeners
FROM (SELECT event_date, artist, plays, listeners,
             row_number() OVER (PARTITION BY event_date ORDER BY plays DESC, artist) AS rank
      FROM (SELECT event_date, artist, count(*) AS plays,
                   count(DISTINCT user_id) AS listeners
            FROM silver_listen_events
            GROUP BY event_date, artist))
WHERE rank <= 10;

-- Users active each day, by subscription level.
CREATE MATERIALIZED VIEW gold_active_users_daily AS
SELECT event_date, level, count(DISTINCT user_id) AS active_users, count(*) AS page_views
FROM silver_page_view_events
GROUP BY event_date, level;

-- Sessions per user and day (a session counts on the day it starts).
CREATE MATERIALIZED VIEW gold_sessions_per_user_daily AS
SELECT session_date, user_id, count(*) AS sessions, sum(page_views) AS page_views,
       avg(duration_seconds) AS avg_session_seconds
FROM silver_user_sessions
GROUP BY session_date, user_id;
