-- Seeded, deterministic demo data for the fraud example: run `mlp-sql examples/fraud/generate.sql`.
-- Writes data/transactions.parquet (100,000 card payments over 90 days, each visible a few
-- minutes after it happened), data/merchants.csv (200 merchants) and data/labels.parquet
-- (10,000 labelled checkouts with the request fields, for training sets).
SET threads = 1; -- one thread: the same seed gives the same rows
SELECT setseed(0.42);

CREATE TABLE merchants AS
SELECT
  m AS merchant_id,
  round(random(), 3) AS risk_score,
  (['grocery', 'travel', 'electronics', 'fashion', 'gaming'])[1 + (m % 5)] AS category,
  TIMESTAMP '2026-01-01 00:00:00' + to_days(CAST(m % 30 AS INTEGER)) AS updated_at
FROM range(200) t(m);

CREATE TABLE transactions AS
SELECT
  CAST(floor(random() * 1000) AS BIGINT) AS user_id,
  CAST(floor(random() * 200) AS BIGINT) AS merchant_id,
  round(exp(random() * 6), 2) AS amount,
  (['DE', 'FR', 'US', 'GB', 'NL'])[1 + CAST(floor(random() * 5) AS INTEGER)] AS country,
  TIMESTAMP '2026-01-01 00:00:00' + to_seconds(CAST(floor(random() * 90 * 86400) AS BIGINT)) AS event_ts
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

COPY (SELECT * FROM merchants ORDER BY merchant_id) TO 'data/merchants.csv' (HEADER);
COPY (SELECT * FROM transactions ORDER BY event_ts, user_id, merchant_id, amount) TO 'data/transactions.parquet' (FORMAT parquet);
COPY (SELECT * FROM labels ORDER BY event_timestamp, user_id) TO 'data/labels.parquet' (FORMAT parquet);
