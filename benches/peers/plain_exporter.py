#!/usr/bin/env python3
"""The exporter a user would write by hand: for each account and each UTC day, page through
the account's Calls (Basic auth: the account sid and the Auth Token, as Twilio Connect
prescribes), then write the day's calls as one Parquet file with pyarrow.

Sequential, one requests.Session, pages of 1000, the records kept as Twilio sends them (prices
and durations are strings, as on the wire, numbers made text; pyarrow infers the rest). It prints one JSON line:
{"requests": N, "rows": N, "files": N}.

Usage: plain_exporter.py --api-base URL --from YYYY-MM-DD --to YYYY-MM-DD --output DIR AC... 
The Auth Token comes from TWILIO_AUTH_TOKEN.
"""

import argparse
import datetime as dt
import json
import os
import sys
import urllib.parse

import pyarrow as pa
import pyarrow.parquet as pq
import requests


def days(first, last):
    d = first
    while d <= last:
        yield d
        d += dt.timedelta(days=1)


def as_text(call):
    """Numbers as their JSON text. Twilio sends prices and durations as strings, but some
    calls carry a price as a JSON number: pyarrow cannot infer one column type from both
    (the first version of this script stopped there with "Expected bytes, got a 'float'")."""
    return {k: repr(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in call.items()}


def calls_of_day(session, base, sid, day, counter):
    """Every call of `sid` that started on `day` (UTC), following next_page_uri."""
    query = urllib.parse.urlencode(
        {"StartTime>": day.isoformat(), "StartTime<": (day + dt.timedelta(days=1)).isoformat(), "PageSize": 1000}
    )
    # The documented spelling is StartTime>=DAY: the name is "StartTime>", the value after "=".
    url = f"{base}/2010-04-01/Accounts/{sid}/Calls.json?{query}"
    calls = []
    while url:
        response = session.get(url, timeout=60)
        counter["requests"] += 1
        response.raise_for_status()
        page = response.json()
        calls.extend(page["calls"])
        nxt = page.get("next_page_uri")
        url = f"{base}{nxt}" if nxt else None
    return calls


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api-base", required=True)
    p.add_argument("--from", dest="first", required=True, type=dt.date.fromisoformat)
    p.add_argument("--to", dest="last", required=True, type=dt.date.fromisoformat)
    p.add_argument("--output", required=True)
    p.add_argument("accounts", nargs="+")
    args = p.parse_args()
    token = os.environ["TWILIO_AUTH_TOKEN"]
    base = args.api_base.rstrip("/")
    counter = {"requests": 0, "rows": 0, "files": 0}
    session = requests.Session()
    for sid in args.accounts:
        session.auth = (sid, token)
        for day in days(args.first, args.last):
            calls = calls_of_day(session, base, sid, day, counter)
            if not calls:
                continue
            out = os.path.join(args.output, "calls", f"account_sid={sid}", f"date={day}")
            os.makedirs(out, exist_ok=True)
            pq.write_table(pa.Table.from_pylist([as_text(c) for c in calls]), os.path.join(out, "part-0.parquet"))
            counter["rows"] += len(calls)
            counter["files"] += 1
    json.dump(counter, sys.stdout)
    print()


if __name__ == "__main__":
    main()
