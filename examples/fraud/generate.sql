-- Seeded, deterministic demo data for the fraud example: run `mlp-sql examples/fraud/generate.sql`.
-- Writes data/transactions.parquet (100,000 card payments over the 90 days up to `as_of`,
-- each visible a few minutes after it happened), data/merchants.csv (200 merchants, each
-- listed when it joined and again at its last refresh, in the week before `as_of`) and
-- data/labels.parquet (10,000 labelled checkouts with the request fields, for training sets).
--
-- The timeline ends at `as_of`: the time the script runs (to the minute, UTC), so that online
-- lookups right after it find fresh values; `mlp-sql generate.sql --as-of 2026-04-01` (or
-- `SET VARIABLE as_of = TIMESTAMP '2026-04-01'` before the script) pins it. The same seed
-- gives the same rows relative to `as_of`.
SET threads = 1; -- one thread: the same seed gives the same rows
SET VARIABLE as_of = coalesce(getvariable('as_of'), date_trunc('minute', make_timestamp(epoch_us(now()))));
SET VARIABLE start = getvariable('as_of') - INTERVAL 90 DAY;
SELECT setseed(0.42);

CREATE TABLE merchants AS
SELECT
  m AS merchant_id,
  round(random(), 3) AS risk_score,
  (['grocery', 'travel', 'electronics', 'fashion', 'gaming'])[1 + (m % 5)] AS category,
  getvariable('start') + to_days(CAST(m % 30 AS INTEGER)) AS updated_at
FROM range(200) t(m);

CREATE TABLE transactions AS
SELECT
  CAST(floor(random() * 1000) AS BIGINT) AS user_id,
  CAST(floor(random() * 200) AS BIGINT) AS merchant_id,
  round(exp(random() * 6), 2) AS amount,
  (['DE', 'FR', 'US', 'GB', 'NL'])[1 + CAST(floor(random() * 5) AS INTEGER)] AS country,
  getvariable('start') + to_seconds(CAST(floor(random() * 90 * 86400) AS BIGINT)) AS event_ts
FROM range(100000);

ALTER TABLE transactions ADD COLUMN created_ts TIMESTAMP;
UPDATE transactions SET created_ts = event_ts + to_seconds(CAST(floor(random() * 600) AS BIGINT));

CREATE TABLE labels AS
SELECT
  user_id,
  merchant_id,
  amount,
  country,
  event_ts + to_seconds(1) AS event_timestamp,
  (amount > 200 AND random() < 0.6) OR random() < 0.01 AS is_fraud
FROM (SELECT * FROM transactions ORDER BY event_ts, user_id, merchant_id, amount LIMIT 10000 OFFSET 50000);

-- Each merchant's last refresh, in the week before `as_of`, with the same profile: the online
-- store then holds values younger than the view's 30-day TTL. Earlier points in time (every
-- label's) still see the first listing alone.
INSERT INTO merchants
SELECT merchant_id, risk_score, category,
  getvariable('as_of') - to_hours(CAST(24 + (merchant_id * 7) % 144 AS INTEGER)) AS updated_at
FROM merchants;

COPY (SELECT * FROM merchants ORDER BY merchant_id, updated_at) TO 'data/merchants.csv' (HEADER);
COPY (SELECT * FROM transactions ORDER BY event_ts, user_id, merchant_id, amount) TO 'data/transactions.parquet' (FORMAT parquet);
COPY (SELECT * FROM labels ORDER BY event_timestamp, user_id) TO 'data/labels.parquet' (FORMAT parquet);
