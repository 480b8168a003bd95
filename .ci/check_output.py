"""Reads the demo's output the way users do: DuckDB and pyarrow, hive partitioning.

Fails unless both resources read as one table each, with the documented types.
"""
import sys

import duckdb
import pyarrow.dataset as ds

root = sys.argv[1].rstrip("/")
con = duckdb.connect()
for table, key in [("calls", "sid"), ("usage_records", "category")]:
    rel = f"read_parquet('{root}/{table}/**/*.parquet', hive_partitioning = true)"
    n, accounts, days = con.execute(
        f"select count(*), count(distinct account_sid), count(distinct date) from {rel}"
    ).fetchone()
    dup = con.execute(
        f"select count(*) from (select account_sid, date, {key} from {rel} group by all having count(*) > 1)"
    ).fetchone()[0]
    types = dict(con.execute(f"select column_name, column_type from (describe select * from {rel})").fetchall())
    print(f"duckdb {table}: {n} rows, {accounts} accounts, {days} days, {dup} duplicates")
    assert n > 0 and accounts > 0 and dup == 0, table
    assert types["price"] == "DECIMAL(38,18)", types["price"]
    assert types["date"] == "DATE", types["date"]
    dataset = ds.dataset(f"{root}/{table}", format="parquet", partitioning="hive")
    assert dataset.count_rows() == n, (dataset.count_rows(), n)
    print(f"pyarrow {table}: {dataset.count_rows()} rows")

types = dict(con.execute(
    f"select column_name, column_type from (describe select * from read_parquet('{root}/calls/**/*.parquet', hive_partitioning = true))"
).fetchall())
assert types["start_time"] == "TIMESTAMP WITH TIME ZONE", types["start_time"]
assert types["duration"] == "BIGINT", types["duration"]
joined = con.execute(f"""
    select count(*) from (
      select c.account_sid, c.date, count(*) as calls, any_value(u.count) as billed
      from read_parquet('{root}/calls/**/*.parquet', hive_partitioning = true) c
      join read_parquet('{root}/usage_records/**/*.parquet', hive_partitioning = true) u
        on u.account_sid = c.account_sid and u.start_date = c.date and u.category = 'calls'
      group by all having count(*) <> any_value(u.count))
""").fetchone()[0]
assert joined == 0, f"{joined} days where exported calls and billed calls differ"
print("output reads as one table per resource; calls and usage agree")
