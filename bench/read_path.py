#!/usr/bin/env python3
"""Read-path measurements against a running Courrier (helper of bench/read-path).

    read_path.py check-user ADDR PASS N        exit 0 if INBOX holds UIDs 1..N exactly
    read_path.py run --base URL --addr A --password P --size N --seed-secs S --out FILE
    read_path.py table FILE...                 the summary table of several runs

Standard library only. HTTP goes over one keep-alive connection per session
(http.client), so the client adds little to the figures. Every response is
timed twice: the server time from Courrier's `Server-Timing: app;dur=<ms>`
header, and the wall time the client saw (request sent to body read).
"""

import argparse
from html import unescape
import http.client
import imaplib
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAILSTACK = os.path.join(REPO, "scripts", "mailstack")
PAGE_SIZE = 50  # Courrier's default [ui] page_size
TIMING_RE = re.compile(r"app;dur=([0-9.]+)")


# ------------------------------------------------------------------ stats


def pct(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[k - 1]


def summary(samples):
    """samples: list of (server_ms, client_ms)."""
    srv = sorted(s for s, _ in samples if s is not None)
    cli = sorted(c for _, c in samples)
    return {
        "n": len(samples),
        "server_med": statistics.median(srv) if srv else float("nan"),
        "server_p95": pct(srv, 95),
        "server_max": srv[-1] if srv else float("nan"),
        "client_med": statistics.median(cli) if cli else float("nan"),
        "client_p95": pct(cli, 95),
        "client_max": cli[-1] if cli else float("nan"),
    }


# ------------------------------------------------------------------ HTTP


class BenchError(Exception):
    pass


class Session:
    """One browser session: one keep-alive connection and the session cookie."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.cookie = None
        self.errors = []

    def request(self, method, path, body=None, headers=None):
        """Returns (status, headers, body bytes, server_ms, client_ms)."""
        h = {"Accept-Language": "en"}
        if self.cookie:
            h["Cookie"] = self.cookie
        if headers:
            h.update(headers)
        for attempt in (0, 1):
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=h)
                resp = self.conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt:
                    raise
                continue
            t1 = time.perf_counter()
            break
        m = TIMING_RE.search(resp.getheader("Server-Timing") or "")
        server_ms = float(m.group(1)) if m else None
        return resp.status, resp, data, server_ms, (t1 - t0) * 1000.0

    def login(self, addr, password):
        # The login form carries a token bound to the session that showed it.
        status, resp, data, _, _ = self.request("GET", "/login")
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie" and v.startswith("courrier="):
                self.cookie = v.split(";", 1)[0]
        m = re.search(rb'name="csrf" value="([0-9a-f]+)"', data)
        if status != 200 or not m:
            raise BenchError("GET /login -> %d, no form token" % status)
        form = urllib.parse.urlencode(
            {"email": addr, "password": password, "csrf": m.group(1).decode()})
        status, resp, data, _, _ = self.request(
            "POST", "/login", body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        cookie = None
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie" and v.startswith("courrier="):
                cookie = v.split(";", 1)[0]
        if status != 303 or not cookie:
            raise BenchError("POST /login as %s -> %d (%s), body: %s" % (
                addr, status, resp.getheader("Location"), excerpt(data)))
        self.cookie = cookie

    def get(self, path, samples=None):
        """GET path; on 200 appends (server_ms, client_ms) to samples, else records an error."""
        status, resp, data, srv, cli = self.request("GET", path)
        if status != 200:
            self.errors.append("GET %s -> %d, body: %s" % (path, status, excerpt(data)))
        elif srv is None:
            self.errors.append("GET %s -> 200 without Server-Timing" % path)
        if samples is not None and status == 200:
            samples.append((srv, cli))
        return status, data


def excerpt(data, n=300):
    text = data.decode("utf-8", "replace")
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text).strip()[:n]


def rows_on_page(html):
    """UIDs of the message links of a folder page."""
    return [int(u) for u in re.findall(rb'href="/mail/INBOX/([0-9]+)"', html)]


# ------------------------------------------------------------------ mail stack


def logins(addr):
    out = subprocess.run([MAILSTACK, "logins", addr], check=True,
                         capture_output=True, text=True).stdout
    return int(out.strip() or 0)


def logins_settled(addr, previous=None):
    """Dovecot writes its log through its log process: wait until the count is stable."""
    time.sleep(0.3)
    n = logins(addr)
    for _ in range(10):
        time.sleep(0.2)
        m = logins(addr)
        if m == n:
            return n
        n = m
    return n


def check_user(addr, password, n):
    try:
        m = imaplib.IMAP4("127.0.0.1", 10143)
        m.login(addr, password)
        typ, data = m.status("INBOX", "(MESSAGES UIDNEXT)")
        m.logout()
    except Exception as e:  # noqa: BLE001 - any failure means "seed again"
        print("read-path: cannot reuse %s: %s" % (addr, e), file=sys.stderr)
        return 1
    text = data[0].decode() if typ == "OK" else ""
    msgs = re.search(r"MESSAGES (\d+)", text)
    uidnext = re.search(r"UIDNEXT (\d+)", text)
    if msgs and uidnext and int(msgs.group(1)) == n and int(uidnext.group(1)) == n + 1:
        return 0
    print("read-path: cannot reuse %s: INBOX status %s" % (addr, text), file=sys.stderr)
    return 1


# ------------------------------------------------------------------ the run


def say(*a):
    print(*a, flush=True)


def run(args):
    size, addr, password = args.size, args.addr, args.password
    rnd = random.Random(size)  # the same UIDs and pages on every run of a given size
    pages = max(1, math.ceil(size / PAGE_SIZE))
    mid, last = (pages + 1) // 2, pages
    res = {"size": size, "addr": addr, "seed_secs": args.seed_secs, "rows": {},
           "errors": [], "checks": []}

    def check(ok, what):
        res["checks"].append(("ok  " if ok else "BAD ") + what)
        say("  check: %s %s" % ("ok " if ok else "BAD", what))

    say("== size %d: %s (%d pages)" % (size, addr, pages))
    before = logins_settled(addr)
    s = Session(args.base)
    s.login(addr, password)

    # Sanity of what the pages show.
    st, html = s.get("/mail/INBOX")
    uids = rows_on_page(html)
    check(st == 200 and len(uids) == min(PAGE_SIZE, size) and uids and uids[0] == size,
          "page 1: %d rows, first UID %s (expected %d rows, UID %d)"
          % (len(uids), uids[0] if uids else "-", min(PAGE_SIZE, size), size))
    total_shown = ("{:,}".format(size).encode() in html) or (str(size).encode() in html)
    check(total_shown, "page 1 shows the total %d" % size)
    st, html = s.get("/mail/INBOX?page=%d" % last)
    uids = rows_on_page(html)
    expect_last = size - (pages - 1) * PAGE_SIZE
    check(st == 200 and len(uids) == expect_last and uids and uids[-1] == 1,
          "last page %d: %d rows, last UID %s (expected %d rows, UID 1)"
          % (last, len(uids), uids[-1] if uids else "-", expect_last))

    # 100 page views on the session, then the LOGIN count: the warm-up as well.
    warm_pages = [1, mid, last]
    for i in range(98):
        s.get("/mail/INBOX?page=%d" % warm_pages[i % 3] if i % 2 else "/mail/INBOX")
    after = logins_settled(addr)
    res["logins_100"] = after - before
    say("  IMAP LOGINs for login + 100 page views: %d" % (after - before))

    # 1. INBOX first page.
    inbox = []
    for _ in range(200):
        s.get("/mail/INBOX", inbox)
    res["rows"]["inbox p1"] = summary(inbox)

    # 2. Pages spread over the mailbox: 1, middle, last in turn (200 requests), per page too.
    spread = {1: [], mid: [], last: []}
    order = [1, mid, last]
    for i in range(200):
        p = order[i % 3]
        s.get("/mail/INBOX?page=%d" % p, spread[p])
    res["rows"]["spread 1/mid/last"] = summary([x for v in spread.values() for x in v])
    if pages >= 3:
        res["rows"]["  page %d (mid)" % mid] = summary(spread[mid])
        res["rows"]["  page %d (last)" % last] = summary(spread[last])

    # 3. Messages at random UIDs, and their body frame.
    opened, bodies = [], []
    slowest = []
    for _ in range(200):
        uid = rnd.randint(1, size)
        n0 = len(opened)
        _, page = s.get("/mail/INBOX/%d" % uid, opened)
        # The frame as the browser loads it: the page's iframe src (which may name the rendering
        # the page kept for it), or the plain /body URL when the page has none.
        m = re.search(rb'class="body-frame"[^>]*\ssrc="([^"]+)"', page or b"")
        frame = unescape(m.group(1).decode()) if m else "/mail/INBOX/%d/body" % uid
        s.get(frame, bodies)
        if len(opened) > n0:
            slowest.append((opened[-1][0], uid))
    res["rows"]["open msg"] = summary(opened)
    res["rows"]["  its /body"] = summary(bodies)
    slowest.sort(reverse=True)
    res["slowest_opens"] = [(u, round(ms, 2)) for ms, u in slowest[:3]]

    total_after = logins_settled(addr)
    res["logins_session"] = total_after - before
    res["session_requests"] = 2 + 98 + 200 + 200 + 400
    res["errors"].extend(s.errors)

    # 4. Concurrency: 4 sessions (4 logins) x 50 INBOX first pages.
    res["concurrent"] = concurrent(args.base, addr, password, 4, 50, res["errors"])

    for e in res["errors"][:10]:
        say("  ERROR " + e)
    print_rows([res])
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    return 0


def concurrent(base, addr, password, nsessions, nreq, errors):
    sessions = []
    for _ in range(nsessions):
        s = Session(base)
        s.login(addr, password)
        s.get("/mail/INBOX")  # warm: its pooled connection has selected INBOX
        sessions.append(s)
    samples = [[] for _ in sessions]
    barrier = threading.Barrier(nsessions + 1)

    def worker(i):
        barrier.wait()
        for _ in range(nreq):
            sessions[i].get("/mail/INBOX", samples[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(nsessions)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for s in sessions:
        errors.extend(s.errors)
    all_samples = [x for v in samples for x in v]
    out = summary(all_samples)
    out["sessions"] = nsessions
    out["secs"] = elapsed
    out["rps"] = len(all_samples) / elapsed if elapsed > 0 else float("nan")
    return out


# ------------------------------------------------------------------ printing


def fmt(x):
    return "%.2f" % x if isinstance(x, (int, float)) and not math.isnan(x) else "-"


HEADER = "%-6s  %-20s %10s %10s %10s %10s %10s %10s %5s" % (
    "size", "page", "server_med", "server_p95", "server_max",
    "client_med", "client_p95", "client_max", "n")


def print_rows(results):
    print(HEADER)
    for r in results:
        for name, st in r["rows"].items():
            print("%-6d  %-20s %10s %10s %10s %10s %10s %10s %5d" % (
                r["size"], name, fmt(st["server_med"]), fmt(st["server_p95"]),
                fmt(st["server_max"]), fmt(st["client_med"]), fmt(st["client_p95"]),
                fmt(st["client_max"]), st["n"]))
    sys.stdout.flush()


def table(files):
    results = []
    for f in files:
        with open(f) as fh:
            results.append(json.load(fh))
    print()
    print("Read path (times in ms; server = Server-Timing app;dur, client = wall time seen by the client)")
    print_rows(results)
    print()
    for r in results:
        print("size %-6d IMAP LOGINs for 1 login + 100 page views: %d   (whole session, %d requests: %d)"
              % (r["size"], r["logins_100"], r["session_requests"], r["logins_session"]))
    for r in results:
        c = r["concurrent"]
        print("size %-6d concurrent: %d sessions x %d INBOX pages: %.1f req/s (%.2f s); "
              "server med/p95 %s/%s ms, client med/p95 %s/%s ms"
              % (r["size"], c["sessions"], c["n"] // max(1, c["sessions"]), c["rps"], c["secs"],
                 fmt(c["server_med"]), fmt(c["server_p95"]),
                 fmt(c["client_med"]), fmt(c["client_p95"])))
    for r in results:
        seed = r.get("seed_secs")
        print("size %-6d seeding: %s" % (
            r["size"], "%.1f s" % float(seed) if seed not in (None, "", "reused")
            else "reused an already seeded mailbox"))
    for r in results:
        print("size %-6d slowest opens (uid, server ms): %s" % (
            r["size"], ", ".join("%d: %.2f" % (u, ms) for u, ms in r["slowest_opens"])))
    bad = [(r["size"], c) for r in results for c in r["checks"] if c.startswith("BAD")]
    errs = [(r["size"], e) for r in results for e in r["errors"]]
    print("checks: %s" % ("all ok" if not bad else "; ".join("size %d: %s" % b for b in bad)))
    print("errors: %d" % len(errs))
    for size, e in errs[:20]:
        print("  size %d: %s" % (size, e))
    if len(results) >= 2:
        lo, hi = results[0], results[-1]
        print("growth %d -> %d messages (server median, ratio):" % (lo["size"], hi["size"]))
        for name in ("inbox p1", "spread 1/mid/last", "open msg", "  its /body"):
            a, b = lo["rows"].get(name), hi["rows"].get(name)
            if a and b and a["server_med"] > 0:
                print("  %-20s %8s -> %8s ms  x%.2f" % (
                    name.strip(), fmt(a["server_med"]), fmt(b["server_med"]),
                    b["server_med"] / a["server_med"]))
    return 1 if bad or errs else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check-user")
    c.add_argument("addr")
    c.add_argument("password")
    c.add_argument("n", type=int)
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    r.add_argument("--addr", required=True)
    r.add_argument("--password", required=True)
    r.add_argument("--size", type=int, required=True)
    r.add_argument("--seed-secs", default=None)
    r.add_argument("--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("files", nargs="+")
    a = ap.parse_args()
    if a.cmd == "check-user":
        return check_user(a.addr, a.password, a.n)
    if a.cmd == "run":
        try:
            return run(a)
        except BenchError as e:
            print("read-path: %s" % e, file=sys.stderr)
            return 1
    return table(a.files)


if __name__ == "__main__":
    sys.exit(main())
