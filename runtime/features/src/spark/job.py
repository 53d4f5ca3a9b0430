"""mlp's Spark job: runs one SQL query of mlp's Spark dialect over registered tables and writes
the result as Parquet. mlp writes the job file and submits this script with `spark-submit`
(or runs it with the venv's Python and `pyspark`), locally (`local[2]`) or on the cluster the
`master` URL names; the query is the same either way.

The job file (JSON): {"master": "local[2]", "tables": {"name": {"path": "...", "format":
"parquet" | "csv"}}, "sql": "...", "out": "dir"}. The session runs with ANSI mode off (an
overflowing decimal is null, as mlp's rules want) and the UTC time zone (naive timestamps are
UTC, as in the DuckDB path).

Usage: job.py JOB_FILE
"""

import json
import sys

from pyspark.sql import SparkSession


def main(path):
    with open(path) as f:
        job = json.load(f)
    spark = (
        SparkSession.builder.master(job.get("master") or "local[2]")
        .appName(job.get("name") or "mlp")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(job.get("partitions") or 4))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        for name, t in job["tables"].items():
            reader = spark.read
            if t["format"] == "csv":
                reader = reader.option("header", "true").option("inferSchema", "true")
                df = reader.csv(t["path"])
            else:
                df = reader.parquet(t["path"])
            df.createOrReplaceTempView(name)
        spark.sql(job["sql"]).coalesce(1).write.mode("overwrite").parquet(job["out"])
    finally:
        spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
