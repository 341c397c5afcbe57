-- Bronze from Kafka: the JSON records of the listen_events, page_view_events and
-- auth_events topics (as `sparkling gen kafka` or streamify's eventsim writes them;
-- the names are in the spec's configuration),
-- with the same columns as the generator's bronze tables plus where each record was
-- in Kafka. event_id: SHA-256 of user|session|ts.

CREATE STREAMING TABLE bronze_listen_events
PARTITIONED BY (event_date)
COMMENT 'Song plays, from Kafka'
AS SELECT
  sha2(concat_ws('|', e."userId", e."sessionId", e.ts), 256) AS event_id,
  to_date(from_unixtime(e.ts / 1000)) AS event_date,
  e.ts AS ts, e."userId" AS user_id, e."sessionId" AS session_id,
  e."itemInSession" AS item_in_session, e.level AS level, e.artist AS artist,
  e.song AS song, e.duration AS duration, e.city AS city, e.state AS state,
  e."userAgent" AS user_agent, e.gender AS gender, e.registration AS registration,
  partition AS kafka_partition, "offset" AS kafka_offset, timestamp AS kafka_timestamp
FROM (SELECT from_json(CAST(value AS STRING),
        'artist STRING, song STRING, duration DOUBLE, ts BIGINT, `sessionId` BIGINT,
         level STRING, `itemInSession` INT, city STRING, state STRING, `userAgent` STRING,
         `userId` BIGINT, gender STRING, registration BIGINT') AS e,
        partition, "offset", timestamp
      FROM STREAM(read_kafka(bootstrapServers => '${kafka.bootstrap}',
                             subscribe => '${kafka.topic.listen}',
                             startingOffsets => '${kafka.startingOffsets}')));

CREATE STREAMING TABLE bronze_page_view_events
PARTITIONED BY (event_date)
COMMENT 'Page views, from Kafka'
AS SELECT
  sha2(concat_ws('|', e."userId", e."sessionId", e.ts), 256) AS event_id,
  to_date(from_unixtime(e.ts / 1000)) AS event_date,
  e.ts AS ts, e."userId" AS user_id, e."sessionId" AS session_id,
  e."itemInSession" AS item_in_session, e.page AS page, e.method AS method,
  e.status AS status, e.auth AS auth, e.level AS level, e.artist AS artist,
  e.song AS song, e.duration AS duration, e.city AS city, e.state AS state,
  e."userAgent" AS user_agent, e.gender AS gender, e.registration AS registration,
  partition AS kafka_partition, "offset" AS kafka_offset, timestamp AS kafka_timestamp
FROM (SELECT from_json(CAST(value AS STRING),
        'ts BIGINT, `sessionId` BIGINT, page STRING, auth STRING, method STRING, status INT,
         level STRING, `itemInSession` INT, city STRING, state STRING, `userAgent` STRING,
         `userId` BIGINT, gender STRING, registration BIGINT, artist STRING, song STRING,
         duration DOUBLE') AS e,
        partition, "offset", timestamp
      FROM STREAM(read_kafka(bootstrapServers => '${kafka.bootstrap}',
                             subscribe => '${kafka.topic.page_view}',
                             startingOffsets => '${kafka.startingOffsets}')));

CREATE STREAMING TABLE bronze_auth_events
PARTITIONED BY (event_date)
COMMENT 'Logins, from Kafka'
AS SELECT
  sha2(concat_ws('|', e."userId", e."sessionId", e.ts), 256) AS event_id,
  to_date(from_unixtime(e.ts / 1000)) AS event_date,
  e.ts AS ts, e."userId" AS user_id, e."sessionId" AS session_id, e.level AS level,
  e.success AS success, e.city AS city, e.state AS state, e."userAgent" AS user_agent,
  partition AS kafka_partition, "offset" AS kafka_offset, timestamp AS kafka_timestamp
FROM (SELECT from_json(CAST(value AS STRING),
        'ts BIGINT, `sessionId` BIGINT, level STRING, city STRING, state STRING,
         `userAgent` STRING, `userId` BIGINT, success BOOLEAN') AS e,
        partition, "offset", timestamp
      FROM STREAM(read_kafka(bootstrapServers => '${kafka.bootstrap}',
                             subscribe => '${kafka.topic.auth}',
                             startingOffsets => '${kafka.startingOffsets}')));
