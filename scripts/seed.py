#!/usr/bin/env python3
"""Append N realistic messages to an IMAP folder, fast.

    seed.py --host 127.0.0.1 --port 10143 --user A --password P --count N
            [--folder F] [--seed S] [--now EPOCH] [--tls] [--cafile FILE]
            [--batch K]

One connection; APPEND commands are pipelined with non-synchronising
literals (LITERAL+) and each carries K messages (MULTIAPPEND) when the server
offers it. The folder is created if missing. Output is deterministic for a
given --seed and --now (default: the current time; dates are spread over the
two years before it).

The mail is varied on purpose: French and English text with accents,
encoded-word display names (UTF-8 B and ISO-8859-1 Q), text/plain,
multipart/alternative, attachments with RFC 2231 file names, inline images
(multipart/related with cid:), threads (In-Reply-To/References, "Re:"),
Latin-1 bodies, newsletters with List-* headers, a few large messages, and
\\Seen/\\Flagged/\\Answered flags.
"""

import argparse
import base64
import datetime as dt
import hashlib
import random
import socket
import ssl
import struct
import sys
import time
import zlib
from email import charset as email_charset
from email.generator import BytesGenerator
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime
from io import BytesIO



class WirePolicy(type(compat32)):
    """compat32 with CRLF, and a fast path for the common case of an ASCII
    header value: fold at spaces at 78 columns instead of going through
    email.header (several times faster on large seeds)."""

    def fold_binary(self, name, value):
        if isinstance(value, str) and value.isascii() and "\n" not in value and "\r" not in value:
            line = "%s: %s" % (name, value)
            if len(line) <= 78:
                return (line + "\r\n").encode("ascii")
            out, current = [], ""
            for word in line.split(" "):
                if current and len(current) + 1 + len(word) > 78:
                    out.append(current)
                    current = " " + word
                else:
                    current = current + " " + word if current else word
            out.append(current)
            return ("\r\n".join(out) + "\r\n").encode("ascii")
        return super().fold_binary(name, value)


WIRE_POLICY = WirePolicy(linesep="\r\n")

UTF8_QP = email_charset.Charset("utf-8")
UTF8_QP.body_encoding = email_charset.QP
UTF8_B64 = email_charset.Charset("utf-8")
UTF8_B64.body_encoding = email_charset.BASE64
UTF8_8BIT = email_charset.Charset("utf-8")
UTF8_8BIT.body_encoding = None
LATIN1_QP = email_charset.Charset("iso-8859-1")
LATIN1_QP.body_encoding = email_charset.QP

# (display name, address, language)
PEOPLE = [
    ("Élodie Marchand", "elodie.marchand@example.org", "fr"),
    ("François Lefèvre", "francois.lefevre@autre.test", "fr"),
    ("Hélène Dubois", "helene.dubois@example.org", "fr"),
    ("Benoît Girard", "benoit@autre.test", "fr"),
    ("Chloé Rousseau", "chloe.rousseau@exemple.fr.test", "fr"),
    ("Jérôme Faure", "jerome.faure@example.org", "fr"),
    ("Anaïs Lemaître", "anais@autre.test", "fr"),
    ("Gaëlle Brûlé", "gaelle.brule@exemple.fr.test", "fr"),
    ("Noël Crépin", "noel.crepin@example.org", "fr"),
    ("Maëlys Côté", "maelys.cote@quebec.test", "fr"),
    ("Zoë Whitfield", "zoe@whitfield.test", "en"),
    ("James O'Connor", "james.oconnor@example.org", "en"),
    ("Priya Raman", "priya.raman@company.test", "en"),
    ("Jürgen Groß", "juergen.gross@beispiel.test", "en"),
    ("Søren Kierkegård", "soren@nordisk.test", "en"),
    ("Emily Carter", "emily.carter@company.test", "en"),
    ("Miguel Ángel Núñez", "miguel.nunez@ejemplo.test", "en"),
    ("Renée Zellweger-Smith", "renee@films.test", "en"),
    ("Li Wei", "li.wei@company.test", "en"),
    ("Tom Baker", "tom@example.org", "en"),
]

NEWSLETTERS = [
    ("La Gazette du Vélo", "newsletter@gazette-velo.test", "fr", "gazette-velo.test"),
    ("Rust Weekly", "digest@rustweekly.test", "en", "rustweekly.test"),
    ("Librairie Écritures", "infos@ecritures.test", "fr", "ecritures.test"),
    ("Open Source Digest", "news@osdigest.test", "en", "osdigest.test"),
]

SERVICES = [
    ("SNCF Connect", "noreply@voyages.test", "fr"),
    ("Banque Populaire du Sud", "alertes@banque.test", "fr"),
    ("GitForge", "notifications@gitforge.test", "en"),
    ("CloudHost Billing", "billing@cloudhost.test", "en"),
    ("Impôts", "ne-pas-repondre@impots.test", "fr"),
]

SUBJECTS = {
    "fr": [
        "Réunion d'équipe — ordre du jour",
        "Compte rendu de la réunion du {day}",
        "Café demain matin ?",
        "Invitation : pot de départ d'Hélène",
        "Relance : facture n° {num}",
        "Vos photos de l'été à Saint-Malo",
        "Déjeuner vendredi à la brasserie ?",
        "Problème d'accès au serveur de préproduction",
        "Proposition de planning pour le trimestre",
        "Les clés de l'appartement",
        "Rappel : entretien annuel le {day}",
        "Question sur le devis n° {num}",
        "Anniversaire surprise de Noël 🎉",
        "Résumé des décisions prises",
        "Nouvelle version de la maquette",
        "Congés d'été : qui part quand ?",
        "À propos du déménagement",
        "Ça avance, le rapport ?",
        "Vœux de bonne année",
        "Votre avis sur l'ébauche du contrat",
    ],
    "en": [
        "Quarterly report draft",
        "Lunch on Friday?",
        "Meeting notes from {day}",
        "Re-org announcement",
        "Quick question about invoice #{num}",
        "Your trip to Zürich — itinerary",
        "Code review for the parser changes",
        "Weekend plans",
        "Deadline moved to {day}",
        "Feedback on the naïve implementation",
        "Photos from the offsite",
        "Can you cover my shift?",
        "Budget approval needed",
        "Welcome aboard, Zoë!",
        "Production incident post-mortem",
        "Happy birthday! 🎂",
        "Reading list for the café club",
        "Contract renewal",
        "Server migration schedule",
        "Thanks for yesterday",
    ],
}

PARAGRAPHS = {
    "fr": [
        "Je te propose qu'on se retrouve à la cafétéria vers 10 h pour en discuter.",
        "Voici le résumé de ce qui a été décidé : on garde l'échéance du mois prochain, "
        "mais on réduit le périmètre fonctionnel.",
        "Peux-tu vérifier les chiffres du tableau ? Il me semble qu'il y a une erreur "
        "dans la colonne « reste à payer ».",
        "Merci beaucoup pour ton aide, c'était très précieux. Je t'en dois une !",
        "L'équipe a bien avancé cette semaine : la migration est terminée à 80 %, "
        "il reste les tests de non-régression.",
        "Je serai absent du 12 au 23 août ; Benoît prendra le relais pendant mes congés.",
        "Ci-joint le document dont nous avons parlé. N'hésite pas à me faire part de "
        "tes remarques, même sur la forme.",
        "Le train part de la gare Montparnasse à 8 h 47, voiture 14, places 61 et 62.",
        "Où en est-on du devis ? Le client s'impatiente un peu et voudrait une réponse "
        "avant la fin de la semaine.",
        "Après réflexion, je préfère la deuxième option : elle est plus coûteuse, "
        "mais bien plus simple à maintenir.",
        "Rendez-vous au 3e étage, salle « Éole ». Pensez à apporter vos ordinateurs.",
        "Bonne nouvelle : le budget a été validé par la direction financière.",
        "Je reviens vers toi dès que j'ai des nouvelles du fournisseur.",
        "Garçon, l'addition ! disait-il toujours en riant, même chez lui.",
    ],
    "en": [
        "Could we meet around 10am to go over the numbers? I have a few questions.",
        "Here is a quick summary of what we agreed on: we keep the deadline but cut "
        "the scope of the first release.",
        "Please double-check the figures in the spreadsheet; column F looks off by one month.",
        "Thanks a lot for your help yesterday, it made a real difference.",
        "The team made good progress this week: the migration is 80% done and only "
        "the regression tests are left.",
        "I'll be out of office from August 12 to 23; Tom will cover for me.",
        "Attached is the document we discussed. Any feedback is welcome, even on wording.",
        "The flight leaves at 8:47 from terminal 2E. Don't forget your passport!",
        "Any news on the quote? The client would like an answer before Friday.",
        "On second thought, I prefer option two: more expensive, but much easier to maintain.",
        "We'll be in the Zephyr room on the third floor. Bring your laptops.",
        "Good news: finance approved the budget this morning.",
        "I'll get back to you as soon as I hear from the supplier.",
        "The café downstairs now serves crème brûlée, which is dangerous for my diet.",
    ],
}

GREETINGS = {
    "fr": ["Bonjour {first},", "Salut {first} !", "Chère {first},", "Bonsoir,", "Coucou {first},"],
    "en": ["Hi {first},", "Hello {first},", "Dear {first},", "Hey {first}!", "Good morning,"],
}
CLOSINGS = {
    "fr": ["Bien à toi,", "Cordialement,", "Bonne journée,", "À bientôt,", "Amitiés,"],
    "en": ["Best,", "Cheers,", "Kind regards,", "Thanks,", "See you soon,"],
}

ATTACHMENT_NAMES = [
    "Relevé de compte — mars.pdf",
    "Facture n°2024-118.pdf",
    "Compte-rendu réunion.pdf",
    "Présentation équipe.pdf",
    "quarterly-report.pdf",
    "photo été.png",
    "schéma d'architecture.png",
    "screenshot.png",
    "Contrat signé.pdf",
    "Ordre du jour.pdf",
]

TIMEZONES = [
    dt.timezone(dt.timedelta(hours=1)),
    dt.timezone(dt.timedelta(hours=2)),
    dt.timezone.utc,
    dt.timezone(dt.timedelta(hours=-5)),
    dt.timezone(dt.timedelta(hours=-8)),
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
]

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


# ----------------------------------------------------------------- helpers

def encoded_word(text, rng):
    """An RFC 2047 encoded word, UTF-8 B or ISO-8859-1 Q when Latin-1 fits."""
    if text.isascii():
        return text if rng.random() < 0.5 else '"%s"' % text.replace('"', "")
    try:
        latin = text.encode("iso-8859-1")
    except UnicodeEncodeError:
        latin = None
    if latin is not None and rng.random() < 0.4:
        q = []
        for byte in latin:
            c = chr(byte)
            if c == " ":
                q.append("_")
            elif c.isalnum() and byte < 128:
                q.append(c)
            else:
                q.append("=%02X" % byte)
        return "=?ISO-8859-1?Q?%s?=" % "".join(q)
    return "=?UTF-8?B?%s?=" % base64.b64encode(text.encode("utf-8")).decode("ascii")


def mailbox(name, addr, rng):
    if rng.random() < 0.08:
        return addr
    return "%s <%s>" % (encoded_word(name, rng), addr)


def subject_header(text, rng):
    if text.isascii():
        return text
    r = rng.random()
    if r < 0.15:
        try:
            return Header(text, "iso-8859-1").encode()
        except UnicodeEncodeError:
            pass
    return Header(text, "utf-8").encode()


def png_bytes(rng, width, height, noise=False):
    """A valid PNG: a gradient, or random noise (hardly compressible)."""
    if noise:
        raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    else:
        r0, g0, b0 = rng.randrange(256), rng.randrange(256), rng.randrange(256)
        rows = []
        for y in range(height):
            row = bytearray(b"\x00")
            for x in range(width):
                row += bytes(((r0 + x * 4) % 256, (g0 + y * 4) % 256, (b0 + x + y) % 256))
            rows.append(bytes(row))
        raw = b"".join(rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6))
            + chunk(b"IEND", b""))


def pdf_bytes(rng, title, padding=0):
    """A small, well-formed PDF with one page of text (optionally padded)."""
    text = title.encode("latin-1", "replace").replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 18 Tf 72 720 Td (" + text + b") Tj ET\n"
    if padding:
        stream += b"% " + base64.b64encode(rng.randbytes(padding)) + b"\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def html_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def imap_date(when):
    off = int(when.utcoffset().total_seconds() // 60)
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return '"%02d-%s-%04d %02d:%02d:%02d %s%02d%02d"' % (
        when.day, MONTHS[when.month - 1], when.year, when.hour, when.minute, when.second,
        sign, off // 60, off % 60)


def imap_quote(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def mutf7(name):
    """Modified UTF-7 (RFC 3501) for mailbox names."""
    out, buf = [], []

    def flush():
        if buf:
            data = "".join(buf).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-")
            buf.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


# ----------------------------------------------------------------- messages

class Generator:
    def __init__(self, user, folder, seed, now, count):
        self.rng = random.Random("%s|%s" % (seed, folder))
        self.user = user
        self.user_name = self._name_for(user)
        self.folder = folder
        kind = folder.lower().rsplit("/", 1)[-1]
        self.outgoing = kind in ("sent", "sent items", "sent messages", "envoyés", "drafts", "brouillons")
        self.drafts = kind in ("drafts", "brouillons")
        self.domain = user.split("@", 1)[-1] if "@" in user else "example.test"
        self.token = hashlib.sha1(("%s|%s|%s" % (seed, folder, user)).encode()).hexdigest()[:8]
        self.count = count
        span = 2 * 365 * 86400
        offsets = sorted(self.rng.random() ** 0.7 for _ in range(count))
        # Denser towards the present: more recent mail than old mail.
        self.times = [now - span * (1 - o) for o in offsets]
        self.threads = []
        self.index = 0
        self.small_pngs = [png_bytes(self.rng, self.rng.randint(16, 96), self.rng.randint(16, 64))
                           for _ in range(24)]

    @staticmethod
    def _name_for(addr):
        local = addr.split("@", 1)[0]
        parts = [p for p in local.replace("_", ".").replace("-", ".").split(".") if p]
        return " ".join(p.capitalize() for p in parts) or addr

    def message_id(self):
        return "<%s.%d.%s@%s>" % (self.token, self.index, "%08x" % self.rng.getrandbits(32), self.domain)

    def paragraphs(self, lang, n):
        return [self.rng.choice(PARAGRAPHS[lang]) for _ in range(n)]

    def text_body(self, lang, first_name, sender_first):
        rng = self.rng
        lines = [rng.choice(GREETINGS[lang]).format(first=first_name), ""]
        for p in self.paragraphs(lang, rng.randint(1, 5)):
            lines += [p, ""]
        lines += [rng.choice(CLOSINGS[lang]), sender_first]
        if rng.random() < 0.3:
            lines += ["", "-- ", sender_first, "Tél. : +33 6 12 34 56 78" if lang == "fr" else "Phone: +1 555 0100"]
        return "\n".join(lines) + "\n"

    def html_of(self, text, extra=""):
        paras = "".join("<p>%s</p>\n" % html_escape(p).replace("\n", "<br>")
                        for p in text.strip().split("\n\n"))
        return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
                "<style>body{font-family:Arial,sans-serif;font-size:14px}</style></head>\n"
                "<body>\n%s%s</body></html>\n" % (paras, extra))

    def text_part(self, text, subtype="plain", latin1=False):
        rng = self.rng
        if latin1:
            try:
                return MIMEText(text, subtype, LATIN1_QP)
            except UnicodeEncodeError:
                pass
        cs = rng.choice((UTF8_QP, UTF8_QP, UTF8_B64, UTF8_8BIT))
        return MIMEText(text, subtype, cs)

    def attachment(self, name, large=False):
        rng = self.rng
        if name.endswith(".png"):
            if large:
                data = png_bytes(rng, rng.randint(180, 260), rng.randint(150, 250), noise=True)
            else:
                data = rng.choice(self.small_pngs)
            part = MIMEImage(data, "png")
        else:
            padding = rng.randint(60_000, 150_000) if large else rng.randint(0, 6_000)
            part = MIMEApplication(pdf_bytes(rng, name, padding), "pdf")
        value = name if name.isascii() else ("utf-8", "", name)  # RFC 2231 when needed
        part.add_header("Content-Disposition", "attachment", filename=value)
        if rng.random() < 0.5:
            # Many mailers also set a name parameter on Content-Type.
            part.set_param("name", value)
        return part

    def next_message(self):
        rng = self.rng
        i = self.index
        when_ts = self.times[i]
        tz = rng.choice(TIMEZONES)
        when = dt.datetime.fromtimestamp(int(when_ts), tz)

        reply_to = None
        if self.threads and rng.random() < 0.25:
            reply_to = rng.choice(self.threads[-40:])
        kind = rng.random()

        if reply_to is not None:
            lang, subject_base, refs, person = reply_to["lang"], reply_to["subject"], reply_to["refs"], reply_to["person"]
            subject = ("Re: " if lang == "en" or rng.random() < 0.7 else "RE: ") + subject_base
            sender = person
        elif kind < 0.12:
            nl = rng.choice(NEWSLETTERS)
            sender = (nl[0], nl[1], nl[2])
            lang = nl[2]
            subject = ("Votre lettre d'information du {day}" if lang == "fr"
                       else "Your weekly digest — {day}")
            refs = []
        elif kind < 0.20:
            svc = rng.choice(SERVICES)
            sender = svc
            lang = svc[2]
            subject = rng.choice(["Votre facture est disponible", "Confirmation de votre réservation",
                                  "Alerte : nouveau virement reçu", "Votre avis d'imposition"]
                                 if lang == "fr" else
                                 ["Your invoice is ready", "[gitforge] Pull request #{num} merged",
                                  "Security alert: new sign-in", "Payment received"])
            refs = []
        else:
            sender = rng.choice(PEOPLE)
            lang = sender[2]
            subject = rng.choice(SUBJECTS[lang])
            refs = []
        subject = subject.format(day=when.strftime("%d/%m" if lang == "fr" else "%b %d"),
                                 num=rng.randint(100, 9999))

        me = (self.user_name, self.user)
        if self.outgoing:
            other = rng.choice(PEOPLE)
            from_, to = me, (other[0], other[1])
            sender_first, recipient_first = self.user_name.split(" ")[0], other[0].split(" ")[0]
        else:
            from_, to = (sender[0], sender[1]), me
            sender_first, recipient_first = sender[0].split(" ")[0], self.user_name.split(" ")[0]

        latin1 = lang == "fr" and rng.random() < 0.07
        text = self.text_body(lang, recipient_first, sender_first)
        if reply_to is not None:
            quoted = "\n".join("> " + line for line in reply_to["text"].splitlines()[:12])
            intro = ("Le %s, %s a écrit :" if lang == "fr" else "On %s, %s wrote:") % (
                reply_to["date"].strftime("%d/%m/%Y %H:%M"), self.user_name)
            text = text + "\n" + intro + "\n" + quoted + "\n"

        large = rng.random() < 0.006
        r = rng.random()
        if large:
            body = MIMEMultipart("mixed")
            body.attach(self.text_part(text, latin1=latin1))
            body.attach(self.attachment(rng.choice(ATTACHMENT_NAMES), large=True))
        elif kind < 0.12 and reply_to is None:
            # Newsletter: HTML with remote images, tracking pixel, list headers.
            extra = ('<table width="100%%"><tr><td><img src="https://%s/banner.png" alt="banner"></td></tr></table>\n'
                     '<p><a href="https://%s/article/%d">%s</a></p>\n'
                     '<img src="https://%s/open.gif?u=%s" width="1" height="1">\n'
                     % (sender[1].split("@")[1], sender[1].split("@")[1], rng.randint(1, 999),
                        "Lire la suite" if lang == "fr" else "Read more",
                        sender[1].split("@")[1], self.token))
            body = MIMEMultipart("alternative")
            body.attach(self.text_part(text))
            body.attach(self.text_part(self.html_of(text, extra), "html"))
        elif r < 0.45:
            body = self.text_part(text, latin1=latin1)
        elif r < 0.72:
            body = MIMEMultipart("alternative")
            body.attach(self.text_part(text, latin1=latin1))
            body.attach(self.text_part(self.html_of(text), "html"))
        elif r < 0.92:
            body = MIMEMultipart("mixed")
            if rng.random() < 0.5:
                alt = MIMEMultipart("alternative")
                alt.attach(self.text_part(text, latin1=latin1))
                alt.attach(self.text_part(self.html_of(text), "html"))
                body.attach(alt)
            else:
                body.attach(self.text_part(text, latin1=latin1))
            for name in rng.sample(ATTACHMENT_NAMES, rng.choice((1, 1, 1, 2, 3))):
                body.attach(self.attachment(name))
        else:
            cid = "img%d.%s@%s" % (i, self.token, self.domain)
            html = self.html_of(text, '<p><img src="cid:%s" alt="logo"></p>\n' % cid)
            related = MIMEMultipart("related")
            related.attach(self.text_part(html, "html"))
            img = MIMEImage(rng.choice(self.small_pngs), "png")
            img.add_header("Content-ID", "<%s>" % cid)
            img.add_header("Content-Disposition", "inline", filename="logo.png")
            related.attach(img)
            body = MIMEMultipart("alternative")
            body.attach(self.text_part(text, latin1=latin1))
            body.attach(related)

        msg = body
        msg["From"] = mailbox(from_[0], from_[1], rng)
        msg["To"] = mailbox(to[0], to[1], rng)
        if rng.random() < 0.15:
            cc = rng.sample(PEOPLE, rng.randint(1, 3))
            msg["Cc"] = ", ".join(mailbox(p[0], p[1], rng) for p in cc)
        msg["Subject"] = subject_header(subject, rng)
        msg["Date"] = format_datetime(when)
        mid = self.message_id()
        msg["Message-ID"] = mid
        if reply_to is not None:
            msg["In-Reply-To"] = reply_to["mid"]
            msg["References"] = " ".join(refs + [reply_to["mid"]])
        if kind < 0.12 and reply_to is None:
            host = sender[1].split("@")[1]
            msg["List-Id"] = "%s <news.%s>" % (encoded_word(sender[0], rng), host)
            msg["List-Unsubscribe"] = "<https://%s/unsubscribe?u=%s>, <mailto:unsubscribe@%s>" % (host, self.token, host)
            msg["Precedence"] = "bulk"
        msg["X-Mailer"] = rng.choice(["Thunderbird 115.6", "Apple Mail (2.3731)", "Courrier seed",
                                      "Microsoft Outlook 16.0", "Roundcube Webmail/1.6.5"])
        # Move the body headers after the envelope headers, as mailers do.
        for h in ("MIME-Version", "Content-Type", "Content-Transfer-Encoding"):
            vals = msg.get_all(h)
            if vals:
                del msg[h]
                msg[h] = vals[0]

        if reply_to is None and not self.outgoing and sender in PEOPLE and rng.random() < 0.5:
            self.threads.append({"mid": mid, "refs": [], "subject": subject, "lang": lang,
                                 "person": sender, "text": text, "date": when})
        elif reply_to is not None:
            reply_to["refs"] = (refs + [reply_to["mid"]])[-10:]
            reply_to["mid"] = mid
            reply_to["text"] = text
            reply_to["date"] = when
        if len(self.threads) > 200:
            del self.threads[:100]

        flags = []
        age_days = (self.times[-1] - when_ts) / 86400
        if self.outgoing or rng.random() < (0.93 if age_days > 3 else 0.4):
            flags.append("\\Seen")
        if self.drafts:
            flags.append("\\Draft")
        if rng.random() < 0.06:
            flags.append("\\Flagged")
        if not self.outgoing and rng.random() < 0.12:
            flags.append("\\Answered")

        for part in msg.walk():
            if part is not msg:
                del part["MIME-Version"]
            if part.is_multipart():
                part.set_boundary("=_%s_%016x" % (self.token, rng.getrandbits(64)))
        out = BytesIO()
        BytesGenerator(out, policy=WIRE_POLICY, mangle_from_=False).flatten(msg)
        data = out.getvalue()
        # Bare LF must not reach the server: normalise every line ending.
        if b"\n" in data.replace(b"\r\n", b""):
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.index += 1
        return flags, when, data


# ----------------------------------------------------------------- IMAP

class Imap:
    def __init__(self, host, port, use_tls, cafile, timeout=60):
        sock = socket.create_connection((host, port), timeout=timeout)
        if use_tls:
            ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
            if not cafile:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.file = sock.makefile("rb")
        self.tag = 0
        greeting = self.readline()
        if not greeting.startswith(b"* OK"):
            raise SystemExit("seed: unexpected greeting: %r" % greeting)

    def readline(self):
        line = self.file.readline()
        if not line:
            raise SystemExit("seed: connection closed by the server")
        return line

    def next_tag(self):
        self.tag += 1
        return "S%d" % self.tag

    def command(self, text):
        """Run one command; return (status line, untagged lines)."""
        tag = self.next_tag()
        self.sock.sendall(("%s %s\r\n" % (tag, text)).encode("utf-8"))
        untagged = []
        while True:
            line = self.readline()
            if line.startswith(tag.encode() + b" "):
                return line.decode("utf-8", "replace").strip(), untagged
            untagged.append(line.decode("utf-8", "replace").strip())

    def ok(self, text):
        status, untagged = self.command(text)
        if status.split(" ")[1] != "OK":
            raise SystemExit("seed: %s -> %s" % (text.split(" ")[0], status))
        return status, untagged


def login(imap, user, password):
    def astring(s):
        if all(0x20 < ord(c) < 0x7F for c in s):
            return imap_quote(s)
        data = s.encode("utf-8")
        return "{%d+}\r\n%s" % (len(data), s)

    status, untagged = imap.command("LOGIN %s %s" % (astring(user), astring(password)))
    if status.split(" ")[1] != "OK":
        raise SystemExit("seed: login failed for %s: %s" % (user, status))
    caps = " ".join(untagged) + " " + status
    if "CAPABILITY" not in caps:
        _, untagged = imap.ok("CAPABILITY")
        caps = " ".join(untagged)
    return set(caps.upper().replace("]", " ").split())


def append_all(imap, mailbox_name, generator, count, batch, window):
    """APPEND with LITERAL+, up to `window` commands in flight, each carrying
    `batch` messages: the next command is built while the server stores the
    previous ones. Replies are tiny and nothing is selected, so reading them
    only when the window is full cannot dead-lock."""
    done = failed = size = produced = 0
    first_error = None
    in_flight = []  # (tag, number of messages)
    mbox = imap_quote(mutf7(mailbox_name)).encode("ascii")

    def collect():
        nonlocal done, failed, first_error
        tag, n = in_flight.pop(0)
        while True:
            line = imap.readline()
            if line.startswith(tag + b" "):
                break
        if line.split(b" ", 2)[1] == b"OK":
            done += n
        else:
            failed += n
            first_error = first_error or line.decode("utf-8", "replace").strip()

    try:
        while produced < count:
            n = min(batch, count - produced)
            tag = imap.next_tag().encode()
            chunks = [tag, b" APPEND ", mbox]
            for _ in range(n):
                flags, when, data = generator.next_message()
                size += len(data)
                chunks += [b" (", " ".join(flags).encode(), b") ", imap_date(when).encode(),
                           b" {%d+}\r\n" % len(data), data]
            chunks.append(b"\r\n")
            if len(in_flight) >= window:
                collect()
            imap.sock.sendall(b"".join(chunks))
            in_flight.append((tag, n))
            produced += n
        while in_flight:
            collect()
    except OSError as exc:
        raise SystemExit("seed: connection lost after %d messages: %s" % (done, exc))
    return done, failed, first_error, size


def append_one_by_one(imap, mailbox_name, generator, count):
    """Fallback for servers without LITERAL+: synchronising literals."""
    done = failed = size = 0
    first_error = None
    mbox = imap_quote(mutf7(mailbox_name)).encode("ascii")
    for _ in range(count):
        flags, when, data = generator.next_message()
        size += len(data)
        tag = imap.next_tag().encode()
        imap.sock.sendall(tag + b" APPEND " + mbox + b" (" + " ".join(flags).encode() + b") "
                          + imap_date(when).encode() + b" {%d}\r\n" % len(data))
        line = imap.readline()
        if not line.startswith(b"+"):
            raise SystemExit("seed: APPEND refused: %r" % line)
        imap.sock.sendall(data + b"\r\n")
        while True:
            line = imap.readline()
            if line.startswith(tag + b" "):
                break
        if line.split(b" ")[1] == b"OK":
            done += 1
        else:
            failed += 1
            first_error = first_error or line.decode("utf-8", "replace").strip()
    return done, failed, first_error, size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=10143)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--folder", default="INBOX")
    ap.add_argument("--seed", default="1", help="random seed (default 1)")
    ap.add_argument("--now", type=float, default=None,
                    help="reference time as a Unix epoch (default: now)")
    ap.add_argument("--tls", action="store_true", help="implicit TLS (e.g. port 10993)")
    ap.add_argument("--cafile", default=None, help="CA file for --tls (default: no verification)")
    ap.add_argument("--batch", type=int, default=50,
                    help="messages per APPEND command when MULTIAPPEND is offered (default 50)")
    args = ap.parse_args()
    if args.count < 0:
        ap.error("--count must be >= 0")

    start = time.monotonic()
    now = args.now if args.now is not None else time.time()
    imap = Imap(args.host, args.port, args.tls, args.cafile)
    caps = login(imap, args.user, args.password)
    if args.folder.upper() != "INBOX":
        status, _ = imap.command("CREATE %s" % imap_quote(mutf7(args.folder)))
        if " OK" in status:
            imap.command("SUBSCRIBE %s" % imap_quote(mutf7(args.folder)))
    generator = Generator(args.user, args.folder, args.seed, now, args.count)
    if args.count == 0:
        done, failed, first_error, size = 0, 0, None, 0
    elif "LITERAL+" in caps:
        if "MULTIAPPEND" in caps:
            batch, window = max(1, args.batch), 4
        else:
            batch, window = 1, 64
        done, failed, first_error, size = append_all(imap, args.folder, generator, args.count,
                                                     batch, window)
    else:
        done, failed, first_error, size = append_one_by_one(imap, args.folder, generator, args.count)
    try:
        imap.command("LOGOUT")
    except (OSError, SystemExit):
        pass
    elapsed = time.monotonic() - start
    rate = done / elapsed if elapsed > 0 else 0.0
    print("appended %d messages (%.1f MB) to %s for %s in %.2f s (%.0f msg/s)"
          % (done, size / 1e6, args.folder, args.user, elapsed, rate))
    if failed:
        print("seed: %d messages refused: %s" % (failed, first_error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
