#!/usr/bin/env python3
"""Pages of a POP3 account against a running Courrier (helper of bench/pop3-pages).

    pop3_pages.py check-user ADDR PASS N       exit 0 if the maildrop holds UIDs 1..N exactly
    pop3_pages.py seed ADDR PASS N             N messages into the maildrop (see below)
    pop3_pages.py run --base URL --addr A --password P --size N --seed-secs S
                      --data-dir DIR --out FILE
    pop3_pages.py table FILE...                the summary table of several runs

Standard library only. The HTTP session, the statistics and the Server-Timing parsing are those of
bench/read_path.py (imported); the messages are those of scripts/seed.py (imported), with a few
marker messages carrying the word MARKER_WORD, which nothing else contains, for the searches.

A POP3 account's mail lives in Courrier's own Maildir: the first download happens at login, then
every page reads that Maildir. Dovecot serves the same mailbox over IMAP and POP3, so the maildrop
is seeded over IMAP, and its POP3 order is its UID order: local UID k is the k-th seeded message.
"""

import argparse
import email.utils
import json
import math
import os
import random
import re
import subprocess
import sys
import time
import urllib.parse

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
sys.path.insert(1, os.path.join(REPO, "scripts"))

import read_path  # noqa: E402  (bench/read_path.py)
from read_path import BenchError, Session, excerpt, fmt, rows_on_page, summary  # noqa: E402

MAILSTACK = os.path.join(REPO, "scripts", "mailstack")
PAGE_SIZE = read_path.PAGE_SIZE
PORT_OFFSET = int(os.environ.get("MAILSTACK_PORT_OFFSET", "0") or 0)
IMAP_PORT = 10143 + PORT_OFFSET
MARKER_WORD = "ornithorynque"
MARKERS = 5  # messages carrying MARKER_WORD, spread over the mailbox
THREAD_WINDOW = 2000  # conversations are built over this many of the newest messages


def say(*a):
    print(*a, flush=True)


def marker_uids(n):
    """UIDs of the marker messages: MARKERS of them, evenly spread over 1..n."""
    k = min(MARKERS, n)
    return sorted({int((i + 0.5) * n / k) + 1 for i in range(k)})


# ------------------------------------------------------------------ the maildrop


def check_user(addr, password, n):
    import imaplib
    try:
        m = imaplib.IMAP4("127.0.0.1", IMAP_PORT)
        m.login(addr, password)
        typ, data = m.status("INBOX", "(MESSAGES UIDNEXT)")
        m.logout()
    except Exception as e:  # noqa: BLE001 - any failure means "seed again"
        print("pop3-pages: cannot reuse %s: %s" % (addr, e), file=sys.stderr)
        return 1
    text = data[0].decode() if typ == "OK" else ""
    msgs = re.search(r"MESSAGES (\d+)", text)
    uidnext = re.search(r"UIDNEXT (\d+)", text)
    if msgs and uidnext and int(msgs.group(1)) == n and int(uidnext.group(1)) == n + 1:
        return 0
    print("pop3-pages: cannot reuse %s: INBOX status %s" % (addr, text), file=sys.stderr)
    return 1


class MarkedGenerator:
    """scripts/seed.py's messages, except that the messages at the marker UIDs are short plain-text
    messages carrying MARKER_WORD (with the date the generator gave that position)."""

    def __init__(self, gen, user, n):
        self.gen = gen
        self.user = user
        self.markers = set(marker_uids(n))

    def next_message(self):
        uid = self.gen.index + 1
        flags, when, data = self.gen.next_message()
        if uid not in self.markers:
            return flags, when, data
        text = (
            "Bonjour,\r\n\r\n"
            "Un %s a été vu ce matin près de la rivière, derrière le moulin.\r\n"
            "Je joins mes notes à la prochaine lettre (observation n° %d).\r\n\r\n"
            "Bonne journée,\r\nNoël\r\n" % (MARKER_WORD, uid))
        head = (
            "From: =?utf-8?q?No=C3=ABl_Cr=C3=A9pin?= <noel.crepin@example.org>\r\n"
            "To: %s\r\n"
            "Subject: Observation d'un %s (n° %d)\r\n"
            "Date: %s\r\n"
            "Message-ID: <pop3-pages-%d@example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            % (self.user, MARKER_WORD, uid, email.utils.format_datetime(when), uid))
        return [], when, (head + text).encode("utf-8")


def seed(addr, password, n):
    """Appends n messages to the INBOX over IMAP, as `scripts/mailstack seed` does (pipelined
    MULTIAPPEND), with the marker messages at their UIDs."""
    import seed as seedlib  # scripts/seed.py
    t0 = time.monotonic()
    imap = seedlib.Imap("127.0.0.1", IMAP_PORT, False, None)
    caps = seedlib.login(imap, addr, password)
    gen = MarkedGenerator(seedlib.Generator(addr, "INBOX", "1", time.time(), n), addr, n)
    if "LITERAL+" in caps:
        batch, window = (50, 4) if "MULTIAPPEND" in caps else (1, 64)
        done, failed, first_error, size = seedlib.append_all(imap, "INBOX", gen, n, batch, window)
    else:
        done, failed, first_error, size = seedlib.append_one_by_one(imap, "INBOX", gen, n)
    try:
        imap.command("LOGOUT")
    except (OSError, SystemExit):
        pass
    say("pop3-pages: appended %d messages (%.1f MB, %d with \"%s\") in %.1f s"
        % (done, size / 1e6, len(marker_uids(n)), MARKER_WORD, time.monotonic() - t0))
    if failed:
        print("pop3-pages: %d messages refused: %s" % (failed, first_error), file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------ Courrier's side


def file_key(addr):
    """The account's directory name under <data_dir>/accounts (Courrier's store::file_key)."""
    out = []
    for b in addr.lower().encode("utf-8"):
        c = chr(b)
        out.append(c if (c.isascii() and c.isalnum()) or c in "-_@" else "%%%02X" % b)
    return "".join(out)


def maildir_files(maildir):
    """(count, bytes) of the message files of the inbox (new/ and cur/)."""
    n = size = 0
    for sub in ("new", "cur"):
        try:
            with os.scandir(os.path.join(maildir, sub)) as it:
                for e in it:
                    if not e.name.startswith("."):
                        n += 1
                        size += e.stat().st_size
        except FileNotFoundError:
            pass
    return n, size


def maildir_count(maildir):
    n = 0
    for sub in ("new", "cur"):
        try:
            with os.scandir(os.path.join(maildir, sub)) as it:
                n += sum(1 for e in it if not e.name.startswith("."))
        except FileNotFoundError:
            pass
    return n


def download_order(maildir):
    """{local UID: maildrop UID} from the inbox's courrier-uidlist ("uid base-name" lines). The
    base name ends with the download tag, the UIDL in hex; the mail stack's Dovecot makes UIDLs of
    the IMAP UID and UIDVALIDITY (pop3_uidl_format = %08Xu%08Xv), so the maildrop UID is the UIDL's
    first 8 hex digits."""
    out = {}
    try:
        with open(os.path.join(maildir, "courrier-uidlist")) as f:
            lines = f.read().splitlines()[1:]
    except FileNotFoundError:
        return out
    for line in lines:
        uid, _, base = line.partition(" ")
        try:
            tag = base[:-len(".courrier")].rsplit(".", 1)[1]
            out[int(uid)] = int(bytes.fromhex(tag).decode("ascii")[:8], 16)
        except (IndexError, ValueError, UnicodeDecodeError):
            out[int(uid)] = None
    return out


def pop3_logins(addr):
    out = subprocess.run([MAILSTACK, "logins", addr, "pop3"], check=True,
                         capture_output=True, text=True).stdout
    return int(out.strip() or 0)


def pop3_logins_settled(addr):
    """Dovecot writes its log through its log process: wait until the count is stable."""
    time.sleep(0.3)
    n = pop3_logins(addr)
    for _ in range(10):
        time.sleep(0.2)
        m = pop3_logins(addr)
        if m == n:
            return n
        n = m
    return n


def session_cookie(resp):
    for k, v in resp.getheaders():
        if k.lower() == "set-cookie" and v.startswith("courrier="):
            return v.split(";", 1)[0]
    return None


def login_pop3(s, addr, password):
    """GET /login (the form's token and its session cookie, when the form has them), then
    POST /login choosing POP3; returns (server_ms, client_ms) of the POST."""
    status, resp, data, _, _ = s.request("GET", "/login")
    if status != 200:
        raise BenchError("GET /login -> %d, body: %s" % (status, excerpt(data)))
    s.cookie = session_cookie(resp)
    fields = {"email": addr, "password": password, "protocol": "pop3"}
    token = csrf_of(data)
    if token:
        fields["csrf"] = token
    status, resp, data, srv, cli = s.request(
        "POST", "/login", body=urllib.parse.urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    cookie = session_cookie(resp)
    if status != 303 or not cookie:
        raise BenchError("POST /login (pop3) as %s -> %d (%s), body: %s" % (
            addr, status, resp.getheader("Location"), excerpt(data)))
    s.cookie = cookie
    return srv, cli


def csrf_of(html):
    m = re.search(rb'name="csrf" value="([^"]+)"', html)
    return m.group(1).decode() if m else None


def check_mail(s, csrf, samples=None):
    """POST /check ("Check mail"); a 303 back to the inbox is the success."""
    status, resp, data, srv, cli = s.request(
        "POST", "/check", body=urllib.parse.urlencode({"csrf": csrf}),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    if status != 303:
        s.errors.append("POST /check -> %d, body: %s" % (status, excerpt(data)))
    elif samples is not None:
        samples.append((srv, cli))
    return status


# ------------------------------------------------------------------ the run


def run(args):
    size, addr, password = args.size, args.addr, args.password
    rnd = random.Random(size)  # the same UIDs and pages on every run of a given size
    pages = max(1, math.ceil(size / PAGE_SIZE))
    mid, last = (pages + 1) // 2, pages
    markers = marker_uids(size)
    maildir = os.path.join(args.data_dir, "accounts", file_key(addr), "Maildir")
    res = {"size": size, "addr": addr, "seed_secs": args.seed_secs, "rows": {},
           "errors": [], "checks": []}

    def check(ok, what):
        res["checks"].append(("ok  " if ok else "BAD ") + what)
        say("  check: %s %s" % ("ok " if ok else "BAD", what))

    def save():
        res["errors"].extend(s.errors)
        s.errors.clear()
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)

    say("== size %d: %s (%d pages), local store %s" % (size, addr, pages, maildir))
    if maildir_count(maildir):
        raise BenchError("%s already holds messages: the first download needs an empty store"
                         % maildir)
    logins_before = pop3_logins_settled(addr)
    s = Session(args.base)

    # The first download: from the login until all N files are in the Maildir.
    t0 = time.perf_counter()
    login_srv, login_cli = login_pop3(s, addr, password)
    t_login = time.perf_counter() - t0
    at_login = maildir_count(maildir)
    deadline = t0 + args.timeout
    have = at_login
    while have < size and time.perf_counter() < deadline:
        time.sleep(0.05)
        have = maildir_count(maildir)
    t_done = time.perf_counter() - t0
    files, nbytes = maildir_files(maildir)
    res["download"] = {"secs": t_done, "login_secs": t_login, "login_server_ms": login_srv,
                       "at_login": at_login, "files": files, "bytes": nbytes}
    say("  first download: %d of %d messages (%.1f MB) %.2f s after the login was sent; "
        "the login answered after %.2f s with %d stored"
        % (files, size, nbytes / 1e6, t_done, t_login, at_login))
    check(files == size, "first download: %d files in the Maildir (expected %d, at most %d s)"
          % (files, size, args.timeout))
    if files != size:
        save()
        raise BenchError("the download did not complete")

    # Sanity of what the pages show.
    st, html = s.get("/mail/INBOX")
    csrf = csrf_of(html)
    uids = rows_on_page(html)
    check(st == 200 and len(uids) == min(PAGE_SIZE, size) and uids and uids[0] == size,
          "page 1: %d rows, first UID %s (expected %d rows, UID %d)"
          % (len(uids), uids[0] if uids else "-", min(PAGE_SIZE, size), size))
    check(('data-messages="%d"' % size).encode() in html, "page 1 shows the total %d" % size)
    st, html = s.get("/mail/INBOX?page=%d" % last)
    uids = rows_on_page(html)
    expect_last = size - (pages - 1) * PAGE_SIZE
    check(st == 200 and len(uids) == expect_last and uids and uids[-1] == 1,
          "last page %d: %d rows, last UID %s (expected %d rows, UID 1)"
          % (last, len(uids), uids[-1] if uids else "-", expect_last))
    if not csrf:
        save()
        raise BenchError("no csrf token on the inbox page")

    # Local UIDs are given in the order of the file names (the first page view wrote the uidlist);
    # they should follow the download order, which is the maildrop's.
    order = download_order(maildir)
    misplaced = sorted(u for u, m in order.items() if m != u)
    res["misplaced"] = len(misplaced)
    local_of = {m: u for u, m in order.items()}
    markers = sorted(local_of.get(m, -m) for m in markers)  # where the marker messages are here
    newest = local_of.get(size, size)
    check(len(order) == size and not misplaced,
          "local UIDs follow the download order: %d of %d UIDs name another message%s"
          % (len(misplaced), len(order), (" (first: local %s)" % ", ".join(
              "%d = maildrop %s" % (u, order[u]) for u in misplaced[:3])) if misplaced else ""))

    # "Check mail" right after the download: the first one waits for the download's end if it is
    # still running (ledger, QUIT); the next ones find nothing new (a POP3 session each, UIDL).
    check_mail(s, csrf)
    checks = []
    for _ in range(5):
        check_mail(s, csrf, checks)
    res["rows"]["check mail (none)"] = summary(checks)
    check(maildir_count(maildir) == size, "no message downloaded twice by 6 checks")

    # 100 page views on the session (warm-up), and the POP3 LOGINs so far.
    warm_pages = [1, mid, last]
    for i in range(98):
        s.get("/mail/INBOX?page=%d" % warm_pages[i % 3] if i % 2 else "/mail/INBOX")
    res["pop3_logins"] = pop3_logins_settled(addr) - logins_before
    say("  POP3 LOGINs for login + download + 6 checks + 100 page views: %d"
        % res["pop3_logins"])

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

    # 3. Messages at random UIDs (opening marks them read: a rename into cur/), and their body.
    opened, bodies, slowest = [], [], []
    for _ in range(200):
        uid = rnd.randint(1, size)
        n0 = len(opened)
        s.get("/mail/INBOX/%d" % uid, opened)
        s.get("/mail/INBOX/%d/body" % uid, bodies)
        if len(opened) > n0:
            slowest.append((opened[-1][0], uid))
    res["rows"]["open msg"] = summary(opened)
    res["rows"]["  its /body"] = summary(bodies)
    slowest.sort(reverse=True)
    res["slowest_opens"] = [(u, round(ms, 2)) for ms, u in slowest[:3]]

    # 4. Sorted by subject: the first request reads every message's headers (the index is cold:
    # page views only read the headers of the rows they show), the next 50 use the index.
    cold, warm = [], []
    st, html = s.get("/mail/INBOX?sort=subject&order=asc", cold)
    uids = rows_on_page(html)
    check(st == 200 and len(uids) == min(PAGE_SIZE, size),
          "sorted by subject: %d rows (expected %d)" % (len(uids), min(PAGE_SIZE, size)))
    for _ in range(50):
        s.get("/mail/INBOX?sort=subject&order=asc", warm)
    res["rows"]["sort subject (cold)"] = summary(cold)
    res["rows"]["sort subject (warm)"] = summary(warm)

    # 5. Search in the inbox for a word that only the marker messages contain.
    found, st = [], 0
    for i in range(20):
        st, html = s.get("/mail/INBOX?q=%s" % MARKER_WORD, found)
        if i == 0:
            uids = rows_on_page(html)
            check(st == 200 and sorted(uids) == markers,
                  "search ?q=%s: UIDs %s (expected %s)" % (MARKER_WORD, sorted(uids), markers))
    res["rows"]["search ?q="] = summary(found)

    # 6. Conversations (over the newest THREAD_WINDOW messages).
    threads = []
    for i in range(20):
        st, html = s.get("/mail/INBOX?view=threads", threads)
        if i == 0:
            uids = rows_on_page(html)
            check(st == 200 and newest in uids,
                  "conversations: %d rows, the newest message (local UID %d) among them"
                  % (len(uids), newest))
    res["rows"]["threads view"] = summary(threads)

    # 7. Search across every folder.
    everywhere = []
    for i in range(20):
        st, html = s.get("/search?q=%s" % MARKER_WORD, everywhere)
        if i == 0:
            uids = rows_on_page(html)
            check(st == 200 and sorted(uids) == markers,
                  "/search?q=%s: UIDs %s (expected %s)" % (MARKER_WORD, sorted(uids), markers))
    res["rows"]["/search all folders"] = summary(everywhere)

    res["session_requests"] = 2 + 6 + 98 + 200 + 200 + 400 + 51 + 20 + 20 + 20
    save()
    for e in res["errors"][:10]:
        say("  ERROR " + e)
    print_rows([res])
    return 0


# ------------------------------------------------------------------ printing


HEADER = "%-6s  %-22s %10s %10s %10s %10s %10s %10s %5s" % (
    "size", "page", "server_med", "server_p95", "server_max",
    "client_med", "client_p95", "client_max", "n")

ROW_ORDER = ["inbox p1", "spread 1/mid/last", "open msg", "  its /body",
             "sort subject (cold)", "sort subject (warm)", "search ?q=", "threads view",
             "/search all folders", "check mail (none)"]


def ordered_rows(r):
    names = list(r["rows"])
    # Keep the per-page sub-rows right after the spread row.
    out = []
    for name in ROW_ORDER:
        if name in r["rows"]:
            out.append(name)
            if name == "spread 1/mid/last":
                out += [n for n in names if n.startswith("  page ")]
    return out + [n for n in names if n not in out]


def print_rows(results):
    print(HEADER)
    for r in results:
        for name in ordered_rows(r):
            st = r["rows"][name]
            print("%-6d  %-22s %10s %10s %10s %10s %10s %10s %5d" % (
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
    print("Pages of a POP3 account, read from Courrier's Maildir (times in ms; server = "
          "Server-Timing app;dur, client = wall time seen by the client)")
    print_rows([r for r in results if r["rows"]])
    print()
    for r in results:
        d = r.get("download")
        if not d:
            continue
        rate = d["files"] / d["secs"] if d["secs"] > 0 else float("nan")
        print("size %-6d first download: %d messages, %.1f MB in %.2f s (%.0f msg/s, %.1f MB/s); "
              "login answered after %.2f s with %d stored"
              % (r["size"], d["files"], d["bytes"] / 1e6, d["secs"], rate,
                 d["bytes"] / 1e6 / d["secs"] if d["secs"] > 0 else float("nan"),
                 d["login_secs"], d["at_login"]))
    for r in results:
        if "misplaced" in r:
            print("size %-6d local UIDs not in download order: %d of %d"
                  % (r["size"], r["misplaced"], r["size"]))
    for r in results:
        if "pop3_logins" in r:
            print("size %-6d POP3 LOGINs for login + download + 6 checks + 100 page views: %d"
                  % (r["size"], r["pop3_logins"]))
    for r in results:
        seed = r.get("seed_secs")
        print("size %-6d seeding: %s" % (
            r["size"], "%.1f s" % float(seed) if seed not in (None, "", "reused")
            else "reused an already seeded maildrop"))
    for r in results:
        if r.get("slowest_opens"):
            print("size %-6d slowest opens (uid, server ms): %s" % (
                r["size"], ", ".join("%d: %.2f" % (u, ms) for u, ms in r["slowest_opens"])))
    bad = [(r["size"], c) for r in results for c in r["checks"] if c.startswith("BAD")]
    errs = [(r["size"], e) for r in results for e in r["errors"]]
    print("checks: %s" % ("all ok" if not bad else "; ".join("size %d: %s" % b for b in bad)))
    print("errors: %d" % len(errs))
    for size, e in errs[:20]:
        print("  size %d: %s" % (size, e))
    full = [r for r in results if r["rows"]]
    if len(full) >= 2:
        lo, hi = full[0], full[-1]
        print("growth %d -> %d messages (server median, ratio):" % (lo["size"], hi["size"]))
        for name in ROW_ORDER:
            a, b = lo["rows"].get(name), hi["rows"].get(name)
            if a and b and a["server_med"] > 0:
                print("  %-22s %9s -> %9s ms  x%.2f" % (
                    name.strip(), fmt(a["server_med"]), fmt(b["server_med"]),
                    b["server_med"] / a["server_med"]))
        a, b = lo.get("download"), hi.get("download")
        if a and b and a["secs"] > 0:
            print("  %-22s %9.2f -> %9.2f s   x%.2f" % (
                "first download", a["secs"], b["secs"], b["secs"] / a["secs"]))
    return 1 if bad or errs else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("check-user", "seed"):
        c = sub.add_parser(name)
        c.add_argument("addr")
        c.add_argument("password")
        c.add_argument("n", type=int)
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    r.add_argument("--addr", required=True)
    r.add_argument("--password", required=True)
    r.add_argument("--size", type=int, required=True)
    r.add_argument("--seed-secs", default=None)
    r.add_argument("--data-dir", required=True)
    r.add_argument("--timeout", type=int, default=600,
                   help="longest wait for the first download, in seconds (default 600)")
    r.add_argument("--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("files", nargs="+")
    a = ap.parse_args()
    if a.cmd == "check-user":
        return check_user(a.addr, a.password, a.n)
    if a.cmd == "seed":
        return seed(a.addr, a.password, a.n)
    if a.cmd == "run":
        try:
            return run(a)
        except BenchError as e:
            print("pop3-pages: %s" % e, file=sys.stderr)
            return 1
    return table(a.files)


if __name__ == "__main__":
    sys.exit(main())
