-- Seeded data for the minimal project: `mlpc sql generate.sql`. Writes data/events.parquet
-- (20,000 events of 500 users over the 30 days up to `as_of`) and data/labels.parquet (2,000
-- labelled moments: user_id, event_timestamp, label). `as_of` is when the script runs, unless
-- `mlpc sql generate.sql --as-of 2026-04-01` pins it; the same seed gives the same rows
-- relative to it.
SET threads = 1; -- one thread: the same seed gives the same rows
SET VARIABLE as_of = coalesce(getvariable('as_of'), date_trunc('minute', make_timestamp(epoch_us(now()))));
SELECT setseed(0.7);

CREATE TABLE events AS
SELECT
  CAST(floor(random() * 500) AS BIGINT) AS user_id,
  round(random() * 100, 2) AS value,
  getvariable('as_of') - to_seconds(CAST(floor(random() * 30 * 86400) AS BIGINT)) AS event_ts
FROM range(20000);

CREATE TABLE labels AS
SELECT
  user_id,
  event_ts + to_seconds(1) AS event_timestamp,
  value > 60 OR random() < 0.05 AS label
FROM (SELECT * FROM events ORDER BY event_ts, user_id, value LIMIT 2000 OFFSET 8000);

COPY (SELECT * FROM events ORDER BY event_ts, user_id, value) TO 'data/events.parquet' (FORMAT parquet);
COPY (SELECT * FROM labels ORDER BY event_timestamp, user_id) TO 'data/labels.parquet' (FORMAT parquet);
