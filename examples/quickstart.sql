-- Sparkling quick start. Run against `sparkling local` (started in this directory):
--   sparkling sql -f examples/quickstart.sql
-- It writes a small Parquet dataset under spark-warehouse/, registers it as a table,
-- runs an aggregation on the executors, and keeps the result as an Iceberg table in
-- the embedded catalog (metadata/iceberg_catalog.db), partitioned by city. (COPY adds
-- files to the directory: remove spark-warehouse/quickstart_trips before running it
-- again by hand.)
COPY (
    SELECT
        id AS trip_id,
        CASE id % 5 WHEN 0 THEN 'Lisbon' WHEN 1 THEN 'Porto' WHEN 2 THEN 'Braga'
                       WHEN 3 THEN 'Faro' ELSE 'Coimbra' END AS city,
        CAST((id * 7919) % 3000 AS DOUBLE) / 100 + 0.5 AS distance_km
    FROM range(0, 200000)
) TO 'spark-warehouse/quickstart_trips/' STORED AS PARQUET;

CREATE EXTERNAL TABLE IF NOT EXISTS trips
STORED AS PARQUET
LOCATION 'spark-warehouse/quickstart_trips/';

SELECT city,
       count(*) AS trips,
       round(avg(distance_km), 2) AS avg_km,
       round(sum(2.5 + distance_km * 0.9), 2) AS revenue
FROM trips
GROUP BY city
ORDER BY revenue DESC;

-- The same aggregation as an Iceberg table: written by the executors, committed as one
-- snapshot, readable by pyiceberg through http://127.0.0.1:8181.
DROP TABLE IF EXISTS city_revenue PURGE;

CREATE TABLE city_revenue USING iceberg PARTITIONED BY (city) AS
SELECT city, count(*) AS trips, round(sum(2.5 + distance_km * 0.9), 2) AS revenue
FROM trips
GROUP BY city;

SELECT city, trips, revenue FROM city_revenue ORDER BY revenue DESC;

SELECT operation, summary['added-records'] AS added_records FROM default.city_revenue.snapshots;
