#!/usr/bin/env python3
"""Reads the outputs of twilio-export and of its peers over the same simulated calls, checks
that each peer has exactly the same calls per (account, day) with the same values, and prints
a Markdown table of CPU, peak memory, wall time, requests and rows from `/usr/bin/time -v`.

Usage: compare.py --truth DIR NAME:TIMEFILE:REQUESTS:OUTPUT ...
  DIR is twilio-export's output; OUTPUT is a hive tree of Parquet (calls/account_sid=/date=)
  or a file of Airbyte RECORD messages (*.jsonl).
"""

import argparse
import datetime as dt
import decimal
import email.utils
import glob
import json
import re
import sys
from collections import Counter, defaultdict

import pyarrow.parquet as pq

# The fields compared, as each side gives them.
FIELDS = ["price", "duration", "start_time", "end_time", "status", "direction", "to", "from", "queue_time"]


def wire_value(field, v):
    """A value as Twilio sends it (a string, a JSON number or null), normalised."""
    if v is None or v == "":
        return None
    if field == "price":
        return decimal.Decimal(str(v)) if not isinstance(v, float) else decimal.Decimal(repr(v))
    if field in ("duration", "queue_time"):
        return int(v)
    if field in ("start_time", "end_time"):
        if isinstance(v, dt.datetime):
            return v.astimezone(dt.timezone.utc)
        try:
            return email.utils.parsedate_to_datetime(v).astimezone(dt.timezone.utc)
        except ValueError:  # Airbyte rewrites the API's RFC 2822 dates as ISO 8601
            return dt.datetime.fromisoformat(v).astimezone(dt.timezone.utc)
    return v


def rows_of_tree(path):
    """{(account, day): {sid: {field: value}}} from a hive tree of Parquet."""
    out = defaultdict(dict)
    for file in glob.glob(f"{path}/calls/account_sid=*/date=*/*.parquet"):
        day = re.search(r"date=([\d-]+)", file).group(1)
        for r in pq.read_table(file).to_pylist():
            out[(r["account_sid"], day)][r["sid"]] = {f: wire_value(f, r.get(f)) for f in FIELDS}
    return out


def rows_of_airbyte(path):
    out = defaultdict(dict)
    with open(path) as f:
        for line in f:
            if not line.startswith("{"):
                continue  # the harness's REQUEST lines
            m = json.loads(line)
            if m.get("type") != "RECORD" or m["record"]["stream"] != "calls":
                continue
            r = m["record"]["data"]
            start = wire_value("start_time", r["start_time"])
            out[(r["account_sid"], start.date().isoformat())][r["sid"]] = {f: wire_value(f, r.get(f)) for f in FIELDS}
    return out


def diff(truth, other):
    """Calls missing, extra, and how many calls differ in each compared field."""
    missing = extra = 0
    fields = Counter()
    for key in set(truth) | set(other):
        a, b = truth.get(key, {}), other.get(key, {})
        missing += len(a.keys() - b.keys())
        extra += len(b.keys() - a.keys())
        for sid in a.keys() & b.keys():
            fields.update(f for f in FIELDS if a[sid][f] != b[sid][f])
    return missing, extra, fields


def timing(path):
    text = open(path).read()
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
    secs = 0.0
    for part in wall.split(":"):
        secs = secs * 60 + float(part)
    return user + sys_, rss / 1024, secs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--truth", required=True)
    p.add_argument("peers", nargs="+", help="NAME:TIMEFILE:REQUESTS:OUTPUT")
    args = p.parse_args()
    truth = rows_of_tree(args.truth)
    calls = sum(len(v) for v in truth.values())
    print(f"{calls} calls in {len(truth)} (account, day) partitions\n")
    print("| exporter | CPU user+sys | CPU per call | peak RSS | wall | requests | calls | calls missing / extra / with a different value |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for spec in args.peers:
        name, timefile, requests, output = spec.split(":", 3)
        cpu, rss, wall = timing(timefile)
        rows = rows_of_airbyte(output) if output.endswith(".jsonl") else rows_of_tree(output)
        got = sum(len(v) for v in rows.values())
        missing, extra, fields = diff(truth, rows)
        changed = ", ".join(f"{n} {f}" for f, n in fields.most_common()) or "0"
        print(f"| {name} | {cpu:.2f} s | {cpu * 1e6 / max(got, 1):.1f} µs | {rss:.0f} MiB | {wall:.1f} s | {requests} | {got} | {missing} / {extra} / {changed} |")


if __name__ == "__main__":
    sys.exit(main())
