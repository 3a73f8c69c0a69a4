#!/usr/bin/env python3
"""Read-path measurements against a running Courrier (helper of bench/read-path).

    read_path.py check-user ADDR PASS N        exit 0 if INBOX holds UIDs 1..N exactly
    read_path.py run --base URL --addr A --password P --size N --seed-secs S --out FILE
                     [--counted-port PORT --work-dir DIR --courrier BIN]
    read_path.py table FILE...                 the summary table of several runs

Standard library only. HTTP goes over one keep-alive connection per session
(http.client), so the client adds little to the figures. Every response is
timed twice: the server time from Courrier's `Server-Timing: app;dur=<ms>`
header, and the wall time the client saw (request sent to body read).

With --counted-port, `run` ends with the phase "IMAP commands per view": it
starts a counting proxy (ImapCounter) in front of Dovecot and a second Courrier
(BIN, listening on 127.0.0.1:PORT, data under DIR) whose IMAP goes through it,
and counts the IMAP commands of a login and of each kind of page view.
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
import signal
import socket
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
IMAP_ADDR = ("127.0.0.1", 10143)  # the mail stack's Dovecot (plaintext login on loopback)
COUNT_VIEWS = 20  # views of each kind in the IMAP-commands phase


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


# ------------------------------------------------------------------ IMAP command counting


LITERAL_RE = re.compile(rb"~?\{([0-9]+)\+?\}$")  # {n}, {n+} (RFC 7888), ~{n} (RFC 3516)


class ImapStream:
    """Splits one direction of an IMAP stream into logical lines: a line, plus the literals that
    end it ({n}/{n+}/~{n}) and the lines that continue it after each literal. feed() returns the
    first physical line (without CRLF) of every logical line it completed the start of."""

    def __init__(self):
        self.buf = b""
        self.literal = 0  # literal bytes still to skip
        self.continued = False  # the next line continues the current logical line

    def feed(self, data):
        self.buf += data
        starts = []
        while self.buf:
            if self.literal:
                k = min(self.literal, len(self.buf))
                self.literal -= k
                self.buf = self.buf[k:]
                continue
            i = self.buf.find(b"\n")
            if i < 0:
                break
            line, self.buf = self.buf[:i].rstrip(b"\r"), self.buf[i + 1:]
            if not self.continued:
                starts.append(line)
            m = LITERAL_RE.search(line)
            self.literal = int(m.group(1)) if m else 0
            self.continued = bool(m)
        return starts


class ImapCounter:
    """A counting TCP proxy: listens on a free loopback port, forwards both ways to `upstream`
    (two threads per connection), and records every IMAP command the clients send: (monotonic
    time, connection number, name), the name with its `UID ` prefix (`UID FETCH`). SASL data after
    AUTHENTICATE (until the server's tagged answer) and the DONE ending an IDLE are not commands.
    A command is recorded before its bytes are forwarded, so before the server can answer it.
    mark() returns a position in the record; between(a, b) the commands from one position to
    another."""

    def __init__(self, upstream=IMAP_ADDR):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.commands = []  # (t, conn, name)
        self.connections = []  # (t, conn)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.socks = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name="imap-proxy").start()

    def _accept(self):
        n = 0
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            n += 1
            for sk in (client, server):
                sk.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            state = {"auth": None, "idle": None}  # tag of a running AUTHENTICATE / IDLE
            with self.lock:
                if self.closed:
                    client.close()
                    server.close()
                    return
                self.socks += [client, server]
                self.connections.append((time.monotonic(), n))
            threading.Thread(target=self._pump, args=(client, server, n, state, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, n, state, False),
                             daemon=True).start()

    def _pump(self, src, dst, conn, state, from_client):
        stream = ImapStream()
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                lines = stream.feed(data)
                if lines:
                    with self.lock:
                        for line in lines:
                            if from_client:
                                self._client_line(line, conn, state)
                            else:
                                self._server_line(line, state)
                dst.sendall(data)
        except OSError:
            pass
        for sk in (src, dst):
            try:
                sk.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _client_line(self, line, conn, state):
        if state["auth"] is not None:
            return  # SASL data (or the client's `*` cancelling the exchange)
        if state["idle"] is not None and line.strip().upper() == b"DONE":
            state["idle"] = None
            return
        words = line.split(b" ", 3)
        if len(words) < 2:
            name = "?" + line[:20].decode("ascii", "replace")
        else:
            name = LITERAL_RE.sub(b"", words[1]).decode("ascii", "replace").upper()
            if name == "UID" and len(words) > 2:
                name += " " + LITERAL_RE.sub(b"", words[2]).decode("ascii", "replace").upper()
            if name == "AUTHENTICATE":
                state["auth"] = words[0]
            elif name == "IDLE":
                state["idle"] = words[0]
        self.commands.append((time.monotonic(), conn, name))

    @staticmethod
    def _server_line(line, state):
        tag = line.split(b" ", 1)[0]
        for k in ("auth", "idle"):
            if state[k] is not None and tag == state[k]:
                state[k] = None

    def mark(self):
        with self.lock:
            return len(self.commands), len(self.connections)

    def between(self, a, b):
        """The commands and connections recorded from mark a to mark b: (list of (t, name), count)."""
        with self.lock:
            return [(t, name) for t, _, name in self.commands[a[0]:b[0]]], b[1] - a[1]

    def close(self):
        with self.lock:
            self.closed = True
            socks, self.socks = self.socks, []
        try:
            self.listener.close()
        except OSError:
            pass
        for sk in socks:
            try:
                sk.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sk.close()


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class CountedCourrier:
    """A second Courrier (same environment as the driver's) whose IMAP goes through an ImapCounter.
    Its pid is written to DIR/courrier-imapcount.pid while it runs, for the driver's cleanup."""

    def __init__(self, binary, port, work_dir, tag):
        if port_open(port):
            raise BenchError("port %d is already in use" % port)
        self.proxy = ImapCounter()
        self.pidfile = os.path.join(work_dir, "courrier-imapcount.pid")
        self.log = os.path.join(work_dir, "courrier-imapcount-%s.log" % tag)
        self.base = "http://127.0.0.1:%d" % port
        env = dict(os.environ)
        env.update({
            "COURRIER_IMAP_HOST": "127.0.0.1",
            "COURRIER_IMAP_PORT": str(self.proxy.port),
            "COURRIER_IMAP_SECURITY": "none",
            "COURRIER_SERVER_LISTEN": "127.0.0.1:%d" % port,
            "COURRIER_SERVER_PUBLIC_URL": self.base,
            "COURRIER_SERVER_DATA_DIR": os.path.join(work_dir, "data-imapcount-%s" % tag),
            "RUST_LOG": env.get("RUST_LOG", "warn"),
        })
        self.proc = None
        try:
            with open(self.log, "wb") as log:
                self.proc = subprocess.Popen([os.path.abspath(binary)], env=env, stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
            with open(self.pidfile, "w") as f:
                f.write("%d\n" % self.proc.pid)
            for _ in range(150):
                if port_open(port):
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
            with open(self.log, errors="replace") as f:
                tail = f.read()[-500:]
            raise BenchError("counted Courrier did not listen on %d: %s" % (port, tail.strip()))
        except BaseException:
            self.stop()
            raise

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.unlink(self.pidfile)
        except OSError:
            pass
        self.proxy.close()


def count_phase(args, errors):
    """IMAP commands per view, through a second Courrier behind the counting proxy: the login, then
    after one warm-up of each, COUNT_VIEWS views of each kind. Views follow each other, and each
    view's window runs from its request to the next request (or to a short settle after the last
    one), so commands sent after a response (in the background) still count, for the next window;
    `late` counts those that came after the response of their window."""
    size = args.size
    rnd = random.Random(size + 1)
    pages = max(1, math.ceil(size / PAGE_SIZE))
    say("  IMAP commands per view: second Courrier on 127.0.0.1:%d through a counting proxy"
        % args.counted_port)
    cc = CountedCourrier(args.courrier, args.counted_port, args.work_dir, str(size))
    out = {"views": {}, "order": []}
    try:
        proxy = cc.proxy
        s = Session(cc.base)
        m0 = proxy.mark()
        s.login(args.addr, args.password)
        time.sleep(0.3)
        m1 = proxy.mark()
        cmds, conns = proxy.between(m0, m1)
        out["login"] = {"n": 1, "total": float(len(cmds)), "connections": float(conns),
                        "late": 0.0, "breakdown": count_names(cmds, 1)}

        def open_msg(uid, marks):
            """GET the message page then its frame (as the existing phase: the iframe's src, or
            /body when the page has no iframe, a plain-text body shown inline); marks gets
            (mark, response end) of each request. Returns whether the page had an iframe."""
            marks.append((proxy.mark(), None))
            _, page = s.get("/mail/INBOX/%d" % uid)
            marks[-1] = (marks[-1][0], time.monotonic())
            m = re.search(rb'class="body-frame"[^>]*\ssrc="([^"]+)"', page or b"")
            frame = unescape(m.group(1).decode()) if m else "/mail/INBOX/%d/body" % uid
            marks.append((proxy.mark(), None))
            s.get(frame)
            marks[-1] = (marks[-1][0], time.monotonic())
            return bool(m)

        def get(path, marks):
            marks.append((proxy.mark(), None))
            s.get(path)
            marks[-1] = (marks[-1][0], time.monotonic())

        def windows(marks, end):
            """(commands, connections, late) of each request from its mark to the next one."""
            res = []
            for i, (mk, t_end) in enumerate(marks):
                nxt = marks[i + 1][0] if i + 1 < len(marks) else end
                cmds, conns = proxy.between(mk, nxt)
                res.append((cmds, conns, sum(1 for t, _ in cmds if t > t_end)))
            return res

        def record(name, wins):
            if not wins:
                return
            cmds = [c for w in wins for c in w[0]]
            n = len(wins)
            out["views"][name] = {
                "n": n, "total": len(cmds) / n, "connections": sum(w[1] for w in wins) / n,
                "late": sum(w[2] for w in wins) / n, "breakdown": count_names(cmds, n)}
            out["order"].append(name)

        # One warm-up of each view; the first page after the login is shown on its own.
        lists = [("inbox p1", "/mail/INBOX")]
        if pages >= 2:
            lists.append(("inbox p2", "/mail/INBOX?page=2"))
        warm = []
        for _, path in lists:
            get(path, warm)
        open_msg(rnd.randint(1, size), warm)
        time.sleep(0.3)
        record("inbox p1, after login", windows(warm, proxy.mark())[:1])
        for name, path in lists:
            marks = []
            for _ in range(COUNT_VIEWS):
                get(path, marks)
            time.sleep(0.3)
            record(name, windows(marks, proxy.mark()))
        marks, framed = [], []
        for _ in range(COUNT_VIEWS):
            framed.append(open_msg(rnd.randint(1, size), marks))
        time.sleep(0.3)
        wins = windows(marks, proxy.mark())
        pages_w, frames_w = wins[0::2], wins[1::2]
        record("open msg: page", pages_w)
        record("open msg: frame", frames_w)
        record("  iframe src", [w for w, f in zip(frames_w, framed) if f])
        record("  /body, no iframe", [w for w, f in zip(frames_w, framed) if not f])
        both = [(a[0] + b[0], a[1] + b[1], a[2] + b[2]) for a, b in zip(pages_w, frames_w)]
        record("open msg: page + frame", both)
        # What a browser costs: it loads the frame only when the page has an iframe.
        record("open msg: as a browser", [b if f else a
                                          for a, b, f in zip(pages_w, both, framed)])
        errors.extend("counted: " + e for e in s.errors)
    finally:
        cc.stop()
    return out


def count_names(cmds, n):
    counts = {}
    for _, name in cmds:
        counts[name] = counts.get(name, 0) + 1
    return {k: v / n for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def fmt_breakdown(b):
    return ", ".join("%s %s" % (("%.2f" % v).rstrip("0").rstrip(".") if v != int(v)
                                 else "%d" % v, k) for k, v in b.items()) or "none"


def print_counts(results):
    rows = [(r["size"], r["imap_commands"]) for r in results if r.get("imap_commands")]
    if not rows:
        return
    print("%-6s  %-30s %9s %6s %5s  %s" % ("size", "view", "cmds/view", "conns", "late",
                                           "breakdown (commands per view)"))
    for size, ic in rows:
        for name in ["login"] + ic["order"]:
            v = ic["login"] if name == "login" else ic["views"][name]
            print("%-6d  %-30s %9.2f %6.2f %5.2f  %s" % (
                size, name if name == "login" else "%s (x%d)" % (name, v["n"]), v["total"],
                v["connections"], v["late"], fmt_breakdown(v["breakdown"])))
    sys.stdout.flush()


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

    # 5. IMAP commands per view, through a second Courrier behind a counting proxy.
    if args.counted_port:
        try:
            res["imap_commands"] = count_phase(args, res["errors"])
        except (BenchError, OSError, http.client.HTTPException) as e:
            res["errors"].append("IMAP commands per view: %s" % e)

    for e in res["errors"][:10]:
        say("  ERROR " + e)
    print_rows([res])
    print_counts([res])
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
    if any(r.get("imap_commands") for r in results):
        print()
        print("IMAP commands per view (a second Courrier through a counting proxy; after a warm-up;")
        print("conns = new IMAP connections, late = commands sent after the view's response)")
        print_counts(results)
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
    r.add_argument("--counted-port", type=int, default=None,
                   help="run the IMAP-commands phase with a second Courrier on this port")
    r.add_argument("--work-dir", default="/tmp",
                   help="where that Courrier keeps its data, log and pid file")
    r.add_argument("--courrier", default=os.path.join(REPO, "target", "release", "courrier"))
    t = sub.add_parser("table")
    t.add_argument("files", nargs="+")
    a = ap.parse_args()
    if a.cmd == "check-user":
        return check_user(a.addr, a.password, a.n)
    if a.cmd == "run":
        # A TERM from the driver unwinds (stopping the counted Courrier) instead of killing outright.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            return run(a)
        except BenchError as e:
            print("read-path: %s" % e, file=sys.stderr)
            return 1
    return table(a.files)


if __name__ == "__main__":
    sys.exit(main())
