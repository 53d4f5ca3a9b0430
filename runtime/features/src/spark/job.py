"""mlp's Spark job: runs one SQL query of mlp's Spark dialect over registered tables and writes
the result as Parquet. mlp writes the job file and runs this script with the project's Python
(`pyspark` from its venv; `spark-submit job.py JOB_FILE` runs it the same way), locally
(`local[2]`) or on the cluster the `master` URL names; the query is the same either way.

The job file (JSON): {"master": "local[2]", "tables": {"name": {"path": "...", "format":
"parquet" | "csv", "types": {"column": "BIGINT", ...}}}, "sql": "...", "out": "dir"}. CSV
files are read as text and each column cast to its type in `types` (the types DuckDB reads), so
that both engines see the same values. The session runs with ANSI mode off (an overflowing
decimal is null, as mlp's rules want), the UTC time zone (naive timestamps are UTC, as in the
DuckDB path) and case-sensitive names. A failure ends with one line `mlp-spark: REASON` on
stderr and exit status 1.

Usage: job.py JOB_FILE
"""

import json
import sys


def table(spark, t):
    if t["format"] == "csv":
        df = spark.read.option("header", "true").option("inferSchema", "false").csv(t["path"])
        types = t.get("types") or {}
        cols = []
        for c in df.columns:
            quoted = "`" + c.replace("`", "``") + "`"
            ty = types.get(c)
            cols.append(f"CAST({quoted} AS {ty}) AS {quoted}" if ty else quoted)
        return df.selectExpr(*cols)
    return spark.read.parquet(t["path"])


def main(path):
    with open(path) as f:
        job = json.load(f)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(job.get("master") or "local[2]")
        .appName(job.get("name") or "mlp")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.caseSensitive", "true")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.shuffle.partitions", str(job.get("partitions") or 4))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        for name, t in job["tables"].items():
            table(spark, t).createOrReplaceTempView(name)
        spark.sql(job["sql"]).coalesce(1).write.mode("overwrite").parquet(job["out"])
    finally:
        spark.stop()


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as e:  # noqa: BLE001: the one line mlp shows, then the traceback
        import traceback

        traceback.print_exc()
        first = (str(e).strip().splitlines() or [""])[0]
        print(f"mlp-spark: {type(e).__name__}: {first}", file=sys.stderr)
        sys.exit(1)
