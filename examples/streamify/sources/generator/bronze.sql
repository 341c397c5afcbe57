-- Bronze: the raw events, one streaming table per kind, as generate_events produces
-- them (streamify's eventsim fields). event_id identifies an event across copies:
-- SHA-256 of user|session|ts.

CREATE STREAMING TABLE bronze_listen_events
PARTITIONED BY (event_date)
COMMENT 'Song plays, as generated'
AS SELECT
  sha2(concat_ws('|', "userId", "sessionId", ts), 256) AS event_id,
  to_date(from_unixtime(ts / 1000)) AS event_date,
  ts, "userId" AS user_id, "sessionId" AS session_id, "itemInSession" AS item_in_session,
  level, artist, song, duration, city, state, "userAgent" AS user_agent, gender,
  registration
FROM STREAM(generate_events(kind => 'listen', count => ${listen.count},
                            rate => ${listen.rate}, users => ${users}, seed => ${seed},
                            start => ${start}));

CREATE STREAMING TABLE bronze_page_view_events
PARTITIONED BY (event_date)
COMMENT 'Page views, as generated'
AS SELECT
  sha2(concat_ws('|', "userId", "sessionId", ts), 256) AS event_id,
  to_date(from_unixtime(ts / 1000)) AS event_date,
  ts, "userId" AS user_id, "sessionId" AS session_id, "itemInSession" AS item_in_session,
  page, method, status, auth, level, artist, song, duration, city, state,
  "userAgent" AS user_agent, gender, registration
FROM STREAM(generate_events(kind => 'page_view', count => ${page_view.count},
                            rate => ${page_view.rate}, users => ${users}, seed => ${seed},
                            start => ${start}));

CREATE STREAMING TABLE bronze_auth_events
PARTITIONED BY (event_date)
COMMENT 'Logins, as generated'
AS SELECT
  sha2(concat_ws('|', "userId", "sessionId", ts), 256) AS event_id,
  to_date(from_unixtime(ts / 1000)) AS event_date,
  ts, "userId" AS user_id, "sessionId" AS session_id, level, success, city, state,
  "userAgent" AS user_agent
FROM STREAM(generate_events(kind => 'auth', count => ${auth.count}, rate => ${auth.rate},
                            users => ${users}, seed => ${seed}, start => ${start}));
