#!/usr/bin/env python3
"""Live-sync measurements against a running Courrier (helper of bench/live-sync).

    live_sync.py run --base URL --user1 A --pass1 P --user2 A --pass2 P
                     --doveconf FILE [--imap-host H] [--imap-port N]
                     [--appends 100] [--spacing-ms 200] [--out FILE]

Standard library only. Four parts, each bounded in time and count:

1. APPEND -> event: one Server-Sent Events stream (`GET /events?folder=INBOX`)
   for user 1, read line by line by a thread that timestamps every line; an
   independent IMAP client APPENDs N messages with unique subjects, ~200 ms
   apart. Latency = from just before the APPEND to the event announcing that
   message (`arrived[].subject`, or `messages` reaching the expected count),
   split into the APPEND command itself and the rest. Before it, a reference
   without Courrier: a plain IMAP client idles on the same INBOX while 20
   messages are appended, ending IDLE after each change and starting a new
   one as Courrier's watcher does; the time from the APPEND's OK to its
   `* N EXISTS` is Dovecot's own notice (Dovecot waits 500 ms after a change
   before it tells idling clients); Courrier's share is the difference.
2. IMAP connections of user 2 with 5 tabs: one login, page views, then 5 SSE
   streams on the same session. IMAP LOGINs logged by Dovecot
   (`scripts/mailstack logins`) and connections Dovecot sees
   (`doveadm who -1 USER`) before and after the tabs open.
3. `/mail/INBOX` page latency (Server-Timing `app;dur=` and wall time), 100
   requests without any stream open, then 100 with the 5 streams open.
   Then one APPEND, which all 5 tabs must be told about.
4. The 5 streams are closed; `doveadm who` is polled every 0.5 s (up to 40 s)
   until the watcher's IMAP connection (its pid) is gone.
"""

import argparse
import email.utils
import http.client
import imaplib
import json
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAILSTACK = os.path.join(REPO, "scripts", "mailstack")
TIMING_RE = re.compile(r"app;dur=([0-9.]+)")
EVENT_TIMEOUT = 10.0      # seconds to wait for one expected event
FIRST_EVENT_TIMEOUT = 15.0
WATCHER_GONE_LIMIT = 40.0
TABS = 5
PAGES = 100


def say(*a):
    print(*a, flush=True)


class BenchError(Exception):
    pass


# ------------------------------------------------------------------ stats


def pct(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[k - 1]


def stats(values):
    v = sorted(x for x in values if x is not None)
    return {
        "n": len(v),
        "med": statistics.median(v) if v else float("nan"),
        "p95": pct(v, 95),
        "max": v[-1] if v else float("nan"),
        "min": v[0] if v else float("nan"),
    }


def fmt(x, nd=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return "%.*f" % (nd, x)


# ------------------------------------------------------------------ HTTP


def excerpt(data, n=300):
    text = data.decode("utf-8", "replace")
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text).strip()[:n]


class Session:
    """One browser session: one keep-alive connection for pages, and its cookie."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.cookie = None
        self.errors = []

    def request(self, method, path, body=None, headers=None):
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
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
                continue
            t1 = time.perf_counter()
            break
        m = TIMING_RE.search(resp.getheader("Server-Timing") or "")
        return resp.status, resp, data, (float(m.group(1)) if m else None), (t1 - t0) * 1000.0

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

    def page(self, path, srv, cli):
        status, _, data, s, c = self.request("GET", path)
        if status != 200:
            self.errors.append("GET %s -> %d, body: %s" % (path, status, excerpt(data)))
            return
        if s is None:
            self.errors.append("GET %s -> 200 without Server-Timing" % path)
        srv.append(s)
        cli.append(c)


class Stream:
    """One open tab: a `GET /events` stream read line by line by its own thread."""

    def __init__(self, base, cookie, name, folder="INBOX"):
        u = urllib.parse.urlsplit(base)
        self.name = name
        self.path = "/events?folder=" + urllib.parse.quote(folder)
        self.conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=None)
        self.cookie = cookie
        self.cond = threading.Condition()
        self.events = []        # (perf_counter at the block's first line, event name, data dict)
        self.comments = 0       # keep-alive comments
        self.bad_lines = []
        self.end = None         # why the reader stopped
        self.sock = None
        self.thread = None
        self.t_open = None
        self.closing = False

    def open(self):
        self.t_open = time.perf_counter()
        self.conn.request("GET", self.path, headers={
            "Cookie": self.cookie, "Accept": "text/event-stream",
            "Cache-Control": "no-cache", "Accept-Language": "en"})
        self.sock = self.conn.sock
        resp = self.conn.getresponse()
        ctype = resp.getheader("Content-Type") or ""
        if resp.status != 200 or not ctype.startswith("text/event-stream"):
            body = resp.read(2000)
            raise BenchError("%s: GET %s -> %d %s, body: %s" % (
                self.name, self.path, resp.status, ctype, excerpt(body)))
        self.resp = resp
        self.thread = threading.Thread(target=self._read, name=self.name, daemon=True)
        self.thread.start()

    def _read(self):
        name, data, t_block = None, [], None
        try:
            while True:
                line = self.resp.readline()
                t = time.perf_counter()
                if not line:
                    self.end = "EOF"
                    break
                line = line.rstrip(b"\n").rstrip(b"\r")
                if line == b"":
                    if data:
                        try:
                            obj = json.loads(b"\n".join(data).decode("utf-8"))
                        except ValueError:
                            obj = None
                            self.bad_lines.append(b"\n".join(data)[:200])
                        with self.cond:
                            self.events.append((t_block, name, obj))
                            self.cond.notify_all()
                    name, data, t_block = None, [], None
                    continue
                if t_block is None and not line.startswith(b":"):
                    t_block = t
                if line.startswith(b":"):
                    self.comments += 1
                elif line.startswith(b"event:"):
                    name = line[6:].strip().decode("utf-8", "replace")
                elif line.startswith(b"data:"):
                    d = line[5:]
                    data.append(d[1:] if d.startswith(b" ") else d)
                elif line.startswith(b"id:") or line.startswith(b"retry:"):
                    pass
                else:
                    self.bad_lines.append(line[:200])
        except Exception as e:  # noqa: BLE001 - the reason is reported
            self.end = "closed by the bench" if self.closing else "error: %r" % (e,)
        with self.cond:
            self.cond.notify_all()

    def wait(self, pred, start, deadline):
        """First event at index >= start for which pred(obj) holds: (index, t, obj) or None."""
        with self.cond:
            i = start
            while True:
                while i < len(self.events):
                    t, _, obj = self.events[i]
                    if obj is not None and pred(obj):
                        return i, t, obj
                    i += 1
                left = deadline - time.perf_counter()
                if left <= 0 or self.end is not None:
                    return None
                self.cond.wait(left)

    def count(self):
        with self.cond:
            return len(self.events)

    def close(self):
        self.closing = True
        try:
            if self.sock is not None:
                self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.conn.close()
        except OSError:
            pass
        if self.thread is not None:
            self.thread.join(3)


# ------------------------------------------------------------------ mail stack


def logins(addr):
    out = subprocess.run([MAILSTACK, "logins", addr], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return int(out.strip() or 0)


def logins_settled(addr):
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


class Who:
    def __init__(self, conf):
        self.conf = conf

    def pids(self, addr):
        """pids of addr's IMAP connections, as `doveadm who -1 ADDR` lists them."""
        out = subprocess.run(["doveadm", "-c", self.conf, "who", "-1", addr],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise BenchError("doveadm who failed (%d): %s" % (out.returncode, out.stderr.strip()))
        pids = []
        for line in out.stdout.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3 and f[0].lower() == addr.lower() and f[1] == "imap":
                pids.append(int(f[2]))
        return sorted(pids)


class Sampler:
    """Samples addr's connection count every `period` s in the background (the maximum seen)."""

    def __init__(self, who, addr, period=1.0):
        self.who, self.addr, self.period = who, addr, period
        self.samples = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                self.samples.append(len(self.who.pids(self.addr)))
            except Exception:  # noqa: BLE001
                pass
            self.stop_ev.wait(self.period)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.thread.join(35)


def message(addr, subject, n):
    return ("From: Live Sync Bench <bench@example.test>\r\n"
            "To: <%s>\r\n"
            "Subject: %s\r\n"
            "Date: %s\r\n"
            "Message-ID: <live-sync-%d-%d@example.test>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "\r\n"
            "Message %d of the live-sync benchmark.\r\n"
            % (addr, subject, email.utils.formatdate(localtime=True),
               os.getpid(), n, n)).encode("utf-8")


def imap_client(args, addr, password):
    m = imaplib.IMAP4(args.imap_host, args.imap_port, timeout=30)
    m.login(addr, password)
    return m


def append(m, addr, subject, n):
    typ, data = m.append("INBOX", None, None, message(addr, subject, n))
    if typ != "OK":
        raise BenchError("APPEND %r -> %s %r" % (subject, typ, data))


class IdleRef:
    """A plain IMAP client idling on INBOX, as Courrier's watcher does: after each change it ends
    IDLE and starts a new one. A reader thread timestamps every line it receives."""

    def __init__(self, host, port, addr, password):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.f = self.sock.makefile("rb")
        self.cond = threading.Condition()
        self.lines = []   # (perf_counter, line)
        self.end = None
        self.tag = 0
        self.f.readline()  # greeting
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._read, name="idle-ref", daemon=True)
        self.thread.start()
        self.command("LOGIN %s %s" % (self._q(addr), self._q(password)))
        self.command("SELECT INBOX")

    @staticmethod
    def _q(s):
        return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')

    def _read(self):
        try:
            while True:
                line = self.f.readline()
                t = time.perf_counter()
                if not line:
                    self.end = "EOF"
                    break
                with self.cond:
                    self.lines.append((t, line))
                    self.cond.notify_all()
        except Exception as e:  # noqa: BLE001
            self.end = "error: %r" % (e,)
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, pred, start, deadline):
        """(index, time) of the first line at index >= start for which pred holds, or None."""
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    if pred(self.lines[i][1]):
                        return i, self.lines[i][0]
                    i += 1
                left = deadline - time.perf_counter()
                if left <= 0 or self.end is not None:
                    return None
                self.cond.wait(left)

    def mark(self):
        with self.cond:
            return len(self.lines)

    def command(self, cmd):
        self.tag += 1
        tag = b"r%d" % self.tag
        i = self.mark()
        self.sock.sendall(tag + b" " + cmd.encode() + b"\r\n")
        got = self.wait_line(lambda l: l.startswith(tag + b" "), i, time.perf_counter() + 30)
        if got is None or not self.lines[got[0]][1].startswith(tag + b" OK"):
            raise BenchError("plain IDLE client: %s -> %r" % (
                cmd.split(" ")[0], self.lines[got[0]][1][:200] if got else self.end or "timeout"))

    def idle(self):
        """Starts IDLE; returns the line index to look for news from."""
        self.tag += 1
        self.idle_tag = b"r%d" % self.tag
        i = self.mark()
        self.sock.sendall(self.idle_tag + b" IDLE\r\n")
        got = self.wait_line(lambda l: l.startswith(b"+") or l.startswith(self.idle_tag + b" "),
                             i, time.perf_counter() + 30)
        if got is None or not self.lines[got[0]][1].startswith(b"+"):
            raise BenchError("plain IDLE client: IDLE refused: %r" % (
                self.lines[got[0]][1][:200] if got else self.end or "timeout"))
        return got[0] + 1

    def done(self):
        i = self.mark()
        self.sock.sendall(b"DONE\r\n")
        tag = self.idle_tag
        if self.wait_line(lambda l: l.startswith(tag + b" "), i, time.perf_counter() + 30) is None:
            raise BenchError("plain IDLE client: no answer to DONE (%s)" % (self.end or "timeout"))

    def wait_exists(self, n, start, deadline):
        """Time of the first `* K EXISTS` with K >= n at line index >= start, or None."""
        def pred(line):
            m = re.match(rb"\* (\d+) EXISTS", line)
            return bool(m) and int(m.group(1)) >= n
        got = self.wait_line(pred, start, deadline)
        return None if got is None else got[1]

    def close(self):
        try:
            self.sock.sendall(b"r0 LOGOUT\r\n")
            time.sleep(0.1)
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(3)


def arrived_subjects(obj):
    return [a.get("subject") for a in (obj.get("arrived") or []) if isinstance(a, dict)]


# ------------------------------------------------------------------ reference


def part0(args, res):
    """Dovecot alone: APPEND -> `* N EXISTS` on a plain IDLE client, no Courrier involved."""
    addr, password = args.user1, args.pass1
    n = args.ref_appends
    say("== reference: APPEND -> EXISTS on a plain IMAP IDLE client, Dovecot alone (%d appends)" % n)
    st = status_messages(args, addr, password)
    ref = IdleRef(args.imap_host, args.imap_port, addr, password)
    m = imap_client(args, addr, password)
    samples, missing = [], 0
    try:
        for i in range(n):
            since = ref.idle()
            time.sleep(args.spacing_ms / 1000.0)
            t0 = time.perf_counter()
            append(m, addr, "live-sync reference #%03d" % i, 10000 + i)
            t1 = time.perf_counter()
            t_ex = ref.wait_exists(st + i + 1, since, t1 + EVENT_TIMEOUT)
            if t_ex is None:
                missing += 1
            else:
                samples.append({"append": (t1 - t0) * 1000, "rest": (t_ex - t1) * 1000,
                                "total": (t_ex - t0) * 1000})
            ref.done()
    finally:
        try:
            m.logout()
        except Exception:  # noqa: BLE001
            pass
        ref.close()
    res["p0"] = {"samples": samples, "missing": missing, "end": ref.end}
    r = stats([x["rest"] for x in samples])
    say("  APPEND OK -> EXISTS ms: median %s  p95 %s  max %s; %d missing"
        % (fmt(r["med"]), fmt(r["p95"]), fmt(r["max"]), missing))


def status_messages(args, addr, password):
    m = imap_client(args, addr, password)
    typ, data = m.status("INBOX", "(MESSAGES)")
    m.logout()
    found = re.search(rb"MESSAGES (\d+)", data[0] if typ == "OK" and data else b"")
    if not found:
        raise BenchError("STATUS INBOX -> %s %r" % (typ, data))
    return int(found.group(1))


# ------------------------------------------------------------------ part 1


def part1(args, res):
    addr, password = args.user1, args.pass1
    who = Who(args.doveconf)
    run_id = "%x" % (int(time.time()) & 0xFFFFFF)
    say("== part 1: APPEND by another IMAP client -> SSE event (%s, %d appends, %d ms apart)"
        % (addr, args.appends, args.spacing_ms))
    s = Session(args.base)
    s.login(addr, password)
    srv, cli = [], []
    s.page("/mail/INBOX", srv, cli)
    st = Stream(args.base, s.cookie, "tab-p1")
    st.open()
    got = st.wait(lambda o: "messages" in o, 0, time.perf_counter() + FIRST_EVENT_TIMEOUT)
    if got is None:
        raise BenchError("part 1: no first event within %.0f s (reader: %s)"
                         % (FIRST_EVENT_TIMEOUT, st.end))
    idx0, t_first, first = got
    base_count = first["messages"]
    say("  first event after %.1f ms: %s" % ((t_first - st.t_open) * 1000, json.dumps(first)))
    m = imap_client(args, addr, password)
    time.sleep(0.3)
    pids = who.pids(addr)
    res["p1_conns"] = len(pids)
    say("  IMAP connections of %s (doveadm who): %d %s (page pool + watcher + the appending client)"
        % (addr, len(pids), pids))

    samples, misses, by_count, negative = [], [], 0, 0
    next_index = st.count()
    t_part = time.perf_counter()
    for i in range(args.appends):
        subject = "live-sync %s #%03d" % (run_id, i)
        expected = base_count + i + 1
        t0 = time.perf_counter()
        append(m, addr, subject, i)
        t1 = time.perf_counter()
        got = st.wait(lambda o: subject in arrived_subjects(o) or o.get("messages", -1) >= expected,
                      next_index, t1 + EVENT_TIMEOUT)
        if got is None:
            misses.append("#%03d %r: no event within %.0f s after APPEND (reader: %s)"
                          % (i, subject, EVENT_TIMEOUT, st.end or "open"))
            say("  MISS " + misses[-1])
            next_index = st.count()
        else:
            idx, t_ev, obj = got
            if subject not in arrived_subjects(obj):
                by_count += 1
            if t_ev < t1:
                negative += 1
            samples.append({"i": i, "total": (t_ev - t0) * 1000, "append": (t1 - t0) * 1000,
                            "rest": (t_ev - t1) * 1000,
                            "messages": obj.get("messages"),
                            "unseen": obj.get("unseen"), "arrived": len(obj.get("arrived") or [])})
            next_index = idx + 1
        # ~spacing between the end of one round and the next APPEND
        time.sleep(args.spacing_ms / 1000.0)
    part_secs = time.perf_counter() - t_part
    time.sleep(0.5)  # late or extra events
    try:
        m.logout()
    except Exception:  # noqa: BLE001
        pass

    # What the stream carried, beyond the matches.
    with st.cond:
        events = list(st.events)
    after_first = [e for e in events[idx0 + 1:]]
    no_arrived = [e for e in after_first if e[2] is not None and not e[2].get("arrived")]
    multi = [e for e in after_first if e[2] is not None and len(e[2].get("arrived") or []) > 1]
    subjects_seen = [sub for e in after_first if e[2] for sub in arrived_subjects(e[2])]
    wanted = ["live-sync %s #%03d" % (run_id, i) for i in range(args.appends)]
    never = [w for w in wanted if w not in subjects_seen]
    dup = len(subjects_seen) - len(set(subjects_seen))
    last = after_first[-1][2] if after_first else first
    st.close()

    res["p1"] = {
        "samples": samples, "misses": misses, "by_count": by_count, "negative_rest": negative,
        "events": len(after_first), "events_without_arrived": len(no_arrived),
        "events_with_several_arrived": len(multi), "subjects_never_announced": never[:10],
        "n_subjects_never_announced": len(never), "duplicate_announcements": dup,
        "last_event": last, "expected_messages": base_count + args.appends,
        "keepalive_comments": st.comments, "bad_lines": [repr(b) for b in st.bad_lines[:5]],
        "reader_end": st.end, "secs": part_secs, "page_errors": s.errors,
    }
    tot = stats([x["total"] for x in samples])
    say("  %d/%d events matched; %d by count only; %d events in all after the first "
        "(%d without arrivals, %d with several); %d subjects never in an event; %d announced twice"
        % (len(samples), args.appends, by_count, len(after_first), len(no_arrived), len(multi),
           len(never), dup))
    say("  last event: messages %s unseen %s (expected %d)"
        % (last.get("messages"), last.get("unseen"), base_count + args.appends))
    say("  latency ms: median %s  p95 %s  max %s  (first append: %s)" % (
        fmt(tot["med"]), fmt(tot["p95"]), fmt(tot["max"]),
        fmt(samples[0]["total"]) if samples and samples[0]["i"] == 0 else "-"))
    slow = sorted(samples, key=lambda x: -x["total"])[:3]
    res["p1"]["slowest"] = [(x["i"], round(x["total"], 2), round(x["append"], 2)) for x in slow]


# ------------------------------------------------------------------ parts 2-4


def parts234(args, res):
    addr, password = args.user2, args.pass2
    who = Who(args.doveconf)
    say("== part 2: IMAP connections of %s with %d tabs on one session" % (addr, TABS))
    r = res["p2"] = {}
    r["logins_start"] = logins_settled(addr)
    r["who_start"] = who.pids(addr)

    s = Session(args.base)
    s.login(addr, password)
    r["logins_login"] = logins_settled(addr) - r["logins_start"]
    r["who_login"] = who.pids(addr)

    # part 3 baseline: pages with no stream open
    base_srv, base_cli = [], []
    with Sampler(who, addr) as samp0:
        for _ in range(PAGES):
            s.page("/mail/INBOX", base_srv, base_cli)
    r["logins_pages"] = logins_settled(addr) - r["logins_start"]
    r["who_pages"] = who.pids(addr)
    r["who_max_pages"] = max(samp0.samples) if samp0.samples else None
    say("  login + %d pages: %d IMAP LOGIN(s); connections %s" % (
        PAGES, r["logins_pages"], r["who_pages"]))

    # 5 tabs
    tabs, first_ms = [], []
    for k in range(TABS):
        st = Stream(args.base, s.cookie, "tab-%d" % (k + 1))
        st.open()
        tabs.append(st)
        got = st.wait(lambda o: "messages" in o, 0, time.perf_counter() + FIRST_EVENT_TIMEOUT)
        if got is None:
            first_ms.append(None)
            say("  tab %d: NO first event within %.0f s (reader: %s)" % (k + 1, FIRST_EVENT_TIMEOUT, st.end))
        else:
            first_ms.append((got[1] - st.t_open) * 1000)
        # a tab that is also loading its page
        s.page("/mail/INBOX", [], [])
        time.sleep(0.1)
    r["first_event_ms"] = first_ms
    say("  time to first event per tab (ms): %s" % ", ".join(fmt(x, 1) for x in first_ms))
    time.sleep(0.5)
    r["logins_tabs"] = logins_settled(addr) - r["logins_start"]
    r["who_tabs"] = who.pids(addr)
    say("  after opening %d tabs: %d IMAP LOGIN(s) since before the login; connections %s"
        % (TABS, r["logins_tabs"], r["who_tabs"]))

    say("== part 3: /mail/INBOX x %d with %d streams open (and x %d with none, above)"
        % (PAGES, TABS, PAGES))
    srv, cli = [], []
    with Sampler(who, addr) as samp:
        for _ in range(PAGES):
            s.page("/mail/INBOX", srv, cli)
    r["who_max_during"] = max(samp.samples) if samp.samples else None
    r["logins_after_pages"] = logins_settled(addr) - r["logins_start"]
    r["who_after_pages"] = who.pids(addr)
    res["p3"] = {"base_srv": stats(base_srv), "base_cli": stats(base_cli),
                 "srv": stats(srv), "cli": stats(cli), "errors": s.errors}
    say("  server ms  no stream: med %s p95 %s | %d streams: med %s p95 %s" % (
        fmt(res["p3"]["base_srv"]["med"]), fmt(res["p3"]["base_srv"]["p95"]), TABS,
        fmt(res["p3"]["srv"]["med"]), fmt(res["p3"]["srv"]["p95"])))
    say("  client ms  no stream: med %s p95 %s | %d streams: med %s p95 %s" % (
        fmt(res["p3"]["base_cli"]["med"]), fmt(res["p3"]["base_cli"]["p95"]), TABS,
        fmt(res["p3"]["cli"]["med"]), fmt(res["p3"]["cli"]["p95"])))
    say("  IMAP LOGINs since before the login: %d; connections %s (max sampled during pages: %s)"
        % (r["logins_after_pages"], r["who_after_pages"], r["who_max_during"]))

    # fan-out: one APPEND, every tab must hear of it
    subject = "live-sync fan-out %x" % (int(time.time() * 1000) & 0xFFFFFFF)
    starts = [t.count() for t in tabs]
    m = imap_client(args, addr, password)
    t0 = time.perf_counter()
    append(m, addr, subject, 9999)
    t1 = time.perf_counter()
    fan = []
    for t, i0 in zip(tabs, starts):
        got = t.wait(lambda o: subject in arrived_subjects(o), i0, t1 + EVENT_TIMEOUT)
        fan.append(None if got is None else (got[1] - t0) * 1000)
    try:
        m.logout()
    except Exception:  # noqa: BLE001
        pass
    res["fanout"] = {"ms": fan, "append_ms": (t1 - t0) * 1000}
    say("  one APPEND (%.1f ms): event in each tab after (ms) %s" % (
        (t1 - t0) * 1000, ", ".join(fmt(x, 1) for x in fan)))
    time.sleep(0.5)
    r["logins_end"] = logins_settled(addr) - r["logins_start"]

    # part 4
    say("== part 4: closing the %d streams; polling doveadm who every 0.5 s (up to %.0f s)"
        % (TABS, WATCHER_GONE_LIMIT))
    pool_pids = set(r["who_pages"])
    watcher_pids = sorted(set(r["who_tabs"]) - pool_pids)
    r4 = res["p4"] = {"watcher_pids": watcher_pids, "trace": []}
    ends = []
    t_close = time.perf_counter()
    for t in tabs:
        t.close()
        ends.append(t.end)
    r4["reader_ends"] = ends
    gone_at = None
    deadline = t_close + WATCHER_GONE_LIMIT
    while True:
        now = time.perf_counter()
        pids = who.pids(addr)
        r4["trace"].append((round(now - t_close, 2), pids))
        if watcher_pids and not (set(watcher_pids) & set(pids)):
            gone_at = now - t_close
            break
        if not watcher_pids and len(pids) <= len(pool_pids):
            gone_at = now - t_close
            break
        if now >= deadline:
            break
        time.sleep(max(0.0, 0.5 - (time.perf_counter() - now)))
    r4["gone_secs"] = gone_at
    r4["who_end"] = who.pids(addr)
    say("  watcher pid(s) %s gone after %s s; connections now %s" % (
        watcher_pids, fmt(gone_at, 1) if gone_at is not None else "NOT within %.0f" % WATCHER_GONE_LIMIT,
        r4["who_end"]))
    r["page_errors"] = s.errors


# ------------------------------------------------------------------ summary


def summary(res):
    p1, p2, p3, p4 = res.get("p1"), res.get("p2"), res.get("p3"), res.get("p4")
    print()
    print("Live sync summary (times in ms)")
    print("%-46s %9s %9s %9s %5s" % ("", "median", "p95", "max", "n"))

    def row(name, st):
        print("%-46s %9s %9s %9s %5d" % (name, fmt(st["med"]), fmt(st["p95"]), fmt(st["max"]), st["n"]))

    problems = []
    if p1:
        sm = p1["samples"]
        row("APPEND -> SSE event (total)", stats([x["total"] for x in sm]))
        row("  the APPEND command", stats([x["append"] for x in sm]))
        row("  the rest (APPEND OK -> event)", stats([x["rest"] for x in sm]))
        if p1["misses"]:
            problems.append("%d appends without an event: %s" % (len(p1["misses"]), "; ".join(p1["misses"][:5])))
        if p1["n_subjects_never_announced"]:
            problems.append("%d subjects never in any event's arrived list (e.g. %s)"
                            % (p1["n_subjects_never_announced"], p1["subjects_never_announced"][:3]))
        if p1["by_count"]:
            problems.append("%d events matched by message count, not by subject" % p1["by_count"])
        if p1["negative_rest"]:
            problems.append("%d events came before the APPEND's tagged OK" % p1["negative_rest"])
        if p1["duplicate_announcements"]:
            problems.append("%d arrivals announced more than once" % p1["duplicate_announcements"])
        if p1["last_event"].get("messages") != p1["expected_messages"]:
            problems.append("last event says %s messages, expected %d"
                            % (p1["last_event"].get("messages"), p1["expected_messages"]))
        if p1["bad_lines"]:
            problems.append("unparsable SSE lines: %s" % p1["bad_lines"])
        if p1["page_errors"]:
            problems.append("part 1 page errors: %s" % p1["page_errors"][:3])
    p0 = res.get("p0")
    if p0:
        row("reference: APPEND OK -> EXISTS, plain IDLE", stats([x["rest"] for x in p0["samples"]]))
        if p0["missing"]:
            problems.append("reference: %d EXISTS never came to the plain IDLE client (%s)"
                            % (p0["missing"], p0["end"]))
    if p3:
        row("/mail/INBOX server, no stream", p3["base_srv"])
        row("/mail/INBOX server, %d streams open" % TABS, p3["srv"])
        row("/mail/INBOX client, no stream", p3["base_cli"])
        row("/mail/INBOX client, %d streams open" % TABS, p3["cli"])
        if p3["errors"]:
            problems.append("page errors: %s" % p3["errors"][:3])
    if res.get("fanout"):
        fan = res["fanout"]["ms"]
        got = [x for x in fan if x is not None]
        row("APPEND -> event in each of %d tabs" % TABS, stats(got))
        if len(got) != len(fan):
            problems.append("fan-out: %d of %d tabs never got the event" % (len(fan) - len(got), len(fan)))
    print()
    if p1:
        print("part 1: %d appends in %.1f s; %d events after the first (%d without arrivals, "
              "%d with several); slowest (i, total, append): %s"
              % (len(p1["samples"]) + len(p1["misses"]), p1["secs"], p1["events"],
                 p1["events_without_arrived"], p1["events_with_several_arrived"], p1["slowest"]))
        print("part 1: IMAP connections of the user during the appends: %d "
              "(expected 3: page pool + watcher + the appending client)" % res.get("p1_conns", -1))
        if p0 and p0["samples"] and p1["samples"]:
            a = stats([x["rest"] for x in p1["samples"]])["med"]
            b = stats([x["rest"] for x in p0["samples"]])["med"]
            print("part 1: after the APPEND's OK, Courrier adds %.1f ms (median) to Dovecot's own IDLE "
                  "notice (%.1f ms median to a plain IDLE client)" % (a - b, b))
    if p2:
        print("IMAP LOGINs logged by Dovecot (user 2, counted from before the login):")
        print("  after login: %d | + %d pages: %d | + %d tabs open: %d | + %d pages with tabs: %d"
              "   (expected 1, 1, 2, 2)"
              % (p2["logins_login"], PAGES, p2["logins_pages"], TABS, p2["logins_tabs"],
                 PAGES, p2["logins_after_pages"]))
        print("  (+1 more for the fan-out check's own IMAP client: %d)" % p2["logins_end"])
        print("IMAP connections open (doveadm who): before login %d | after login %d | "
              "before tabs %d | %d tabs %d | after %d pages %d (max sampled %s)   (expected 0, 1, 1, 2, 2)"
              % (len(p2["who_start"]), len(p2["who_login"]), len(p2["who_pages"]), TABS,
                 len(p2["who_tabs"]), PAGES, len(p2["who_after_pages"]), p2["who_max_during"]))
        print("  pids: before tabs %s, with tabs %s" % (p2["who_pages"], p2["who_tabs"]))
        print("time to first event per tab (ms): %s" % ", ".join(fmt(x, 1) for x in p2["first_event_ms"]))
        if p2["logins_tabs"] - p2["logins_pages"] != 1:
            problems.append("opening %d tabs made %d IMAP LOGINs (expected 1)"
                            % (TABS, p2["logins_tabs"] - p2["logins_pages"]))
        if len(p2["who_tabs"]) != 2:
            problems.append("%d IMAP connections with %d tabs (expected 2): %s"
                            % (len(p2["who_tabs"]), TABS, p2["who_tabs"]))
        if any(x is None for x in p2["first_event_ms"]):
            problems.append("a tab got no first event")
        if p2.get("page_errors"):
            problems.append("part 2 page errors: %s" % p2["page_errors"][:3])
    if p4:
        gs = p4["gone_secs"]
        print("watcher connection %s gone %s after the %d streams closed; then %s"
              % (p4["watcher_pids"], ("%.1f s" % gs) if gs is not None else
                 "NOT within %.0f s" % WATCHER_GONE_LIMIT, TABS, p4["who_end"]))
        if gs is None:
            problems.append("the watcher's IMAP connection outlived the tabs by %.0f s+" % WATCHER_GONE_LIMIT)
        if not p4["watcher_pids"]:
            problems.append("no watcher connection was seen while the tabs were open")
    print("problems: %s" % ("none" if not problems else ""))
    for p in problems:
        print("  - " + p)
    sys.stdout.flush()
    return 1 if problems else 0


def run(args):
    res = {}
    rc = 0
    try:
        if args.ref_appends:
            part0(args, res)
        part1(args, res)
        parts234(args, res)
    except BenchError as e:
        print("live-sync: %s" % e, file=sys.stderr, flush=True)
        res["error"] = str(e)
        rc = 1
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1, default=str)
    return summary(res) or rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    r.add_argument("--user1", required=True)
    r.add_argument("--pass1", required=True)
    r.add_argument("--user2", required=True)
    r.add_argument("--pass2", required=True)
    r.add_argument("--doveconf", required=True)
    r.add_argument("--imap-host", default="127.0.0.1")
    r.add_argument("--imap-port", type=int, default=10143)
    r.add_argument("--appends", type=int, default=100)
    r.add_argument("--spacing-ms", type=int, default=200)
    r.add_argument("--ref-appends", type=int, default=20)
    r.add_argument("--out")
    a = ap.parse_args()
    if not 1 <= a.appends <= 1000:
        ap.error("--appends must be within 1..1000")
    if not 0 <= a.ref_appends <= 1000:
        ap.error("--ref-appends must be within 0..1000")
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
