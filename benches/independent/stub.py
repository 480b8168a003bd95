#!/usr/bin/env python3
"""An independent stand-in for the slice of Twilio's REST API 2010 that twilio-export reads.

Written from Twilio's public description of the API (its OpenAPI document and reference
pages), standard library only, sharing nothing with the exporter or its own simulator. It
serves, for N generated accounts:

  GET /2010-04-01/Accounts/{sid}.json                         the account (grant check)
  GET /2010-04-01/Accounts.json                               the accounts the sid sees
  GET /2010-04-01/Accounts/{sid}/Calls.json                   calls, newest first (--order)
  GET /2010-04-01/Accounts/{sid}/Usage/Records/Daily.json     one record per category and day

and, outside Twilio's namespace, for the measuring scripts:

  GET /_stats        JSON: requests per account and resource, most requests in flight
  GET /_stats?log=1  the same with every request (start, end, account, resource, status)
  GET /_reset        zero the counters
  GET /_calls?account=AC..&day=YYYY-MM-DD   the calls of one account-day as served (no auth)

Behaviour modelled on Twilio's:
* HTTP Basic auth: user name = the account sid, password = --token. Anything else: 401 with
  {"code": 20003, "message": "Authenticate", "more_info": ..., "status": 401}.
* Unknown paths and accounts: 404 with code 20404. Paths without `.json`: 404 too (Twilio
  would answer XML).
* Parameter names are case-sensitive and may carry `<`/`>` (percent-encoded or not):
  `StartTime>` = started at or after, `StartTime<` = started strictly before, `StartTime` =
  started on that UTC day; the same for `EndTime`. `StartTime>=2026-03-01` written raw in a
  URL is the name `StartTime>` with the value `2026-03-01`. Values are `YYYY-MM-DD` (UTC
  midnight) or `YYYY-MM-DDTHH:MM:SSZ`. Unknown parameters are ignored (and counted in
  /_stats so a client sending a misspelt filter shows up).
* Paging: `PageSize` 1..1000 (default 50, larger values capped), the full envelope (`page`,
  `page_size`, `start`, `end`, `uri`, `first_page_uri`, `next_page_uri`,
  `previous_page_uri`). `next_page_uri` repeats the filters and adds `Page=n+1` and
  `PageToken=PA<last sid on the page>` for calls, an opaque base64 token for usage records.
  A page resumes from its token, never from `Page`; an unknown token is 400 with code 21481.
  `next_page_uri` is null on the last page (with --next-on-full-page, a full last page
  still links to an empty one, as a server that does not look ahead would).
* Calls: every field of the Call resource, numbers as strings (`duration`, `price`,
  `queue_time`), RFC 2822 dates in GMT, prices negative with four decimals, null where a
  call has no such value, `subresource_uris` with the nine sub-lists.
* Usage records: `count`, `usage`, `price` as strings, `start_date`/`end_date` as
  YYYY-MM-DD, `as_of` ISO 8601, `subresource_uris` with the eight period lists.
  `StartDate`/`EndDate` inclusive; `Category` filters; `IncludeSubaccounts` is accepted
  (these accounts have no subaccounts).

Data is a pure function of --seed, --accounts, --days, --calls-per-day and --today.
"""

import argparse
import base64
import bisect
import datetime as dt
import hashlib
import json
import random
import signal
import socket
import sys
import threading
import time
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

API = "/2010-04-01"
UTC = dt.timezone.utc

CALL_SUBRESOURCES = [
    ("notifications", "Notifications"),
    ("recordings", "Recordings"),
    ("payments", "Payments"),
    ("events", "Events"),
    ("siprec", "Siprec"),
    ("streams", "Streams"),
    ("transcriptions", "Transcriptions"),
    ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
    ("user_defined_messages", "UserDefinedMessages"),
]

USAGE_SUBRESOURCES = [
    ("all_time", "AllTime"),
    ("daily", "Daily"),
    ("last_month", "LastMonth"),
    ("monthly", "Monthly"),
    ("this_month", "ThisMonth"),
    ("today", "Today"),
    ("yearly", "Yearly"),
    ("yesterday", "Yesterday"),
]

# (category, description, count_unit, usage_unit); a sample of Twilio's category names.
CATEGORIES = [
    ("calls", "Total Calls", "calls", "minutes"),
    ("calls-inbound", "Inbound Voice Minutes", "calls", "minutes"),
    ("calls-inbound-local", "Inbound Local Calls", "calls", "minutes"),
    ("calls-inbound-mobile", "Inbound Mobile Calls", "calls", "minutes"),
    ("calls-inbound-tollfree", "Inbound Toll-Free Calls", "calls", "minutes"),
    ("calls-outbound", "Outbound Voice Minutes", "calls", "minutes"),
    ("calls-client", "Client Calls", "calls", "minutes"),
    ("calls-sip", "SIP Calls", "calls", "minutes"),
    ("calls-sip-inbound", "SIP Inbound Calls", "calls", "minutes"),
    ("calls-sip-outbound", "SIP Outbound Calls", "calls", "minutes"),
    ("calls-recordings", "Voice Recording Minutes", "recordings", "minutes"),
    ("calls-text-to-speech", "Text-to-Speech", "characters", "characters"),
    ("calls-media-stream-minutes", "Media Streams", "streams", "minutes"),
    ("answering-machine-detection", "Answering Machine Detection", "calls", "calls"),
    ("calleridlookups", "Caller ID Lookups", "lookups", "lookups"),
    ("conversations", "Conversations", "conversations", "conversations"),
    ("lookups", "Lookups", "lookups", "lookups"),
    ("mms", "MMS", "messages", "messages"),
    ("mms-inbound", "Inbound MMS", "messages", "messages"),
    ("mms-outbound", "Outbound MMS", "messages", "messages"),
    ("phonenumbers", "Phone Numbers", "phone-numbers", "phone-numbers"),
    ("phonenumbers-local", "Local Phone Numbers", "phone-numbers", "phone-numbers"),
    ("phonenumbers-tollfree", "Toll-Free Phone Numbers", "phone-numbers", "phone-numbers"),
    ("recordings", "Recordings", "recordings", "minutes"),
    ("recordingstorage", "Recording Storage", "minutes", "minutes"),
    ("sms", "SMS", "messages", "messages"),
    ("sms-inbound", "Inbound SMS", "messages", "messages"),
    ("sms-inbound-longcode", "Inbound Long Code SMS", "messages", "messages"),
    ("sms-outbound", "Outbound SMS", "messages", "messages"),
    ("sms-outbound-longcode", "Outbound Long Code SMS", "messages", "messages"),
    ("sms-messages-carrierfees", "SMS Carrier Fees", "messages", "messages"),
    ("transcriptions", "Transcriptions", "transcriptions", "minutes"),
    ("trunking-origination", "Trunking Origination Minutes", "calls", "minutes"),
    ("trunking-termination", "Trunking Termination Minutes", "calls", "minutes"),
    ("turnmegabytes", "TURN Megabytes", "", "megabytes"),
    ("voice-insights", "Voice Insights", "", "calls"),
    ("pv", "Programmable Video", "rooms", "minutes"),
    ("pv-room-participants", "Video Room Participant Minutes", "", "minutes"),
    ("Usage-RCS-Messages", "RCS Messages", "messages", "messages"),
    ("wireless-usage", "Wireless Usage", "", "megabytes"),
    ("verify-sms", "Verify SMS", "messages", "messages"),
    ("totalprice", "Total Price", "", "usd"),
]

STATUSES = [("completed", 70), ("no-answer", 10), ("busy", 6), ("failed", 4), ("canceled", 3)]
DIRECTIONS = [("inbound", 45), ("outbound-api", 30), ("outbound-dial", 20),
              ("trunking-terminating", 3), ("trunking-originating", 2)]
NAMES = ["ALICE SMITH", "José Müller", "O'Brien, Pat", "WIRELESS CALLER", "Zoë \"Z\" Ng",
         "李小龍", "ACME INC"]


def rfc2822(epoch):
    return format_datetime(dt.datetime.fromtimestamp(epoch, UTC), usegmt=False).replace(
        "-0000", "+0000")


def weighted(rng, items):
    total = sum(w for _, w in items)
    x = rng.random() * total
    for v, w in items:
        x -= w
        if x < 0:
            return v
    return items[-1][0]


def hexid(rng):
    return "%032x" % rng.getrandbits(128)


def phone(rng):
    if rng.random() < 0.8:
        return "+1%d%03d%04d" % (rng.choice([415, 212, 646, 312, 737, 503]), 555,
                                 rng.randrange(10000))
    return rng.choice(["+44207946%04d", "+33142%06d", "+4930%07d"]) % rng.randrange(10000)


def formatted(number):
    if number.startswith("+1") and len(number) == 12:
        return "(%s) %s-%s" % (number[2:5], number[5:8], number[8:])
    return number


class Data:
    """Every account's calls and daily usage, rendered once."""

    def __init__(self, args):
        self.args = args
        self.today = args.today
        self.first_day = self.today - dt.timedelta(days=args.days - 1)
        self.accounts = []
        for i in range(args.accounts):
            h = hashlib.sha256(("%s:account:%d" % (args.seed, i)).encode()).hexdigest()
            self.accounts.append("AC" + h[:32])
        self.account_set = set(self.accounts)
        # per account: newest-first list of calls; parallel arrays for bisect and tokens
        self.calls = {}      # sid -> list of (start_epoch, sid, json_bytes, meta)
        self.neg_start = {}  # sid -> [-start_epoch] ascending (newest first)
        self.call_index = {}  # account -> {call sid: position}
        self.usage = {}      # account -> list of (day, category, json_bytes)
        self.usage_index = {}
        self.per_day = {}    # (account, day iso) -> calls
        for acct in self.accounts:
            self._generate(acct)

    def _generate(self, acct):
        args = self.args
        day = self.first_day
        all_calls = []
        usage = []
        while day <= self.today:
            rng = random.Random("%s:%s:%s" % (args.seed, acct, day.isoformat()))
            if args.sparse:
                n = rng.randint(12, 28)
            else:
                n = max(0, round(args.calls_per_day * rng.uniform(1 - args.jitter, 1 + args.jitter)))
            midnight = int(dt.datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
            starts = sorted(midnight + rng.randrange(86400) for _ in range(n))
            day_calls = []
            last_inbound = None
            for s in starts:
                c = self._call(rng, acct, s, last_inbound)
                if c["direction"] == "inbound":
                    last_inbound = c["sid"]
                day_calls.append(c)
            usage.extend(self._usage(rng, acct, day, day_calls))
            self.per_day[(acct, day.isoformat())] = len(day_calls)
            for c in day_calls:
                start = c.pop("_start")
                body = json.dumps(c, sort_keys=True, ensure_ascii=False,
                                  separators=(", ", ": ")).encode()
                all_calls.append((start, c["sid"], body, c))
            day += dt.timedelta(days=1)
        # newest first; equal start times in descending sid order
        all_calls.sort(key=lambda t: (t[0], t[1]), reverse=True)
        self.calls[acct] = all_calls
        self.neg_start[acct] = [-t[0] for t in all_calls]
        self.call_index[acct] = {t[1]: i for i, t in enumerate(all_calls)}
        self.usage[acct] = usage
        self.usage_index[acct] = {(d, cat): i for i, (d, cat, _) in enumerate(usage)}

    def _call(self, rng, acct, start, parent):
        sid = "CA" + hexid(rng)
        status = weighted(rng, STATUSES)
        direction = weighted(rng, DIRECTIONS)
        if direction == "outbound-dial" and parent is None:
            direction = "outbound-api"
        duration = end = price = None
        if status == "completed":
            secs = int(rng.expovariate(1 / 150)) + 1
            duration = str(secs)
            end = start + secs
            if rng.random() < 0.97:  # a few are not priced yet
                price = "-%.4f" % (((secs + 59) // 60) * rng.choice([0.0085, 0.013, 0.014, 0.022]))
        elif status == "no-answer":
            duration = "0"
            end = start + rng.randint(15, 30) if rng.random() < 0.5 else None
        elif status == "busy":
            duration = rng.choice([None, "", "0"])
        else:
            duration = rng.choice([None, "0"])
        frm, to = phone(rng), phone(rng)
        if rng.random() < 0.05:
            to = "client:agent%d" % rng.randrange(20)
        elif rng.random() < 0.03:
            to = "sip:user%d@example.sip.twilio.com" % rng.randrange(20)
        uri_base = "%s/Accounts/%s/Calls/%s" % (API, acct, sid)
        created = start - rng.randint(0, 2)
        updated = (end if end is not None else start) + rng.randint(0, 5)
        c = {
            "_start": start,
            "account_sid": acct,
            "answered_by": rng.choice(["human", "machine_start", "machine_end_beep", "fax",
                                       "unknown"]) if direction == "outbound-api"
            and rng.random() < 0.3 else None,
            "api_version": "2010-04-01",
            "caller_name": rng.choice(NAMES) if direction == "inbound" and rng.random() < 0.2
            else None,
            "date_created": rfc2822(created),
            "date_updated": rfc2822(updated),
            "direction": direction,
            "duration": duration,
            "end_time": rfc2822(end) if end is not None else None,
            "forwarded_from": phone(rng) if direction == "inbound" and rng.random() < 0.05
            else None,
            "from": frm,
            "from_formatted": formatted(frm),
            "group_sid": "GP" + hexid(rng) if rng.random() < 0.02 else None,
            "parent_call_sid": parent if direction == "outbound-dial" else None,
            "phone_number_sid": "PN" + hexid(rng) if direction in ("inbound", "outbound-api")
            else None,
            "price": price,
            "price_unit": "USD",
            "queue_time": str(rng.choice([0, 0, 0, rng.randint(1, 900)])),
            "sid": sid,
            "start_time": rfc2822(start),
            "status": status,
            "subresource_uris": {k: "%s/%s.json" % (uri_base, v) for k, v in CALL_SUBRESOURCES},
            "to": to,
            "to_formatted": formatted(to),
            "trunk_sid": "TK" + hexid(rng) if direction.startswith("trunking") else None,
            "uri": uri_base + ".json",
        }
        return c

    def _usage(self, rng, acct, day, day_calls):
        out = []
        iso = day.isoformat()
        minutes = sum((int(c["duration"]) + 59) // 60 for c in day_calls
                      if c["status"] == "completed")
        call_price = -sum(float(c["price"]) for c in day_calls if c["price"])
        total = call_price
        as_of_day = min(day + dt.timedelta(days=1), self.today)
        as_of = "%sT04:11:52+00:00" % as_of_day.isoformat()
        for cat, desc, count_unit, usage_unit in CATEGORIES:
            if cat == "calls":
                count, usage, price = str(len(day_calls)), str(minutes), "%.4f" % call_price
            elif cat == "totalprice":
                count, usage, price = None, None, None  # filled below
            elif rng.random() < 0.6:
                count, usage, price = "0", "0", "0"
            else:
                n = rng.randint(1, 400)
                count = str(n)
                if usage_unit == "minutes" and rng.random() < 0.5:
                    usage = repr(n / 60)  # e.g. 0.016666666666666666
                else:
                    usage = str(n * rng.randint(1, 3))
                p = n * rng.choice([0.0075, 0.0079, 0.02, 0.005])
                total += p
                price = "%.4f" % p
            if cat == "totalprice":
                count, usage, price = None, "%.4f" % total, "%.4f" % total
            q = "Category=%s" % quote(cat, safe="")
            rec = {
                "account_sid": acct,
                "api_version": "2010-04-01",
                "as_of": as_of,
                "category": cat,
                "count": count,
                "count_unit": count_unit,
                "description": desc,
                "end_date": iso,
                "price": price,
                "price_unit": "usd",
                "start_date": iso,
                "subresource_uris": {
                    k: "%s/Accounts/%s/Usage/Records/%s.json?%s" % (API, acct, v, q)
                    for k, v in USAGE_SUBRESOURCES},
                "uri": "%s/Accounts/%s/Usage/Records/Daily.json?%s&StartDate=%s&EndDate=%s"
                       % (API, acct, q, iso, iso),
                "usage": usage,
                "usage_unit": usage_unit,
            }
            out.append((iso, cat, json.dumps(rec, sort_keys=True, ensure_ascii=False,
                                             separators=(", ", ": ")).encode()))
        return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.t0 = time.monotonic()
            self.requests = {}       # account -> {resource: n}
            self.in_flight = 0
            self.max_in_flight = 0
            self.acct_in_flight = {}
            self.acct_max_in_flight = {}
            self.status = {}         # http status -> n
            self.unknown_params = {}  # name -> n
            self.params_seen = {}    # resource -> {name: n}
            self.records = {}        # account -> {resource: records served}
            self.log = []            # [start, end, account, resource, status, records]

    def begin(self, acct):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            n = self.acct_in_flight.get(acct, 0) + 1
            self.acct_in_flight[acct] = n
            self.acct_max_in_flight[acct] = max(self.acct_max_in_flight.get(acct, 0), n)
            return time.monotonic() - self.t0

    def end(self, acct, resource, status, start, records, ready):
        with self.lock:
            self.in_flight -= 1
            self.acct_in_flight[acct] -= 1
            r = self.requests.setdefault(acct, {})
            r[resource] = r.get(resource, 0) + 1
            rec = self.records.setdefault(acct, {})
            rec[resource] = rec.get(resource, 0) + records
            self.status[str(status)] = self.status.get(str(status), 0) + 1
            self.log.append([round(start, 6), round(time.monotonic() - self.t0, 6), acct,
                             resource, status, records, round(ready, 6)])

    def sure_max(self):
        """Most requests per account certainly in flight at one instant (a lower bound).

        `max_in_flight` counts a request from its arrival until its response is written,
        but the thread writing it may be held up (by the GIL) after the client already read
        the response and sent its next request, so it can count one too many. Here a request
        counts only from its arrival until just before its response is sent: instants at
        which the client certainly still waits for it. Call with the lock held."""
        events = {}
        for start, _end, acct, _res, _st, _n, ready in self.log:
            ev = events.setdefault(acct, [])
            ev.append((start, 1))
            ev.append((ready, -1))
        out = {}
        for acct, ev in events.items():
            ev.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
            n = best = 0
            for _, d in ev:
                n += d
                best = max(best, n)
            out[acct] = best
        return out

    def params(self, resource, names, unknown):
        with self.lock:
            seen = self.params_seen.setdefault(resource, {})
            for n in names:
                seen[n] = seen.get(n, 0) + 1
            for n in unknown:
                self.unknown_params[n] = self.unknown_params.get(n, 0) + 1

    def snapshot(self, with_log):
        with self.lock:
            s = {
                "requests": self.requests,
                "total_requests": sum(sum(r.values()) for r in self.requests.values()),
                "records_served": self.records,
                "max_in_flight": self.max_in_flight,
                "max_in_flight_per_account": self.acct_max_in_flight,
                "sure_max_in_flight_per_account": self.sure_max(),
                "status": self.status,
                "unknown_params": self.unknown_params,
                "params_seen": self.params_seen,
            }
            if with_log:
                s["log"] = list(self.log)
            return s


def parse_query(qs):
    """Pairs (name, value) with names and values percent-decoded ('+' is a space)."""
    out = []
    if not qs:
        return out
    for part in qs.split("&"):
        if not part:
            continue
        name, eq, value = part.partition("=")
        out.append((unquote(name.replace("+", " ")), unquote(value.replace("+", " "))))
    return out


def parse_instant(value):
    """YYYY-MM-DD (UTC midnight) or YYYY-MM-DDTHH:MM:SSZ; None if neither."""
    try:
        if len(value) == 10:
            d = dt.date.fromisoformat(value)
            return int(dt.datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())
        if value.endswith("Z"):
            return int(dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
                       .replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None
    return None


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self):
        return json.dumps({"code": self.code, "message": self.message,
                           "more_info": "https://www.twilio.com/docs/errors/%d" % self.code,
                           "status": self.status}).encode()


CALL_PARAMS = {"To", "From", "ParentCallSid", "Status", "StartTime", "StartTime>", "StartTime<",
               "EndTime", "EndTime>", "EndTime<", "PageSize", "Page", "PageToken"}
USAGE_PARAMS = {"Category", "StartDate", "EndDate", "IncludeSubaccounts", "PageSize", "Page",
                "PageToken"}


def in_order(idx, order):
    """The matching calls (indices into the newest-first list) in the order pages list them.

    Twilio documents no order for list results, and a client must not depend on one:
    `newest` is what it is seen to do; `oldest` lists them the other way round; `stray` is
    newest first with every 97th call moved to the end, as if it had been listed late (a
    call's start time set after it was created, say)."""
    if order == "newest":
        return idx
    if order == "oldest":
        return list(reversed(idx))
    idx = list(idx)
    return [i for k, i in enumerate(idx) if k % 97 != 96] + idx[96::97]


def envelope(key, items, path, params, page, page_size, next_token, prev_token):
    filters = [(n, v) for n, v in params if n not in ("PageSize", "Page", "PageToken")]
    base = path + "?" + "&".join("%s=%s" % (quote(n, safe=""), quote(v, safe=""))
                                 for n, v in filters + [("PageSize", str(page_size))])
    this = base + "&Page=%d" % page
    token = dict(params).get("PageToken")
    if token is not None and page > 0:
        this += "&PageToken=" + quote(token, safe="")
    n = len(items)
    start = page * page_size
    head = {
        "end": start + n - 1 if n else 0,
        "first_page_uri": base + "&Page=0",
        "next_page_uri": (base + "&Page=%d&PageToken=%s" % (page + 1, quote(next_token, safe="")))
        if next_token else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": (base + "&Page=%d&PageToken=%s" % (page - 1, quote(prev_token, safe="")))
        if prev_token and page > 0 else None,
        "start": start,
        "uri": this,
    }
    out = json.dumps(head, separators=(", ", ": "))
    return b"".join([b'{"', key.encode(), b'": [', b", ".join(items), b"], ", out[1:].encode()])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "indep-twilio-stub"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *a):
        pass

    def send(self, status, body, extra=()):
        head = ["HTTP/1.1 %d %s" % (status, self.responses.get(status, ("",))[0]),
                "Content-Type: application/json; charset=utf-8",
                "Content-Length: %d" % len(body), "Connection: keep-alive"]
        head.extend(extra)
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def do_GET(self):
        srv = self.server
        url = urlsplit(self.path)
        path, params = url.path, parse_query(url.query)
        if path.startswith("/_"):
            return self.internal(path, params)
        acct, resource = self.route(path)
        start = srv.stats.begin(acct)
        status, records, body, extra = 200, 0, b"", []
        try:
            self.authenticate(acct)
            if resource == "calls":
                body, records = self.calls(acct, path, params)
            elif resource == "usage_records":
                body, records = self.usage(acct, path, params)
            elif resource == "account":
                body = self.account(acct)
            elif resource == "accounts":
                body = self.account_list(acct, path, params)
            else:
                raise ApiError(404, 20404, "The requested resource %s was not found" % path)
        except ApiError as e:
            status, body = e.status, e.body()
            if status == 401:
                extra = ['WWW-Authenticate: Basic realm="Twilio API"']
        if srv.latency:
            time.sleep(srv.latency)
        # Taken while the response is still unsent: the client cannot have it yet, so
        # [start, ready] lies inside the client's own time in flight (see Stats.sure_max).
        ready = time.monotonic() - srv.stats.t0
        try:
            self.send(status, body, extra)
        finally:
            srv.stats.end(acct, resource, status, start, records, ready)

    def route(self, path):
        parts = path.split("/")
        # ['', '2010-04-01', 'Accounts', sid + rest...]
        if len(parts) >= 3 and parts[1] == "2010-04-01" and parts[2] == "Accounts.json":
            return self.basic_user() or "-", "accounts"
        if len(parts) < 4 or parts[1] != "2010-04-01" or parts[2] != "Accounts":
            return "-", "other"
        if len(parts) == 4 and parts[3].endswith(".json"):
            return parts[3][:-5], "account"
        acct, rest = parts[3], parts[4:]
        if rest == ["Calls.json"]:
            return acct, "calls"
        if rest == ["Usage", "Records", "Daily.json"]:
            return acct, "usage_records"
        return acct, "other"

    def basic_user(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return None
        try:
            user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        except Exception:
            return None
        return user

    def authenticate(self, acct):
        h = self.headers.get("Authorization", "")
        try:
            user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        except Exception:
            user = pw = None
        data = self.server.data
        if not h.startswith("Basic ") or user not in data.account_set or pw != self.server.token:
            raise ApiError(401, 20003, "Authenticate")
        if acct != user and acct not in ("-",):
            # another account than the credential's: these accounts are unrelated
            if acct in data.account_set:
                raise ApiError(401, 20003, "Authenticate")
        if acct not in data.account_set and acct != "-":
            raise ApiError(404, 20404, "The requested resource %s was not found" % self.path)

    def page_size(self, params):
        raw = dict(params).get("PageSize")
        if raw is None:
            return 50
        try:
            n = int(raw)
        except ValueError:
            raise ApiError(400, 20001, "Invalid PageSize")
        if n < 1:
            raise ApiError(400, 20001, "Invalid PageSize")
        return min(n, 1000)

    def page_no(self, params):
        try:
            return max(0, int(dict(params).get("Page", "0")))
        except ValueError:
            raise ApiError(400, 20001, "Invalid Page")

    def calls(self, acct, path, params):
        data = self.server.data
        names = [n for n, _ in params]
        self.server.stats.params("calls", names, [n for n in names if n not in CALL_PARAMS])
        p = dict(params)
        lo, hi = None, None

        def instant(name):
            v = p[name]
            t = parse_instant(v)
            if t is None:
                raise ApiError(400, 20001, "Invalid %s: %s" % (name, v))
            return t
        if "StartTime" in p:
            t = instant("StartTime")
            lo, hi = t, t + 86400
        if "StartTime>" in p:
            t = instant("StartTime>")
            lo = t if lo is None else max(lo, t)
        if "StartTime<" in p:
            t = instant("StartTime<")
            hi = t if hi is None else min(hi, t)
        neg = data.neg_start[acct]
        i0 = 0 if hi is None else bisect.bisect_right(neg, -hi)
        i1 = len(neg) if lo is None else bisect.bisect_right(neg, -lo)
        calls = data.calls[acct]
        idx = range(i0, max(i0, i1))
        extra = [n for n in ("To", "From", "ParentCallSid", "Status", "EndTime", "EndTime>",
                             "EndTime<") if n in p]
        if extra:
            idx = [i for i in idx if self.call_matches(calls[i][3], p)]
        idx = in_order(idx, self.server.order)
        size, page = self.page_size(params), self.page_no(params)
        token = p.get("PageToken")
        if token is None:
            pos = 0
            items = idx[0:size]
        else:
            g = data.call_index[acct].get(token[2:]) if len(token) > 2 else None
            if token[:2] not in ("PA", "PB") or g is None or g not in idx:
                raise ApiError(400, 21481, "Page token is invalid or expired")
            k = idx.index(g)
            if token[:2] == "PA":
                pos = k + 1
            else:
                pos = max(0, k - size)
            items = idx[pos:pos + (size if token[:2] == "PA" else min(size, k))]
        items = list(items)
        more = pos + len(items) < len(idx) or (self.server.next_on_full and len(items) == size)
        next_token = "PA" + calls[items[-1]][1] if more and items else None
        prev_token = "PB" + calls[items[0]][1] if items else None
        body = envelope("calls", [calls[i][2] for i in items], path, params, page, size,
                        next_token, prev_token)
        return body, len(items)

    @staticmethod
    def call_matches(c, p):
        for n in ("To", "From", "Status"):
            if n in p and c[n.lower()] != p[n]:
                return False
        if "ParentCallSid" in p and c["parent_call_sid"] != p["ParentCallSid"]:
            return False
        if any(n in p for n in ("EndTime", "EndTime>", "EndTime<")):
            if c["end_time"] is None:
                return False
            end = int(dt.datetime.strptime(c["end_time"], "%a, %d %b %Y %H:%M:%S %z").timestamp())
            for n in ("EndTime", "EndTime>", "EndTime<"):
                if n in p:
                    t = parse_instant(p[n])
                    if t is None:
                        raise ApiError(400, 20001, "Invalid %s" % n)
                    if n == "EndTime" and not t <= end < t + 86400:
                        return False
                    if n == "EndTime>" and end < t:
                        return False
                    if n == "EndTime<" and end >= t:
                        return False
        return True

    def usage(self, acct, path, params):
        data = self.server.data
        names = [n for n, _ in params]
        self.server.stats.params("usage_records", names,
                                 [n for n in names if n not in USAGE_PARAMS])
        p = dict(params)

        def day(name, default):
            v = p.get(name)
            if v is None:
                return default
            if v.endswith("days") and v[:1] in "+-":
                try:
                    return data.today + dt.timedelta(days=int(v[:-4]))
                except ValueError:
                    pass
            try:
                return dt.date.fromisoformat(v)
            except ValueError:
                raise ApiError(400, 20001, "Invalid %s: %s" % (name, v))
        first = day("StartDate", data.first_day).isoformat()
        last = day("EndDate", data.today).isoformat()
        recs = data.usage[acct]
        cat = p.get("Category")
        idx = [i for i, (d, c, _) in enumerate(recs)
               if first <= d <= last and (cat is None or c == cat)]
        size, page = self.page_size(params), self.page_no(params)
        token = p.get("PageToken")
        pos, end = 0, size
        if token is not None:
            try:
                d, _, c = base64.b64decode(token[2:]).decode().partition("|")
                g = data.usage_index[acct][(d, c)]
                if token[:2] not in ("AP", "PB"):
                    raise KeyError
                k = idx.index(g)
            except Exception:
                raise ApiError(400, 21481, "Page token is invalid or expired")
            pos, end = (k + 1, k + 1 + size) if token[:2] == "AP" else (max(0, k - size), k)
        else:
            end = size
        items = idx[pos:end]
        more = pos + len(items) < len(idx) or (self.server.next_on_full and len(items) == size)
        next_token = None
        if more and items:
            d, c, _ = recs[items[-1]]
            next_token = "AP" + base64.b64encode(("%s|%s" % (d, c)).encode()).decode()
        prev_token = None
        if items:
            d, c, _ = recs[items[0]]
            prev_token = "PB" + base64.b64encode(("%s|%s" % (d, c)).encode()).decode()
        body = envelope("usage_records", [recs[i][2] for i in items], path, params, page, size,
                        next_token, prev_token)
        return body, len(items)

    def account_obj(self, acct):
        h = hashlib.sha256(("%s:token:%s" % (self.server.data.args.seed, acct)).encode())
        created = rfc2822(1700000000)
        return {
            "auth_token": h.hexdigest()[:32],
            "date_created": created,
            "date_updated": created,
            "friendly_name": "Stub account %s" % acct[-6:],
            "owner_account_sid": acct,
            "sid": acct,
            "status": "active",
            "subresource_uris": {
                "calls": "%s/Accounts/%s/Calls.json" % (API, acct),
                "usage_records": "%s/Accounts/%s/Usage/Records.json" % (API, acct),
            },
            "type": "Full",
            "uri": "%s/Accounts/%s.json" % (API, acct),
        }

    def account(self, acct):
        return json.dumps(self.account_obj(acct)).encode()

    def account_list(self, acct, path, params):
        size, page = self.page_size(params), self.page_no(params)
        return envelope("accounts", [self.account(acct)], path, params, page, size, None, None)

    def internal(self, path, params):
        p = dict(params)
        srv = self.server
        if path == "/_stats":
            body = json.dumps(srv.stats.snapshot(p.get("log") == "1")).encode()
        elif path == "/_reset":
            srv.stats.reset()
            body = b'{"reset": true}'
        elif path == "/_info":
            d = srv.data
            body = json.dumps({
                "accounts": d.accounts, "first_day": d.first_day.isoformat(),
                "today": d.today.isoformat(),
                "calls": {a: len(d.calls[a]) for a in d.accounts},
                "usage_records": {a: len(d.usage[a]) for a in d.accounts},
                "calls_per_day": {"%s/%s" % k: v for k, v in d.per_day.items()},
            }).encode()
        elif path == "/_calls":
            d = srv.data
            acct, day = p.get("account"), p.get("day", "")
            lo = parse_instant(day)
            if acct not in d.account_set or lo is None:
                return self.send(404, b"{}")
            neg = d.neg_start[acct]
            i0, i1 = bisect.bisect_right(neg, -(lo + 86400)), bisect.bisect_right(neg, -lo)
            body = b"[" + b", ".join(t[2] for t in d.calls[acct][i0:i1]) + b"]"
        else:
            return self.send(404, b"{}")
        self.send(200, body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0", help="host:port (port 0: any free one)")
    ap.add_argument("--accounts", type=int, default=1)
    ap.add_argument("--days", type=int, default=30, help="days of history ending --today")
    ap.add_argument("--calls-per-day", type=int, default=1000)
    ap.add_argument("--jitter", type=float, default=0.1,
                    help="calls per day vary by this share either way (default 0.1)")
    ap.add_argument("--sparse", action="store_true", help="about 20 calls a day (12 to 28)")
    ap.add_argument("--latency-ms", type=float, default=0, help="delay every API response")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--today", type=dt.date.fromisoformat,
                    default=dt.datetime.now(UTC).date(), help="last day of data (UTC)")
    ap.add_argument("--token", default="indep-stub-token", help="the Auth Token accepted")
    ap.add_argument("--order", choices=("newest", "oldest", "stray"), default="newest",
                    help="the order calls are listed in (see in_order)")
    ap.add_argument("--next-on-full-page", action="store_true",
                    help="a full page always links to a next one, even an empty last one")
    args = ap.parse_args()
    t = time.monotonic()
    data = Data(args)
    host, _, port = args.listen.rpartition(":")
    ThreadingHTTPServer.request_queue_size = 128
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.data, srv.stats, srv.token = data, Stats(), args.token
    srv.latency = args.latency_ms / 1000
    srv.next_on_full = args.next_on_full_page
    srv.order = args.order
    total = sum(len(v) for v in data.calls.values())
    print("stub on http://%s:%d" % srv.server_address[:2], flush=True)
    print("  accounts: %s" % " ".join(data.accounts), flush=True)
    print("  days: %s .. %s; calls: %d; usage records: %d; generated in %.1f s"
          % (data.first_day, data.today, total, sum(len(v) for v in data.usage.values()),
             time.monotonic() - t), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    print(json.dumps(srv.stats.snapshot(False)), file=sys.stderr)


if __name__ == "__main__":
    main()
