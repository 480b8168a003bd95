#!/usr/bin/env python3
"""Measures twilio-export's request economy and CPU against stub.py (see README.md).

Usage: measure.py [sparse] [latency] [rerun] [sweep] [cpu] [order]      (default: all six)
Environment: BIN (the twilio-export binary; by default target/release/twilio-export, or under
CARGO_TARGET_DIR), FLOOR (the floor binary of benches/floor.rs; by default built by cargo),
KEEP=1 keeps the scratch directory, REPEAT=n measures
the CPU sets n times, CPU_SETS="A,D,C;A,D,C" overrides the CPU data sets.
"""

import base64
import datetime as dt
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from decimal import Decimal
from email.utils import parsedate_to_datetime

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "target"))
BIN = os.environ.get("BIN", os.path.join(TARGET, "release", "twilio-export"))
FLOOR = os.environ.get("FLOOR", "")


def floor_binary():
    """FLOOR, or benches/floor.rs built by cargo (as benches/common.sh finds it)."""
    global FLOOR
    if not FLOOR:
        out = subprocess.run(["cargo", "bench", "--quiet", "--bench", "floor", "--no-run",
                              "--message-format=json"], capture_output=True, text=True,
                             check=True, cwd=os.path.join(HERE, "..", "..")).stdout
        FLOOR = [m["executable"] for m in map(json.loads, out.splitlines())
                 if m.get("executable") and m["target"]["name"] == "floor"][0]
    return FLOOR
TOKEN = "indep-stub-token"


def log(*a):
    print(*a, flush=True)


class Stub:
    def __init__(self, work, *args):
        self.log = open(os.path.join(work, "stub.log"), "w+")
        self.proc = subprocess.Popen(
            ["timeout", "3600", sys.executable, os.path.join(HERE, "stub.py"),
             "--token", TOKEN, *map(str, args)],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 600
        while time.time() < deadline:
            self.log.seek(0)
            text = self.log.read()
            m = re.search(r"^stub on (\S+)$", text, re.M)
            if m and "generated in" in text:
                break
            if self.proc.poll() is not None:
                raise SystemExit("the stub did not start:\n" + text)
            time.sleep(0.2)
        else:
            raise SystemExit("the stub did not start in time")
        self.base = m.group(1)
        self.info = self.get("/_info")
        self.accounts = self.info["accounts"]

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=120) as r:
            return json.load(r)

    def stats(self, log=False):
        return self.get("/_stats" + ("?log=1" if log else ""))

    def reset(self):
        self.get("/_reset")

    def day_calls(self, account, day):
        return self.get("/_calls?account=%s&day=%s" % (account, day))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def env_for(stub, db, out, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "EXPORT_", "DATABASE_", "RUST_LOG"))}
    env.update(TWILIO_API_BASE=stub.base, TWILIO_AUTH_TOKEN=TOKEN,
               DATABASE_URL="sqlite://" + db, EXPORT_OUTPUT=out)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def perf_counts():
    """Whether perf can count this process's task clock (CPU time to the microsecond)."""
    try:
        return subprocess.run(["perf", "stat", "-x,", "-e", "task-clock", "-o", os.devnull,
                               "true"], capture_output=True).returncode == 0
    except OSError:
        return False


PERF = perf_counts()


def run(cmd, env, limit=1800, time_file=None, check=True):
    full = ["timeout", str(limit)]
    if time_file:
        full += ["/usr/bin/time", "-f", "%e %U %S %M", "-o", time_file]
        if PERF:
            full += ["perf", "stat", "-x,", "-e", "task-clock", "-o", time_file + ".stat"]
    full += cmd
    t = time.monotonic()
    p = subprocess.run(full, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t
    if check and p.returncode != 0:
        log("FAILED (exit %d): %s\nstdout:\n%s\nstderr:\n%s"
            % (p.returncode, " ".join(cmd), p.stdout[-4000:], p.stderr[-4000:]))
        raise SystemExit(1)
    return p, wall


def cpu_seconds(time_file, user, sys_):
    """perf's task clock of the run timed into `time_file`, else user + system time."""
    try:
        for line in open(time_file + ".stat"):
            f = line.strip().split(",")
            if len(f) > 2 and f[2] == "task-clock":
                return float(f[0]) / 1000
    except FileNotFoundError:
        pass
    return user + sys_


def export(stub, work, name, args, limit=1800, time_file=None, check=True, **extra):
    db, out = os.path.join(work, name + ".db"), os.path.join(work, name)
    return run([BIN] + args, env_for(stub, db, out, **extra), limit, time_file, check)


def add_accounts(stub, work, name, **extra):
    export(stub, work, name, ["accounts", "add"] + stub.accounts, **extra)


def bound(minimum):
    return minimum * 1.1 + 1


def requests_of(stats, resource):
    return {a: r.get(resource, 0) for a, r in stats["requests"].items() if r.get(resource)}


def summary_line(label, records, requests, minimum):
    b = bound(minimum)
    verdict = "ok" if requests <= b else "OVER BOUND"
    log("  %-34s records %6d  requests %5d  minimum %4d  bound %.1f  -> %s"
        % (label, records, requests, minimum, b, verdict))
    return {"records": records, "requests": requests, "minimum": minimum, "bound": b,
            "within": requests <= b}


def write_jobs(d, jobs):
    os.makedirs(d, exist_ok=True)
    for j in jobs:
        with open(os.path.join(d, j["name"] + ".toml"), "w") as f:
            for k, v in j.items():
                f.write("%s = %s\n" % (k, v if isinstance(v, int) or k == "start_date"
                                       else json.dumps(v)))


# ---------------------------------------------------------------------------------------------

def sparse(work, results):
    log("\n== (a) sparse data: 1 account, 30 days of about 20 calls, pages of 1000 ==")
    stub = Stub(work, "--accounts", 1, "--days", 30, "--sparse", "--seed", 11)
    try:
        first, last, acct = stub.info["first_day"], stub.info["today"], stub.accounts[0]
        add_accounts(stub, work, "sparse")
        res = {}
        for resource, key in (("calls", "calls"), ("usage-records", "usage_records")):
            stub.reset()
            p, wall = export(stub, work, "sparse", ["backfill", "--resource", resource,
                                                    "--from", first, "--to", last])
            s = stub.stats()
            records = stub.info[key][acct]
            served = s["records_served"].get(acct, {}).get(key, 0)
            req = s["requests"].get(acct, {})
            log("  backfill %s %s..%s: %s" % (resource, first, last, p.stdout.strip()))
            log("  stub saw per resource: %s; unknown params: %s; params: %s"
                % (req, s["unknown_params"], sorted(s["params_seen"].get(key, {}))))
            res[resource] = summary_line("%s, 30 days" % resource, records,
                                         sum(req.values()), max(1, math.ceil(records / 1000)))
            res[resource]["served"] = served
            res[resource]["requests_by_resource"] = req
        results["sparse"] = res
        rerun(stub, work, results, "sparse")
    finally:
        stub.stop()


def rerun(stub, work, results, name, first_backfill=False):
    """(c) what a second identical backfill and scheduled runs cost when nothing changed."""
    log("\n== (c) re-runs over unchanged data (%s) ==" % name)
    first, last, acct = stub.info["first_day"], stub.info["today"], stub.accounts[0]
    per_day = {k.split("/")[1]: v for k, v in stub.info["calls_per_day"].items()
               if k.startswith(acct)}
    cats = stub.info["usage_records"][acct] // len(per_day)
    res = {}
    records = sum(per_day.values())
    by_day = sum(math.ceil(v / 1000) for v in per_day.values())
    log("  %d calls in %d days; one request per started page of each day: %d"
        % (records, len(per_day), by_day))
    if first_backfill:
        stub.reset()
        export(stub, work, name, ["backfill", "--resource", "calls", "--from", first,
                                  "--to", last])
        n = sum(stub.stats()["requests"].get(acct, {}).values())
        res["first_backfill_calls"] = summary_line("first backfill, calls", records, n,
                                                   max(1, math.ceil(records / 1000)))
        res["first_backfill_calls"]["by_day_minimum"] = by_day
    stub.reset()
    export(stub, work, name, ["backfill", "--resource", "calls", "--from", first, "--to", last])
    n = sum(stub.stats()["requests"].get(acct, {}).values())
    res["second_backfill_calls"] = summary_line("second identical backfill, calls", records, n,
                                                max(1, math.ceil(records / 1000)))
    res["second_backfill_calls"]["by_day_minimum"] = by_day
    jobs = os.path.join(work, name + "-jobs")
    write_jobs(jobs, [
        {"name": "calls", "resource": "calls", "schedule": "0 7 * * * *", "lookback_days": 3},
        {"name": "usage_records", "resource": "usage-records", "schedule": "0 30 2 * * *",
         "lookback_days": 7}])
    today = dt.date.fromisoformat(last)
    for i in (1, 2, 3):
        stub.reset()
        p, _ = export(stub, work, name, ["run", "--job", "calls", "--job", "usage_records"],
                      TWILIO_EXPORT_JOBS=jobs)
        s = stub.stats()["requests"].get(acct, {})
        log("  run %d (--job calls --job usage_records): stub saw %s; exporter: %s"
            % (i, s, " | ".join(p.stdout.strip().splitlines())))
        res["run%d" % i] = s
    # what the lookback of the last run covers: checkpoint (yesterday) - 3 .. today for calls,
    # - 7 for usage records: the minimum to read those days again
    days_calls = [(today - dt.timedelta(days=k)).isoformat() for k in range(0, 5)]
    days_usage = [(today - dt.timedelta(days=k)).isoformat() for k in range(0, 9)]
    rc = sum(per_day.get(d, 0) for d in days_calls)
    rc_day = sum(math.ceil(per_day.get(d, 0) / 1000) for d in days_calls)
    log("  one request per started page of each of those %d days of calls: %d"
        % (len(days_calls), rc_day))
    ru = cats * sum(1 for d in days_usage if d in per_day)
    log("  the last run re-reads at most: calls %d days (%d records, minimum %d requests), "
        "usage records %d days (%d records, minimum %d)"
        % (len(days_calls), rc, math.ceil(rc / 1000), len(days_usage), ru, math.ceil(ru / 1000)))
    res["lookback_minimum"] = {"calls": math.ceil(rc / 1000), "usage_records": math.ceil(ru / 1000)}
    results.setdefault("rerun", {})[name] = res


def sweep(work, results):
    """Requests for 30 days of one account at several densities, first and second backfill."""
    log("\n== (e) density sweep: 1 account, 30 days of N calls (exactly), pages of 1000 ==")
    res = {}
    for per_day in [int(x) for x in os.environ.get("SWEEP", "400,700,850,1001,2500").split(",")]:
        stub = Stub(work, "--accounts", 1, "--days", 30, "--calls-per-day", per_day,
                    "--jitter", 0, "--seed", 14)
        name = "sweep%d" % per_day
        try:
            first, last, acct = stub.info["first_day"], stub.info["today"], stub.accounts[0]
            add_accounts(stub, work, name)
            records = stub.info["calls"][acct]
            by_day = sum(math.ceil(v / 1000) for v in stub.info["calls_per_day"].values())
            row = {"per_day": per_day, "records": records, "minimum": math.ceil(records / 1000),
                   "by_day": by_day}
            for k in ("first", "second"):
                stub.reset()
                export(stub, work, name, ["backfill", "--resource", "calls", "--from", first,
                                          "--to", last])
                row[k] = sum(stub.stats()["requests"].get(acct, {}).values())
            b = bound(row["minimum"])
            log("  %5d calls/day: %6d calls; requests first backfill %3d, second %3d; minimum "
                "%3d, bound %.1f%s; one per started page of each day %d"
                % (per_day, records, row["first"], row["second"], row["minimum"], b,
                   "" if max(row["first"], row["second"]) <= b else " (OVER)", by_day))
            res[per_day] = row
        finally:
            stub.stop()
            shutil.rmtree(os.path.join(work, name), ignore_errors=True)
    results["sweep"] = res


def latency(work, results):
    log("\n== (b) latency: 1 account, 40 days of about 1000 calls, 200 ms a response, "
        "max in flight 4, pages of 100 (job page_size) ==")
    stub = Stub(work, "--accounts", 1, "--days", 40, "--calls-per-day", 1000, "--seed", 12,
                "--latency-ms", 200)
    try:
        first, acct = stub.info["first_day"], stub.accounts[0]
        add_accounts(stub, work, "latency")
        jobs = os.path.join(work, "latency-jobs")
        write_jobs(jobs, [{"name": "lat", "resource": "calls", "schedule": "0 0 0 1 1 *",
                           "lookback_days": 1, "start_date": first, "page_size": 100}])
        stub.reset()
        p, wall = export(stub, work, "latency", ["run", "--job", "lat"],
                         TWILIO_EXPORT_JOBS=jobs, TWILIO_EXPORT_MAX_IN_FLIGHT=4,
                         TWILIO_EXPORT_RATE_LIMIT=10000)
        s = stub.stats(log=True)
        lg = sorted(e for e in s["log"] if e[2] == acct)
        n = len(lg)
        ends = sorted(e[1] for e in lg)
        span = ends[-1] - lg[0][0]
        t10, t80 = ends[math.ceil(0.1 * n) - 1], ends[math.ceil(0.8 * n) - 1]
        steady = (math.ceil(0.8 * n) - math.ceil(0.1 * n)) / (t80 - t10)
        per_day = [v for k, v in stub.info["calls_per_day"].items()]
        minimum = sum(math.ceil(v / 100) for v in per_day)
        rows = sum(per_day)
        log("  run: %s" % (p.stdout.strip().replace("\n", " | ")))
        log("  %d requests (minimum with pages of 100: %d; statuses %s) in %.1f s of the "
            "exporter (%.1f s from the first request to the last response)"
            % (n, minimum, s["status"], wall, span))
        log("  overall %.1f req/s over the exporter's wall time, %.1f req/s over the requests' "
            "span (%.0f %% of 20/s)" % (n / wall, n / span, 100 * n / span / 20))
        log("  steady state (10 %%-80 %% of the requests): %.1f req/s (%.0f %% of 20/s)"
            % (steady, 100 * steady / 20))
        log("  most in flight seen by the stub: %d counted from arrival to response written "
            "(per account %s); %s certainly at once (arrival to response ready)"
            % (s["max_in_flight"], s["max_in_flight_per_account"],
               s["sure_max_in_flight_per_account"]))
        results["latency"] = {"requests": n, "minimum": minimum, "rows": rows, "wall": wall,
                              "span": span, "overall_wall": n / wall, "overall_span": n / span,
                              "steady": steady, "max_in_flight": s["max_in_flight"],
                              "sure_max_in_flight": s["sure_max_in_flight_per_account"]}
    finally:
        stub.stop()


def parquet_rows(out):
    import pyarrow.parquet as pq
    total, files = 0, 0
    for root, _, names in os.walk(os.path.join(out, "calls")):
        for f in names:
            if f.endswith(".parquet"):
                total += pq.ParquetFile(os.path.join(root, f)).metadata.num_rows
                files += 1
    return total, files


def spot_check(stub, out, samples=5):
    """Compares a few calls of the export with what the stub served; returns problems."""
    import pyarrow.parquet as pq
    problems, checked = [], 0
    info = stub.info
    for acct in stub.accounts[:2]:
        for day in sorted({info["first_day"], info["today"]}):
            served = stub.day_calls(acct, day)
            if not served:
                continue
            path = os.path.join(out, "calls", "account_sid=" + acct, "date=" + day,
                                "part-0.parquet")
            if not os.path.exists(path):
                problems.append("no file %s" % path)
                continue
            t = pq.read_table(path)
            sids = t.column("sid").to_pylist()
            if len(sids) != len(served) or len(set(sids)) != len(sids):
                problems.append("%s %s: %d rows, %d distinct, stub served %d"
                                % (acct, day, len(sids), len(set(sids)), len(served)))
            where = {s: i for i, s in enumerate(sids)}
            picks = [served[0], served[-1]] + served[1:-1:max(1, len(served) // samples)][:samples]
            for c in picks:
                i = where.get(c["sid"])
                if i is None:
                    problems.append("call %s missing" % c["sid"])
                    continue
                row = {k: t.column(k)[i].as_py() for k in t.column_names}
                checked += 1
                want_start = parsedate_to_datetime(c["start_time"]).astimezone(dt.timezone.utc)
                got_start = row["start_time"]
                if got_start is None or got_start.astimezone(dt.timezone.utc) != want_start:
                    problems.append("%s start_time %r != %r" % (c["sid"], got_start, want_start))
                want_price = None if c["price"] is None else Decimal(c["price"])
                if row["price"] != want_price:
                    problems.append("%s price %r != %r" % (c["sid"], row["price"], c["price"]))
                sub = row["subresource_uris"]
                if json.loads(sub) != c["subresource_uris"]:
                    problems.append("%s subresource_uris differ: %r" % (c["sid"], sub[:200]))
                for k in ("status", "direction", "from", "to", "caller_name", "uri",
                          "parent_call_sid", "account_sid"):
                    if k in row and row[k] != c[k]:
                        problems.append("%s %s %r != %r" % (c["sid"], k, row[k], c[k]))
                dur = c["duration"]
                want_dur = int(dur) if dur not in (None, "") else None
                if row.get("duration") != want_dur:
                    problems.append("%s duration %r != %r" % (c["sid"], row.get("duration"), dur))
    return checked, problems


def order(work, results):
    """(f) the same calls listed newest first, oldest first, and with stray calls listed late:
    every day's file holds exactly the calls the stub has for it, whatever the order."""
    log("\n== (f) the order calls are listed in: 1 account, 40 days of about 600 calls ==")
    res = {}
    for listing in ("newest", "oldest", "stray"):
        stub = Stub(work, "--accounts", 1, "--days", 40, "--calls-per-day", 600, "--seed", 17,
                    "--order", listing)
        name = "order-" + listing
        try:
            first, last, acct = stub.info["first_day"], stub.info["today"], stub.accounts[0]
            add_accounts(stub, work, name)
            stub.reset()
            p, wall = export(stub, work, name, ["backfill", "--resource", "calls",
                                                "--from", first, "--to", last])
            requests = sum(stub.stats()["requests"].get(acct, {}).values())
            out, problems, calls = os.path.join(work, name), [], 0
            day = dt.date.fromisoformat(first)
            while day <= dt.date.fromisoformat(last):
                served = sorted(c["sid"] for c in stub.day_calls(acct, day.isoformat()))
                sids = day_sids(out, acct, day.isoformat())
                calls += len(sids)
                if sorted(sids) != served:
                    problems.append("%s: %d calls in the file, %d distinct, %d served"
                                    % (day, len(sids), len(set(sids)), len(served)))
                day += dt.timedelta(days=1)
            staging = os.path.join(out, "_staging")
            left = os.listdir(staging) if os.path.isdir(staging) else []
            res[listing] = {"calls": calls, "records": stub.info["calls"][acct],
                            "requests": requests, "days_differing": problems,
                            "staging_left": left}
            log("  %s: %d calls in %d requests (%.1f s); days differing: %s; staging left: %s"
                % (listing, calls, requests, wall, problems[:3] or "none", left or "none"))
        finally:
            stub.stop()
    results["order"] = res


def day_sids(out, acct, day):
    """The sids in an account-day's file of the export at `out` (none without a file)."""
    import pyarrow.parquet as pq
    path = os.path.join(out, "calls", "account_sid=" + acct, "date=" + day, "part-0.parquet")
    if not os.path.exists(path):
        return []
    return pq.read_table(path, columns=["sid"]).column("sid").to_pylist()


def cpu_set(work, accounts, days, per_day, results):
    label = "%d account(s) x %d day(s) x %d calls" % (accounts, days, per_day)
    log("\n== (d) CPU: %s, no latency, rate limit 10000, default max in flight ==" % label)
    stub = Stub(work, "--accounts", accounts, "--days", days, "--calls-per-day", per_day,
                "--jitter", 0, "--seed", 42)
    try:
        first, last = stub.info["first_day"], stub.info["today"]
        total = sum(stub.info["calls"].values())
        log("  stub: %s" % open(os.path.join(work, "stub.log")).read().strip().splitlines()[-1])
        fenv = env_for(stub, "", "")
        extra = {"TWILIO_EXPORT_RATE_LIMIT": 10000}
        # once each unmeasured, so both read pages the stub has already served once
        run([floor_binary(), stub.base, first, last] + stub.accounts, fenv)
        add_accounts(stub, work, "cpu-warm", **extra)
        export(stub, work, "cpu-warm", ["backfill", "--resource", "calls", "--from", first,
                                        "--to", last], **extra)
        rounds = []
        for r in range(int(os.environ.get("REPEAT", "1"))):
            ft = os.path.join(work, "floor.time")
            stub.reset()
            p, _ = run([FLOOR, stub.base, first, last] + stub.accounts, fenv, time_file=ft)
            floor_req = stub.stats()["total_requests"]
            log("  floor: %s (the stub counted %d requests)" % (p.stdout.strip(), floor_req))
            floor_calls = int(re.search(r"floor: (\d+) calls", p.stdout).group(1))
            shutil.rmtree(os.path.join(work, "cpu"), ignore_errors=True)
            for f in ("cpu.db", "cpu.db-wal", "cpu.db-shm"):
                if os.path.exists(os.path.join(work, f)):
                    os.remove(os.path.join(work, f))
            add_accounts(stub, work, "cpu", **extra)
            et = os.path.join(work, "exporter.time")
            stub.reset()
            p, _ = export(stub, work, "cpu", ["backfill", "--resource", "calls", "--from", first,
                                              "--to", last], time_file=et, **extra)
            s = stub.stats()
            log("  exporter: %s (the stub counted %d requests; most in flight %d in all, per "
                "account %s counted to response written, %s certainly at once)"
                % (p.stdout.strip().replace("\n", " | "), s["total_requests"],
                   s["max_in_flight"], sorted(s["max_in_flight_per_account"].values()),
                   sorted(s["sure_max_in_flight_per_account"].values())))
            m = re.search(r": (\d+) rows in", p.stdout)
            rows = int(m.group(1)) if m else None
            figures = {}
            for who, path, n in (("exporter", et, rows or total), ("floor", ft, floor_calls)):
                wall, user, sys_, rss = open(path).read().split()
                wall, user, sys_, rss = float(wall), float(user), float(sys_), int(rss)
                cpu = cpu_seconds(path, user, sys_)
                figures[who] = {"wall": wall, "user": user, "sys": sys_, "rss_kib": rss,
                                "cpu": cpu, "us_per_call": cpu * 1e6 / n}
                log("  %-8s %d calls: wall %.2f s, user %.2f s, sys %.2f s, CPU %.2f us/call%s, "
                    "%.2f cores busy, peak RSS %.1f MiB"
                    % (who, n, wall, user, sys_, cpu * 1e6 / n,
                       " (task clock)" if PERF else "", cpu / wall if wall else 0, rss / 1024))
            fc = figures["floor"]["cpu"]
            ratio = figures["exporter"]["cpu"] / fc if fc else None
            log("  exporter CPU / floor CPU: %s"
                % ("%.2f" % ratio if ratio else "floor under 10 ms"))
            rounds.append({"figures": figures, "ratio": ratio})
        figures = rounds[-1]["figures"]
        ratio = rounds[-1]["ratio"]
        ratios = [x["ratio"] for x in rounds if x["ratio"]]
        median_ratio = statistics.median(ratios) if ratios else None
        if len(rounds) > 1 and ratios:
            eu = [x["figures"]["exporter"]["us_per_call"] for x in rounds]
            fu = [x["figures"]["floor"]["us_per_call"] for x in rounds]
            log("  over %d rounds: exporter %.2f-%.2f us/call, floor %.2f-%.2f us/call, "
                "ratio %.2f-%.2f, median ratio %.2f"
                % (len(rounds), min(eu), max(eu), min(fu), max(fu), min(ratios), max(ratios),
                   median_ratio))
        prow, files = parquet_rows(os.path.join(work, "cpu"))
        checked, problems = spot_check(stub, os.path.join(work, "cpu"))
        log("  calls served by the stub: %d; floor counted %d; exporter said %s; Parquet rows %d "
            "in %d files -> %s" % (total, floor_calls, rows, prow, files,
                                   "equal" if total == floor_calls == prow == rows else "DIFFER"))
        log("  spot check of %d calls (sid, start_time, price, subresource_uris, status, "
            "direction, from, to, caller_name, uri, parent_call_sid, duration): %s"
            % (checked, "all match" if not problems else problems[:10]))
        results.setdefault("cpu", {})[label] = {
            "calls": total, "floor_calls": floor_calls, "exporter_rows": rows,
            "parquet_rows": prow, "files": files, "figures": figures, "ratio": ratio,
            "median_ratio": median_ratio,
            "rounds": rounds,
            "checked": checked, "problems": problems,
            "requests": {"floor": floor_req, "exporter": s["total_requests"]}}
    finally:
        stub.stop()
        for name in ("cpu", "cpu-warm"):
            shutil.rmtree(os.path.join(work, name), ignore_errors=True)


def main():
    phases = sys.argv[1:] or ["sparse", "latency", "rerun", "sweep", "cpu", "order"]
    work = tempfile.mkdtemp(prefix="indep-measure-", dir=os.environ.get("WORK_DIR", "/var/tmp"))
    results = {}
    if not os.access(BIN, os.X_OK):
        sys.exit("no twilio-export binary at %s: build it (cargo build --release) or set BIN" % BIN)
    log("twilio-export: %s (%s)" % (BIN, subprocess.run([BIN, "--version"], capture_output=True,
                                                       text=True).stdout.strip()))
    log("scratch: %s" % work)
    try:
        if "sparse" in phases:
            sparse(work, results)
        if "latency" in phases:
            latency(work, results)
        if "rerun" in phases:
            stub = Stub(work, "--accounts", 1, "--days", 10, "--calls-per-day", 3000,
                        "--seed", 13)
            try:
                add_accounts(stub, work, "dense")
                rerun(stub, work, results, "dense", first_backfill=True)
            finally:
                stub.stop()
        if "sweep" in phases:
            sweep(work, results)
        if "cpu" in phases:
            sets = os.environ.get("CPU_SETS", "1,1,200000;4,10,5000")
            for spec in sets.split(";"):
                a, d, c = map(int, spec.split(","))
                cpu_set(work, a, d, c, results)
        if "order" in phases:
            order(work, results)
    finally:
        with open(os.path.join(work, "results.json"), "w") as f:
            json.dump(results, f, indent=1, default=str)
        log("\nresults: %s" % os.path.join(work, "results.json"))
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    log(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
