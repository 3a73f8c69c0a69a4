#!/usr/bin/env python3
"""Hostile headers against a running Courrier (helper of bench/hostile-headers).

    hostile_headers.py seed ADDR PASS          the two folders below, over IMAP (APPEND)
    hostile_headers.py run --base URL --addr A --password P --seed-secs S --out FILE
    hostile_headers.py table FILE              the summary of a run

Standard library only. The HTTP session (real login form and its token, one keep-alive
connection), the Server-Timing parsing and the statistics are those of bench/read_path.py
(imported).

The mailbox of one fresh user:

  Ordinary  50 ordinary messages: an encoded display name, a short subject, 2 recipients.
  Hostile   50 messages, 10 of each kind, interleaved (UID u is of kind (u - 1) % 5):
              name10k    From: a display name of 10,000 characters (non-ASCII, in UTF-8 B and Q
                         encoded-words of at most 75 characters, folded)
              subject    Subject: a field of 100,000 bytes, folded, plain words mixed with UTF-8
                         and ISO-8859-1 encoded-words
              rcpts      To: 5,000 mailboxes and Cc: 5,000 more (one per line; names plain,
                         quoted, encoded, or none)
              mailsploit From: =?utf-8?b?...?=@mailsploit.test and 9 other variants (an encoded
                         NUL, LF, CRLF + Bcc, quotes and angles inside the local part or the domain)
              bidi       From, To (10 mailboxes) and Subject full of direction overrides, isolates,
                         marks and zero-width characters

Every row is 20 warm-up requests, then 100 measured ones, sequential, on one session; an open row
cycles over the 10 messages of its kind (the ordinary one over 10 ordinary messages).
"""

import argparse
import base64
import email.utils
import imaplib
import json
import math
import os
import re
import statistics
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import read_path  # noqa: E402  (bench/read_path.py)
from read_path import BenchError, Session, fmt, summary  # noqa: E402

PORT_OFFSET = int(os.environ.get("MAILSTACK_PORT_OFFSET", "0") or 0)
IMAP_PORT = 10143 + PORT_OFFSET
PAGE_SIZE = read_path.PAGE_SIZE
ORDINARY, HOSTILE = "Ordinary", "Hostile"
PER_FOLDER = 50
KINDS = ["name10k", "subject", "rcpts", "mailsploit", "bidi"]
NAME_CHARS = 10_000
SUBJECT_BYTES = 100_000
RECIPIENTS = 5_000  # in To, and as many in Cc
WARMUP, MEASURED = 20, 100
NOW = 1_735_689_600  # 2025-01-01: the same messages on every run


def say(*a):
    print(*a, flush=True)


# ------------------------------------------------------------------ RFC 2047


def b_word(text, charset="utf-8"):
    return "=?%s?B?%s?=" % (charset, base64.b64encode(text.encode(charset)).decode("ascii"))


Q_SAFE = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/")


def q_bytes(data):
    return "".join("_" if b == 0x20 else chr(b) if b in Q_SAFE else "=%02X" % b for b in data)


def q_word(text, charset="utf-8"):
    return "=?%s?Q?%s?=" % (charset, q_bytes(text.encode(charset)))


def encoded_words(text, enc="B", charset="utf-8", limit=75):
    """text as a list of encoded-words of at most `limit` characters each, never splitting a
    character. Adjacent encoded-words decode to the concatenation of their texts (RFC 2047 6.2)."""
    overhead = len("=?%s?%s??=" % (charset, enc))
    words, cur, cur_len = [], [], 0  # cur_len: bytes (B) or encoded chars (Q) so far
    for ch in text:
        raw = ch.encode(charset)
        if enc == "B":
            new_len = cur_len + len(raw)
            fits = overhead + 4 * math.ceil(new_len / 3) <= limit
        else:
            new_len = cur_len + len(q_bytes(raw))
            fits = overhead + new_len <= limit
        if cur and not fits:
            words.append("".join(cur))
            cur, cur_len = [], 0
            new_len = len(raw) if enc == "B" else len(q_bytes(raw))
        cur.append(ch)
        cur_len = new_len
    if cur:
        words.append("".join(cur))
    make = b_word if enc == "B" else q_word
    return [make(w, charset) for w in words]


def fold(name, tokens):
    """A header field: the tokens separated by a space, or folded (CRLF SP) where a line would
    pass 78 characters."""
    lines, cur = [], name + ":"
    for tok in tokens:
        if len(cur) + 1 + len(tok) > 78 and cur != name + ":":
            lines.append(cur)
            cur = " " + tok
        else:
            cur += " " + tok
    lines.append(cur)
    return "\r\n".join(lines) + "\r\n"


# ------------------------------------------------------------------ messages

WORDS_FR = ("Élodie Gaëlle Ångström Søren Françoise naïve crème brûlée cœur œuvre garçon "
            "Ζωή Αλέξανδρος Дмитрий Светлана 山田太郎 東京 李小龙 한국어 🙂 ☃ € Łódź Ærø").split()
ASCII_WORDS = ("budget meeting quarterly report review draft invoice urgent follow up notes "
               "project update agenda minutes planning").split()


def message(date_ts, headers, body):
    """headers: already folded header fields (str, CRLF-terminated)."""
    head = "Date: %s\r\n" % email.utils.formatdate(date_ts, usegmt=True)
    head += "".join(headers)
    head += ("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 7bit\r\n")
    return (head + "\r\n" + body.replace("\n", "\r\n") + "\r\n").encode("utf-8")


def msg_id(tag, i):
    return "Message-ID: <%s-%d.bench@hostile.test>\r\n" % (tag, i)


def ordinary(i, user):
    first = ["Élodie", "Gaël", "Françoise", "Jérôme", "Zoé"][i % 5]
    headers = [
        fold("From", [b_word("%s Martin-%d" % (first, i)), "<sender%d@example.org>" % i]),
        fold("To", [q_word("Amélie Dupré"), "<%s>," % user, "Bob", "<bob%d@autre.test>" % i]),
        fold("Subject", ["Compte", "rendu", "de", "la", q_word("réunion"), "no", str(i)]),
        msg_id("ordinary", i),
    ]
    body = "Bonjour,\n\nOrdinary message %d: the minutes of the meeting.\n\n-- \n%s\n" % (i, first)
    return message(NOW - 3600 * (PER_FOLDER - i), headers, body)


def long_name(i):
    words, n = [], 0
    k = i
    while n <= NAME_CHARS:
        w = WORDS_FR[k % len(WORDS_FR)]
        k = (k * 7 + 3) % 1009
        words.append(w)
        n += len(w) + 1
    name = " ".join(words)[:NAME_CHARS]
    return name[:-1] + "é" if name.endswith(" ") else name


def kind_name10k(i, user):
    name = long_name(i)
    assert len(name) == NAME_CHARS
    enc = "B" if i % 2 else "Q"
    headers = [
        fold("From", encoded_words(name, enc) + ["<long-name-%d@hostile.test>" % i]),
        fold("To", ["<%s>" % user]),
        "Subject: A 10,000-character display name HOSTILE-NAME-%d\r\n" % i,
        msg_id("name10k", i),
    ]
    return message(NOW - 60 * (PER_FOLDER - i), headers, "The From name is 10,000 characters.\n")


def subject_field(i):
    """A Subject field of exactly SUBJECT_BYTES bytes (name and CRLF included), folded at 78
    columns: plain words mixed with UTF-8 (Q and B) and ISO-8859-1 encoded-words, ended by plain
    filler words to reach the size."""
    phrases = ["réunion décalée", "Ζωή καλή", "東京の会議", "crème brûlée 🙂", "Łódź–Ærø"]
    lines, cur, size, k = [], "Subject: HOSTILE-SUBJECT-%d" % i, 0, i
    while size + len(cur) + 2 < SUBJECT_BYTES - 200:
        k += 1
        mode = k % 4
        if mode == 0:
            tok = ASCII_WORDS[k % len(ASCII_WORDS)]
        elif mode == 1:
            tok = q_word(phrases[k % len(phrases)])
        elif mode == 2:
            tok = b_word(phrases[(k + 2) % len(phrases)])
        else:
            tok = q_word("café à emporter", "iso-8859-1")
        if len(cur) + 1 + len(tok) > 78:
            lines.append(cur)
            size += len(cur) + 2
            cur = " " + tok
        else:
            cur += " " + tok
    lines.append(cur)
    size += len(cur) + 2
    while size < SUBJECT_BYTES:  # filler lines " xxxx" of at most 78 characters
        n = min(77, SUBJECT_BYTES - size - 3)
        if SUBJECT_BYTES - size - (n + 3) in (1, 2, 3):  # never leave less than a line needs
            n -= 4
        lines.append(" " + "x" * n)
        size += n + 3
    return "\r\n".join(lines) + "\r\n"


def kind_subject(i, user):
    field = subject_field(i)
    headers = [
        fold("From", [b_word("Gaëlle Sujet-%d" % i), "<subject-%d@hostile.test>" % i]),
        fold("To", ["<%s>" % user]),
        field,
        msg_id("subject", i),
    ]
    return message(NOW - 60 * (PER_FOLDER - i), headers,
                   "The Subject field is %d bytes.\n" % len(field))


def mailboxes(prefix, domain, i):
    out = []
    for r in range(1, RECIPIENTS + 1):
        addr = "%s%04d.%d@%s" % (prefix, r, i, domain)
        m = r % 4
        if m == 0:
            out.append("%s <%s>" % (q_word("André N°%d" % r), addr))
        elif m == 1:
            out.append('"Dupont, Jean %d" <%s>' % (r, addr))
        elif m == 2:
            out.append(addr)
        else:
            out.append("Destinataire %d <%s>" % (r, addr))
    return out


def list_field(name, mbs):
    return name + ": " + ",\r\n ".join(mbs) + "\r\n"


def kind_rcpts(i, user):
    headers = [
        fold("From", [b_word("Zoé Liste-%d" % i), "<list-%d@hostile.test>" % i]),
        list_field("To", ["<%s>" % user] + mailboxes("to", "example.org", i)[:RECIPIENTS - 1]),
        list_field("Cc", mailboxes("cc", "autre.test", i)),
        "Subject: 5,000 + 5,000 recipients HOSTILE-RCPTS-%d\r\n" % i,
        msg_id("rcpts", i),
    ]
    return message(NOW - 60 * (PER_FOLDER - i), headers, "To and Cc hold 5,000 mailboxes each.\n")


def b64(s):
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


MAILSPLOIT = [
    "=?utf-8?b?%s?=@mailsploit.test" % b64("potus@whitehouse.gov\x00(null)"),
    "=?UTF-8?B?%s?=@mailsploit.test" % b64("potus@whitehouse.test\x00"),
    "=?UTF-8?Q?potus=40whitehouse=2Etest=0A?=@mailsploit.test",
    "=?UTF-8?Q?potus=40whitehouse=2Etest=0D=0ABcc=3A_victim=40courrier=2Etest=0D=0A?="
    "@mailsploit.test",
    "support@=?UTF-8?Q?bank=2Etest=00?=.mailsploit.test",
    "=?UTF-8?Q?=22potus=40whitehouse=2Etest=22_=3Cpotus=40whitehouse=2Etest=3E=00?="
    "@mailsploit.test",
    "=?utf-8?b?%s?=@mailsploit.test" % b64('"Apple" <security@apple.com>\x00'),
    "=?utf-8?b?%s?= <=?utf-8?b?%s?=@mailsploit.test>" % (
        b64("security@bank.test"), b64("security@bank.test\x00")),
    "=?utf-8?b?%s?=@mailsploit.test" % b64("ceo@company.test\u202e"),
    "=?utf-8?b?%s?=@mailsploit.test" % b64("admin@example.test\r\n"),
]


def kind_mailsploit(i, user):
    headers = [
        "From: %s\r\n" % MAILSPLOIT[(i // len(KINDS)) % len(MAILSPLOIT)],
        fold("To", ["<%s>" % user]),
        "Subject: Mailsploit sender HOSTILE-MAILSPLOIT-%d\r\n" % i,
        msg_id("mailsploit", i),
    ]
    return message(NOW - 60 * (PER_FOLDER - i), headers, "The From is an encoded-word local part.\n")


BIDI = ["\u202e", "tset.knab@troppus", "\u202c", " ", "\u2066", "Team", "\u2069", "\u200b",
        "pay\u200bpal\u200d.test", "\u200e\u200f\u061c", "\ufeff", "\u2067", "\u05e9\u05dc\u05d5\u05dd",
        "\u2069", "\u202d", "invoice\u202efdp.exe", "\u00ad", "\u2060", "\u180e", "\u3164"]


def bidi_name(i, reps):
    return "".join(BIDI[(i + k) % len(BIDI)] for k in range(reps * len(BIDI)))


def kind_bidi(i, user):
    to = ["<%s>," % user]
    for r in range(10):
        to += encoded_words(bidi_name(i + r, 2), "B" if r % 2 else "Q")
        to.append("<bidi%d.%d@hostile.test>%s" % (r, i, "," if r < 9 else ""))
    headers = [
        fold("From", encoded_words(bidi_name(i, 10), "Q") + ["<bidi-%d@hostile.test>" % i]),
        fold("To", to),
        fold("Subject", encoded_words("HOSTILE-BIDI-%d " % i + bidi_name(i, 4), "B")),
        msg_id("bidi", i),
    ]
    return message(NOW - 60 * (PER_FOLDER - i), headers,
                   "Names full of direction controls and zero-width characters.\n")


MAKERS = {"name10k": kind_name10k, "subject": kind_subject, "rcpts": kind_rcpts,
          "mailsploit": kind_mailsploit, "bidi": kind_bidi}


def kind_of(uid):
    return KINDS[(uid - 1) % len(KINDS)]


def uids_of(kind):
    return [u for u in range(1, PER_FOLDER + 1) if kind_of(u) == kind]


def seed(addr, password):
    m = imaplib.IMAP4("127.0.0.1", IMAP_PORT)
    m.login(addr, password)
    sizes = {}
    for folder in (ORDINARY, HOSTILE):
        typ, data = m.create(folder)
        if typ != "OK":
            raise BenchError("CREATE %s: %s" % (folder, data))
    for i in range(1, PER_FOLDER + 1):
        raw = ordinary(i, addr)
        typ, data = m.append(ORDINARY, None, imaplib.Time2Internaldate(NOW - 3600 * (PER_FOLDER - i)),
                             raw)
        if typ != "OK":
            raise BenchError("APPEND %s: %s" % (ORDINARY, data))
        sizes.setdefault("ordinary", []).append(len(raw))
    for i in range(1, PER_FOLDER + 1):
        kind = kind_of(i)
        raw = MAKERS[kind](i, addr)
        typ, data = m.append(HOSTILE, None, imaplib.Time2Internaldate(NOW - 60 * (PER_FOLDER - i)),
                             raw)
        if typ != "OK":
            raise BenchError("APPEND %s: %s" % (HOSTILE, data))
        sizes.setdefault(kind, []).append(len(raw))
    for folder in (ORDINARY, HOSTILE):
        typ, data = m.status(folder, "(MESSAGES UIDNEXT)")
        text = data[0].decode() if typ == "OK" else str(data)
        if "MESSAGES %d " % PER_FOLDER not in text or "UIDNEXT %d)" % (PER_FOLDER + 1) not in text:
            raise BenchError("%s after seeding: %s" % (folder, text))
    m.logout()
    for kind in ["ordinary"] + KINDS:
        s = sizes[kind]
        say("hostile-headers: seeded %2d x %-10s %8d bytes each on average" % (
            len(s), kind, sum(s) // len(s)))
    return 0


# ------------------------------------------------------------------ the run


def rows_on_page(html):
    """UIDs of the rows of a folder page."""
    return [int(u) for u in re.findall(rb'<tr [^>]*data-uid="([0-9]+)"', html)]


def measure(s, paths):
    """WARMUP then MEASURED GETs, cycling over paths. Returns (summary, sizes, last bodies)."""
    samples, sizes, bodies = [], [], {}
    for k in range(WARMUP + MEASURED):
        path = paths[k % len(paths)]
        out = [] if k >= WARMUP else None
        status, data = s.get(path, out)
        if out:
            samples.append(out[0])
            sizes.append(len(data))
        if status == 200:
            bodies[path] = data
    st = summary(samples)
    st["bytes_med"] = int(statistics.median(sizes)) if sizes else 0
    st["bytes_min"] = min(sizes) if sizes else 0
    st["bytes_max"] = max(sizes) if sizes else 0
    st["paths"] = len(paths)
    return st, bodies


def run(args):
    res = {"addr": args.addr, "seed_secs": args.seed_secs, "rows": {}, "errors": [],
           "checks": [], "notes": []}

    def check(ok, what):
        res["checks"].append(("ok  " if ok else "BAD ") + what)
        say("  check: %s %s" % ("ok " if ok else "BAD", what))

    def note(what):
        res["notes"].append(what)
        say("  note: %s" % what)

    say("== %s: %s and %s, %d messages each" % (args.addr, ORDINARY, HOSTILE, PER_FOLDER))
    s = Session(args.base)
    s.login(args.addr, args.password)
    t_start = time.perf_counter()

    def folder_path(f):
        return "/mail/%s" % f

    def open_paths(f, uids):
        return ["/mail/%s/%d" % (f, u) for u in uids]

    plan = [
        ("list ordinary p1", [folder_path(ORDINARY)]),
        ("list hostile p1", [folder_path(HOSTILE)]),
        ("open ordinary", open_paths(ORDINARY, range(1, 11))),
        ("open 10k name", open_paths(HOSTILE, uids_of("name10k"))),
        ("open 100k subject", open_paths(HOSTILE, uids_of("subject"))),
        ("open 5000+5000 rcpts", open_paths(HOSTILE, uids_of("rcpts"))),
        ("open mailsploit", open_paths(HOSTILE, uids_of("mailsploit"))),
        ("open bidi/zero-width", open_paths(HOSTILE, uids_of("bidi"))),
        ("reply 5000+5000 rcpts", ["/compose?mode=reply-all&folder=%s&uid=%d" % (HOSTILE, u)
                                   for u in uids_of("rcpts")]),
    ]
    bodies = {}
    for name, paths in plan:
        t0 = time.perf_counter()
        st, b = measure(s, paths)
        st["secs"] = time.perf_counter() - t0
        res["rows"][name] = st
        bodies[name] = b
        say("  %-22s server med %8s ms, client med %8s ms, %9d bytes  (%.1f s for %d requests)"
            % (name, fmt(st["server_med"]), fmt(st["client_med"]), st["bytes_med"], st["secs"],
               WARMUP + MEASURED))
    res["secs"] = time.perf_counter() - t_start

    # Sanity checks (the exit status).
    for name in ("list ordinary p1", "list hostile p1"):
        html = next(iter(bodies[name].values()), b"")
        uids = rows_on_page(html)
        check(len(uids) == PER_FOLDER, "%s: %d rows (expected %d)" % (name, len(uids), PER_FOLDER))
    pages = bodies["open 5000+5000 rcpts"]
    check(len(pages) == len(uids_of("rcpts"))
          and all(b"more-addresses" in h for h in pages.values()),
          "open 5000+5000 rcpts: %d/%d pages contain more-addresses" % (
              sum(b"more-addresses" in h for h in pages.values()), len(uids_of("rcpts"))))
    pages = bodies["open 100k subject"]
    check(len(pages) == len(uids_of("subject"))
          and all(b"full-subject" in h for h in pages.values()),
          "open 100k subject: %d/%d pages contain full-subject" % (
              sum(b"full-subject" in h for h in pages.values()), len(uids_of("subject"))))

    # What the pages hold, for the reader of the figures (not checked).
    page = next(iter(bodies["open 5000+5000 rcpts"].values()), b"")
    note("open 5000+5000 rcpts: %d addresses of the recipients in the page"
         % len(re.findall(rb"(?:to|cc)[0-9]{4}\.[0-9]+@", page)))
    page = next(iter(bodies["reply 5000+5000 rcpts"].values()), b"")
    note("reply 5000+5000 rcpts: %d addresses of the recipients in the form"
         % len(re.findall(rb"(?:to|cc)[0-9]{4}\.[0-9]+@", page)))
    res["errors"].extend(s.errors)
    for e in res["errors"][:10]:
        say("  ERROR " + e)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    return 0


# ------------------------------------------------------------------ printing

HEADER = "%-22s %10s %10s %10s %10s %10s %10s %10s %4s" % (
    "row", "server_med", "server_p95", "server_max", "client_med", "client_p95", "client_max",
    "bytes", "n")


def table(path):
    with open(path) as fh:
        r = json.load(fh)
    print()
    print("Hostile headers (times in ms; server = Server-Timing app;dur, client = wall time seen "
          "by the client; bytes = median response body, uncompressed)")
    print(HEADER)
    for name, st in r["rows"].items():
        size = str(st["bytes_med"])
        print("%-22s %10s %10s %10s %10s %10s %10s %10s %4d" % (
            name, fmt(st["server_med"]), fmt(st["server_p95"]), fmt(st["server_max"]),
            fmt(st["client_med"]), fmt(st["client_p95"]), fmt(st["client_max"]), size, st["n"]))
    print()
    o, h = r["rows"].get("list ordinary p1"), r["rows"].get("list hostile p1")
    if o and h and o["server_med"] > 0 and o["client_med"] > 0:
        print("list page hostile/ordinary: server median x%.2f, client median x%.2f, bytes x%.2f"
              % (h["server_med"] / o["server_med"], h["client_med"] / o["client_med"],
                 h["bytes_med"] / max(1, o["bytes_med"])))
    base = r["rows"].get("open ordinary")
    if base and base["server_med"] > 0:
        print("opens against an ordinary open (server median): " + ", ".join(
            "%s x%.1f" % (name[5:], st["server_med"] / base["server_med"])
            for name, st in r["rows"].items() if name.startswith("open ") and st is not base))
    varied = [(n, st) for n, st in r["rows"].items() if st["bytes_min"] != st["bytes_max"]]
    for n, st in varied:
        print("%s: response sizes %d..%d bytes over its %d URLs" % (
            n, st["bytes_min"], st["bytes_max"], st["paths"]))
    seed = r.get("seed_secs")
    print("seeding: %s; measurements: %.1f s" % (
        "%s s" % seed if seed not in (None, "") else "-", r["secs"]))
    for n in r["notes"]:
        print("note: " + n)
    bad = [c for c in r["checks"] if c.startswith("BAD")]
    print("checks: %s" % ("all ok" if not bad else "; ".join(bad)))
    print("errors: %d" % len(r["errors"]))
    for e in r["errors"][:20]:
        print("  " + e)
    return 1 if bad or r["errors"] else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("seed")
    c.add_argument("addr")
    c.add_argument("password")
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    r.add_argument("--addr", required=True)
    r.add_argument("--password", required=True)
    r.add_argument("--seed-secs", default=None)
    r.add_argument("--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("file")
    a = ap.parse_args()
    try:
        if a.cmd == "seed":
            return seed(a.addr, a.password)
        if a.cmd == "run":
            return run(a)
    except BenchError as e:
        print("hostile-headers: %s" % e, file=sys.stderr)
        return 1
    return table(a.file)


if __name__ == "__main__":
    sys.exit(main())
