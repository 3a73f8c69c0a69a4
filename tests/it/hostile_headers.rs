//! Issue "Every header a person reads is hostile": the header fixtures of the hostile corpus
//! (`tests/fixtures/hostile/133-*` to `169-*`, described with what a reader must see in
//! `tests/fixtures/hostile/headers.json`) through every page that shows a sender, a subject or an
//! attachment name.
//!
//! All fixtures go into one fresh account, one at a time while the page's live event stream is open,
//! so each arrival's `mail` event is read too. Then the list (every page, in English and French), the
//! conversation view, both searches, each message page (both languages), its attachment downloads and
//! the reply and reply-all forms are fetched, each within 10 seconds. On every page, outside the
//! message body, no raw control character (other than markup white space) and no direction control
//! or zero-width space may remain; the sender's real address must be in the tooltip and in the
//! address shown, and the marker (`.addr-flag` in rows, `.addr-warning` on the message page) must be
//! there exactly for deceptive and invalid mailboxes. Problems of all fixtures are collected and
//! reported together.
//!
//! Folder names come from the server and are as hostile as headers: a second test creates folders
//! whose names hold a C1 control, a right-to-left override, a zero-width space and DEL, and checks
//! that they are shown cleaned and stay reachable. Dovecot refuses C0 controls (TAB included) in
//! CREATE ("Control characters not allowed in new mailbox names") and NUL is not valid modified
//! UTF-7, so those cannot be tested against a real server.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use scraper::{ElementRef, Html, Selector};
use serde::Deserialize;

use crate::support::hostile_check;
use crate::support::imap_probe::{Probe, simple_message};
use crate::support::{TestApp, new_account};

/// Longest name, address or subject a list row shows (the page's `LIST_TEXT`).
pub(crate) const LIST_TEXT: usize = 80;
/// Longest name or address the message page shows before "Show in full".
pub(crate) const PAGE_TEXT: usize = 300;
/// Each request gets this long; a page that takes longer is a hang, not a slow page.
const PAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// One fixture's expectations, as `headers.json` (written by `gen-headers.py`) states them.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Expect {
    pub file: String,
    pub sender: Sender,
    /// The sender is deceptive or invalid: rows carry `.addr-flag`, the page an `.addr-warning`.
    pub flag: bool,
    /// `.addr-warning` count per header of the message page (`from`, `sender`, `to`, `cc`,
    /// `reply-to`); absent means none.
    pub warnings: HashMap<String, usize>,
    pub visible: Vec<String>,
    pub hidden: Vec<String>,
    pub attachments: Vec<String>,
    pub reply: Reply,
    pub reply_all: Reply,
    pub long: Vec<String>,
}

/// The first From mailbox as it must be shown.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Sender {
    /// The addr-spec as on the wire (punycode for a homograph domain), or an invalid mailbox's text.
    pub address: String,
    /// The display name, decoded and cleaned; `None` when there is none.
    pub name: Option<String>,
    pub valid: bool,
    pub deceptive: bool,
}

impl Sender {
    /// The address as a page shows it at `max` characters: a valid one is cut in its local part,
    /// its `@domain` always whole; an invalid one is cut at its end.
    pub(crate) fn shown(&self, max: usize) -> String {
        match self.address.rsplit_once('@') {
            Some((local, domain)) if self.valid => format!("{}@{domain}", cut(local, max)),
            _ => cut(&self.address, max),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Reply {
    pub to_has: Vec<String>,
    pub cc_has: Vec<String>,
    pub lacks: Vec<String>,
}

impl Expect {
    /// `HOSTILE-<nnn>`.
    pub fn tag(&self) -> String {
        format!("HOSTILE-{}", &self.file[..3])
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(hostile_dir().join(&self.file))
            .unwrap_or_else(|e| panic!("{}: {e}", self.file))
    }

    /// The real domain shown beside a deceptive name.
    pub fn domain(&self) -> &str {
        self.sender.address.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

pub(crate) fn hostile_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile")
}

/// The expectations of every header fixture, in file order.
pub(crate) fn expectations() -> Vec<Expect> {
    let path = hostile_dir().join("headers.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Fr,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }
}

/// At most `max` characters, with "…" when cut (as the pages cut).
pub(crate) fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The warning a suspicious mailbox carries, in `lang`; `max` is the page's length for the address,
/// `author`: the mailbox is From, Sender or Reply-To.
pub(crate) fn warning(lang: Lang, sender: &Sender, max: usize, author: bool) -> String {
    match (lang, sender.valid, author) {
        (Lang::En, false, true) => "Invalid sender address, shown as it was sent".into(),
        (Lang::En, false, false) => "Invalid address, shown as it was sent".into(),
        (Lang::Fr, false, true) => {
            "Adresse d'expéditeur invalide, affichée telle qu'envoyée".into()
        }
        (Lang::Fr, false, false) => "Adresse invalide, affichée telle qu'envoyée".into(),
        (Lang::En, true, _) => {
            format!("Careful: the real address is {}", sender.shown(max))
        }
        (Lang::Fr, true, _) => format!("Attention : l'adresse réelle est {}", sender.shown(max)),
    }
}

/// A character that must never reach a page from a header or a folder name: C0 and C1 controls
/// (TAB, LF and CR are markup white space), DEL, direction controls, zero-width space, BOM.
pub(crate) fn unsafe_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200B}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{FEFF}'
        )
}

/// Each unsafe character of `s`, with a little context, for a report.
fn unsafe_in(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter(|(_, c)| unsafe_char(**c))
        .map(|(i, c)| {
            let from = i.saturating_sub(30);
            let to = (i + 30).min(chars.len());
            let context: String = chars[from..to].iter().collect();
            format!("U+{:04X} in {context:?}", *c as u32)
        })
        .collect()
}

/// Unsafe characters anywhere in a parsed page (text, comments, attribute names and values),
/// outside the message body shown as text (`.body-text`): what the message says there is the
/// sanitiser's business, out of this test's scope.
fn unsafe_outside_body(doc: &Html) -> Vec<String> {
    let body: HashSet<_> = doc
        .select(&sel(".body-text"))
        .flat_map(|b| b.descendants().skip(1).map(|n| n.id()))
        .collect();
    let mut out = Vec::new();
    for node in doc.tree.root().descendants() {
        if body.contains(&node.id()) {
            continue;
        }
        match node.value() {
            scraper::Node::Text(t) => out.extend(unsafe_in(t)),
            scraper::Node::Comment(c) => out.extend(unsafe_in(c)),
            scraper::Node::Element(e) => {
                for (name, value) in e.attrs() {
                    out.extend(unsafe_in(name));
                    out.extend(unsafe_in(value));
                }
            }
            _ => {}
        }
    }
    out.truncate(10);
    out
}

/// What a reader can read in an element: its text and the tooltips and labels of its elements.
fn readable(root: ElementRef<'_>) -> String {
    let mut out = String::new();
    for node in root.descendants() {
        match node.value() {
            scraper::Node::Text(t) => out.push_str(t),
            scraper::Node::Element(e) => {
                for attr in ["title", "aria-label", "value", "alt", "placeholder"] {
                    if let Some(v) = e.attr(attr) {
                        out.push('\n');
                        out.push_str(v);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// What a reader can read on a page outside the message body (the tab title included).
fn readable_outside_body(doc: &Html) -> String {
    let body: Vec<String> = doc.select(&sel(".body-text")).map(readable).collect();
    let mut all = readable(doc.root_element());
    for b in body {
        all = all.replacen(&b, "", 1);
    }
    all
}

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap()
}

fn text_of(e: ElementRef<'_>) -> String {
    e.text().collect()
}

/// Problems found, by fixture and URL.
#[derive(Default)]
pub(crate) struct Report {
    problems: Vec<String>,
}

impl Report {
    pub fn add(&mut self, what: &str, url: &str, problem: impl Into<String>) {
        self.problems
            .push(format!("{what} — GET {url}: {}", problem.into()));
    }

    pub fn assert_empty(&self) {
        assert!(
            self.problems.is_empty(),
            "{} problem(s):\n{}",
            self.problems.len(),
            self.problems.join("\n")
        );
    }
}

struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// A GET in `lang` that must answer 200 within [`PAGE_TIMEOUT`]; `None` (and a problem) otherwise.
async fn get(app: &TestApp, report: &mut Report, what: &str, url: &str, lang: Lang) -> Option<Got> {
    let fetch = async {
        let r = app.get_lang(url, lang.code()).await;
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap_or_default();
        Got {
            status,
            headers,
            body,
        }
    };
    let started = Instant::now();
    match tokio::time::timeout(PAGE_TIMEOUT, fetch).await {
        Err(_) => {
            report.add(what, url, format!("no answer within {PAGE_TIMEOUT:?}"));
            None
        }
        Ok(got) if got.status != StatusCode::OK => {
            report.add(what, url, format!("status {}", got.status));
            None
        }
        Ok(got) => {
            let took = started.elapsed();
            if took > Duration::from_secs(1) {
                eprintln!("slow: GET {url} took {took:?}");
            }
            Some(got)
        }
    }
}

/// A page fetched and parsed, after the checks every page gets (no unsafe character outside the
/// body, no hidden text of the fixtures it shows).
async fn page(
    app: &TestApp,
    report: &mut Report,
    what: &str,
    url: &str,
    lang: Lang,
    shown: &[&Expect],
) -> Option<Html> {
    let got = get(app, report, what, url, lang).await?;
    let doc = hostile_check::parse(&got.body, true);
    for u in unsafe_outside_body(&doc) {
        report.add(what, url, format!("unsafe character outside the body: {u}"));
    }
    let readable = readable_outside_body(&doc);
    for e in shown {
        for h in &e.hidden {
            if readable.contains(h.as_str()) {
                report.add(&e.file, url, format!("{h:?} is readable on the page"));
            }
        }
    }
    Some(doc)
}

/// The UID a message link points to, when it is one of INBOX's.
fn inbox_uid(href: &str) -> Option<u32> {
    href.strip_prefix("/mail/INBOX/")?.parse().ok()
}

/// Every message row of a list page (list, conversation or search), by the UID its subject links to.
fn rows(doc: &Html) -> Vec<(u32, ElementRef<'_>)> {
    let link = sel("td.subject a[href]");
    doc.select(&sel("tr"))
        .filter_map(|tr| {
            let href = tr.select(&link).next()?.value().attr("href")?;
            Some((inbox_uid(href)?, tr))
        })
        .collect()
}

/// A list row's sender: the real address in the tooltip, the real domain beside a deceptive name,
/// the marker exactly when the sender is deceptive or invalid, in the page's language.
fn check_row(report: &mut Report, e: &Expect, url: &str, row: ElementRef<'_>, lang: Lang) {
    let file = e.file.as_str();
    let Some(addr) = row.select(&sel("td.from .addr")).next() else {
        report.add(file, url, "the row has no `.addr` sender");
        return;
    };
    let title = addr.value().attr("title").unwrap_or_default();
    if title != e.sender.address && title != e.sender.shown(LIST_TEXT) {
        report.add(
            file,
            url,
            format!(
                "row tooltip {title:?} is not the real address {:?}",
                e.sender.address
            ),
        );
    }
    let flags: Vec<ElementRef<'_>> = addr.select(&sel(".addr-flag")).collect();
    let suspicious = addr.value().classes().any(|c| c == "suspicious");
    let flagged = !flags.is_empty();
    if e.flag != flagged || e.flag != suspicious {
        report.add(
            file,
            url,
            format!(
                "row marker: expected {}, found {} `.addr-flag` (class suspicious: {suspicious}) in {:?}",
                e.flag,
                flags.len(),
                text_of(addr)
            ),
        );
    }
    if let Some(flag) = flags.first() {
        let want = warning(lang, &e.sender, LIST_TEXT, true);
        for attr in ["aria-label", "title"] {
            let got = flag.value().attr(attr).unwrap_or_default();
            if got != want {
                report.add(
                    file,
                    url,
                    format!("row marker {attr} is {got:?}, not {want:?}"),
                );
            }
        }
        if flag.value().attr("role") != Some("img") {
            report.add(file, url, "row marker without role=img");
        }
    }
    let domain = addr.select(&sel(".real-domain")).next().map(text_of);
    if e.sender.deceptive {
        let want = format!("({})", e.domain());
        if domain.as_deref() != Some(want.as_str()) {
            report.add(
                file,
                url,
                format!("row shows real domain {domain:?}, not {want:?}"),
            );
        }
    } else if let Some(d) = domain {
        report.add(
            file,
            url,
            format!("row shows a real domain {d:?} for a sender that is not deceptive"),
        );
    }
    let text = readable(row);
    for h in &e.hidden {
        if text.contains(h.as_str()) {
            report.add(file, url, format!("{h:?} is readable in the row"));
        }
    }
    // Whatever the row shows of the sender is isolated from the text around it.
    if addr.select(&sel("bdi")).next().is_none() {
        report.add(file, url, "the row's sender is not in a <bdi>");
    }
    if row.select(&sel("td.subject a bdi")).next().is_none() {
        report.add(file, url, "the row's subject is not in a <bdi>");
    }
    let subject = row
        .select(&sel("td.subject a"))
        .next()
        .map(text_of)
        .unwrap_or_default();
    if subject.chars().count() > 2 * LIST_TEXT + 1 {
        report.add(
            file,
            url,
            format!(
                "row subject is {} characters, over {}",
                subject.chars().count(),
                2 * LIST_TEXT
            ),
        );
    }
    // The row shows the name, or the address when there is none, cut to the row's length (the
    // local part of an address is what is cut; its domain is in a part of its own).
    let label: String = addr
        .select(&sel("bdi.label, bdi.tail"))
        .map(text_of)
        .collect();
    let want = match &e.sender.name {
        Some(n) => cut(n, LIST_TEXT),
        None => e.sender.shown(LIST_TEXT),
    };
    if label != want {
        report.add(
            file,
            url,
            format!("row sender reads {label:?}, not {want:?}"),
        );
    }
}

/// Every page of a list, following its pager; checks each row of a fixture and that each fixture
/// has exactly one row.
async fn check_list(
    app: &TestApp,
    report: &mut Report,
    start: &str,
    lang: Lang,
    by_uid: &HashMap<u32, &Expect>,
) {
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let mut next = Some(start.to_owned());
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        assert!(pages < 50, "{start}: the pager never ends");
        // Several fixtures share the page: what each must not show is looked for in its own row.
        let Some(doc) = page(app, report, "(list)", &url, lang, &[]).await else {
            break;
        };
        for (uid, row) in rows(&doc) {
            if let Some(e) = by_uid.get(&uid) {
                *seen.entry(uid).or_default() += 1;
                check_row(report, e, &url, row, lang);
            }
        }
        next = doc
            .select(&sel("a[rel=next][href]"))
            .next()
            .and_then(|a| a.value().attr("href"))
            .map(str::to_owned);
    }
    for (uid, e) in by_uid {
        let n = seen.get(uid).copied().unwrap_or(0);
        if n != 1 {
            report.add(
                &e.file,
                start,
                format!("{n} row(s) for the message instead of 1"),
            );
        }
    }
}

/// The message page: subject, headers, warnings, long-field expanders, attachments.
async fn check_message(app: &TestApp, report: &mut Report, e: &Expect, uid: u32, lang: Lang) {
    let file = e.file.as_str();
    let url = format!("/mail/INBOX/{uid}");
    let Some(doc) = page(app, report, file, &url, lang, &[e]).await else {
        return;
    };
    let region: String = [
        "h1.subject",
        "#full-subject",
        "dl.headers",
        "section.attachments",
    ]
    .iter()
    .flat_map(|css| doc.select(&sel(css)).map(text_of).collect::<Vec<_>>())
    .collect::<Vec<_>>()
    .join("\n");
    for v in &e.visible {
        if !region.contains(v.as_str()) {
            report.add(file, &url, format!("{v:?} is not shown in the headers"));
        }
    }
    if !region.contains(&e.tag()) {
        report.add(file, &url, format!("{} is not in the subject", e.tag()));
    }

    // The sender, its real address, and the warning exactly when it is deceptive or invalid.
    let from = doc.select(&sel("dd.from .addr")).next();
    match from {
        None => report.add(file, &url, "no `dd.from .addr`"),
        Some(a) => {
            let want = e.sender.shown(PAGE_TEXT);
            let title = a.value().attr("title").unwrap_or_default();
            if title != want {
                report.add(
                    file,
                    &url,
                    format!("From tooltip {title:?} is not the real address {want:?}"),
                );
            }
            let (css, what) = if e.sender.valid {
                (".email bdi", "address")
            } else {
                ("bdi.wire", "text as sent")
            };
            let shown = a.select(&sel(css)).next().map(text_of);
            if shown.as_deref() != Some(want.as_str()) {
                report.add(
                    file,
                    &url,
                    format!("From shows {shown:?} as the {what}, not {want:?}"),
                );
            }
            if e.sender.valid {
                let name = a.select(&sel("bdi.name")).next().map(text_of);
                let want = e.sender.name.as_deref().map(|n| cut(n, PAGE_TEXT));
                if name != want {
                    report.add(
                        file,
                        &url,
                        format!("From name reads {name:?}, not {want:?}"),
                    );
                }
            }
            let warned: Vec<String> = a.select(&sel(".addr-warning")).map(text_of).collect();
            if e.flag {
                let want = format!("⚠ {}", warning(lang, &e.sender, PAGE_TEXT, true));
                if warned != [want.clone()] {
                    report.add(
                        file,
                        &url,
                        format!("From warning is {warned:?}, not [{want:?}]"),
                    );
                }
            }
        }
    }
    for header in ["from", "sender", "to", "cc", "reply-to"] {
        let want = e.warnings.get(header).copied().unwrap_or(0);
        let got = doc
            .select(&sel(&format!("dd.{header} .addr-warning")))
            .count();
        if got != want {
            report.add(
                file,
                &url,
                format!("{got} warning(s) in the {header} header instead of {want}"),
            );
        }
        // Every mailbox shown carries its real address in its tooltip.
        for a in doc.select(&sel(&format!("dd.{header} .addr"))) {
            if a.value().attr("title").is_none_or(str::is_empty) {
                report.add(
                    file,
                    &url,
                    format!("a mailbox of {header} without its address in a tooltip"),
                );
                break;
            }
        }
    }

    // Overlong fields: cut, and the rest one click away.
    let h1 = doc
        .select(&sel("h1.subject"))
        .next()
        .map(text_of)
        .unwrap_or_default();
    if h1.chars().count() > PAGE_TEXT + 1 {
        report.add(
            file,
            &url,
            format!("the heading holds {} characters", h1.chars().count()),
        );
    }
    let title = doc
        .select(&sel("title"))
        .next()
        .map(text_of)
        .unwrap_or_default();
    if title.chars().count() > 100 + 1 + " · Courrier".chars().count() {
        report.add(
            file,
            &url,
            format!("the tab title holds {} characters", title.chars().count()),
        );
    }
    if e.long.iter().any(|l| l == "subject") {
        match doc.select(&sel("details.full-value#full-subject")).next() {
            Some(d) if text_of(d).contains(&e.tag()) => {}
            other => report.add(
                file,
                &url,
                format!(
                    "no `details#full-subject` holding the whole subject ({} found)",
                    other.is_some()
                ),
            ),
        }
        if !h1.ends_with('…') {
            report.add(file, &url, "the long subject's heading is not cut");
        }
    }
    if e.long.iter().any(|l| l == "name")
        && doc
            .select(&sel("dd.from details.full-value"))
            .next()
            .is_none()
    {
        report.add(file, &url, "no `details.full-value` for the long name");
    }
    if e.long.iter().any(|l| l == "recipients") {
        for header in ["to", "cc"] {
            let summary = doc
                .select(&sel(&format!(
                    "dd.{header} details.more-addresses > summary"
                )))
                .next()
                .map(text_of);
            let want = match lang {
                Lang::En => "and 4980 more",
                Lang::Fr => "et 4980 de plus",
            };
            if summary.as_deref() != Some(want) {
                report.add(
                    file,
                    &url,
                    format!("{header}: the expander says {summary:?}, not {want:?}"),
                );
            }
            let shown = doc.select(&sel(&format!("dd.{header} > .addr"))).count();
            if shown != 20 {
                report.add(
                    file,
                    &url,
                    format!("{header}: {shown} recipients shown before the expander, not 20"),
                );
            }
        }
    }

    // Attachments: the shown name, and the download under the same name and real extension.
    if lang != Lang::En {
        return;
    }
    let links: Vec<(String, String)> = doc
        .select(&sel("section.attachments a[href]"))
        .map(|a| (a.value().attr("href").unwrap().to_owned(), text_of(a)))
        .collect();
    let names: Vec<&str> = links.iter().map(|(_, n)| n.as_str()).collect();
    if names != e.attachments {
        report.add(
            file,
            &url,
            format!("attachments shown as {names:?}, not {:?}", e.attachments),
        );
    }
    for ((href, _), want) in links.iter().zip(&e.attachments) {
        let Some(got) = get(app, report, file, href, lang).await else {
            continue;
        };
        let cd = got
            .headers
            .get(header::CONTENT_DISPOSITION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let name = filename_star(&cd);
        let extension = want.rsplit_once('.').map_or("", |(_, x)| x);
        match name {
            Some(n) if n == *want && n.ends_with(&format!(".{extension}")) => {}
            other => report.add(
                file,
                href,
                format!("downloaded as {other:?} ({cd:?}), not {want:?}"),
            ),
        }
        if cd.chars().any(unsafe_char) {
            report.add(file, href, format!("unsafe character in {cd:?}"));
        }
    }
}

/// The `filename*` of a Content-Disposition (RFC 8187), decoded.
fn filename_star(cd: &str) -> Option<String> {
    let at = cd.to_ascii_lowercase().find("filename*=")?;
    let value = cd[at + "filename*=".len()..].split(';').next()?.trim();
    let encoded = value.splitn(3, '\'').nth(2)?;
    Some(
        percent_encoding::percent_decode_str(encoded)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The reply and reply-all forms: To and Cc from the real addr-specs only, on one line each.
async fn check_replies(app: &TestApp, report: &mut Report, e: &Expect, uid: u32) {
    for (mode, want) in [("reply", &e.reply), ("reply-all", &e.reply_all)] {
        let url = format!("/compose?mode={mode}&folder=INBOX&uid={uid}");
        let Some(doc) = page(app, report, &e.file, &url, Lang::En, &[]).await else {
            continue;
        };
        let field = |name: &str| {
            doc.select(&sel(&format!("input[name={name}]")))
                .next()
                .and_then(|i| i.value().attr("value"))
                .unwrap_or_default()
                .to_owned()
        };
        let (to, cc) = (field("to"), field("cc"));
        for (name, value) in [("To", &to), ("Cc", &cc)] {
            if value.contains(['\r', '\n', '\0']) || value.chars().any(unsafe_char) {
                report.add(
                    &e.file,
                    &url,
                    format!(
                        "{name} holds a control or direction character: {:?}",
                        cut(value, 200)
                    ),
                );
            }
        }
        for has in &want.to_has {
            if !to.contains(has.as_str()) {
                report.add(
                    &e.file,
                    &url,
                    format!("To lacks {has:?}: {:?}", cut(&to, 200)),
                );
            }
        }
        for has in &want.cc_has {
            if !cc.contains(has.as_str()) {
                report.add(
                    &e.file,
                    &url,
                    format!("Cc lacks {has:?}: {:?}", cut(&cc, 200)),
                );
            }
        }
        for lack in &want.lacks {
            if to.contains(lack.as_str()) || cc.contains(lack.as_str()) {
                report.add(
                    &e.file,
                    &url,
                    format!(
                        "To/Cc hold {lack:?}: {:?} / {:?}",
                        cut(&to, 200),
                        cut(&cc, 200)
                    ),
                );
            }
        }
    }
}

/// An open `/events` stream, read as bytes so that a chunk boundary never splits a character.
pub(crate) struct EventStream {
    stream: Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: Vec<u8>,
}

impl EventStream {
    pub async fn open(app: &TestApp, folder_key: &str) -> EventStream {
        let r = app
            .client
            .get(format!("{}/events?folder={folder_key}", app.base))
            .header("accept-language", "en")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "GET /events?folder={folder_key}"
        );
        EventStream {
            stream: Box::pin(r.bytes_stream()),
            buf: Vec::new(),
        }
    }

    /// The next `mail` event whose data satisfies `pred`, as its raw data line and parsed; an error
    /// when none comes within `within`.
    pub async fn next_mail(
        &mut self,
        within: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<(String, serde_json::Value), String> {
        let deadline = Instant::now() + within;
        loop {
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                let block = String::from_utf8_lossy(&block).into_owned();
                if !block.lines().any(|l| l == "event: mail") {
                    continue;
                }
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|l| l.strip_prefix(' ').unwrap_or(l))
                    .collect::<Vec<_>>()
                    .join("\n");
                let v: serde_json::Value = serde_json::from_str(&data)
                    .map_err(|err| format!("event data is not JSON ({err}): {data:?}"))?;
                if pred(&v) {
                    return Ok((data, v));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.extend_from_slice(&chunk),
                Ok(other) => return Err(format!("the event stream ended: {other:?}")),
                Err(_) => return Err(format!("no matching event within {within:?}")),
            }
        }
    }
}

/// Every string inside a JSON value.
fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            json_strings(x, out);
        }),
        _ => {}
    }
}

/// The `mail` event announcing one fixture: the sender's name, or for a suspicious one the name, a
/// warning sign and the real address; nothing unsafe anywhere in it.
fn check_event(report: &mut Report, e: &Expect, uid: u32, raw: &str, v: &serde_json::Value) {
    let url = "/events?folder=INBOX";
    let mut strings = Vec::new();
    json_strings(v, &mut strings);
    for s in strings.iter().chain(std::iter::once(&raw.to_owned())) {
        for u in unsafe_in(s) {
            report.add(&e.file, url, format!("unsafe character in the event: {u}"));
        }
    }
    let arrived = v["arrived"].as_array().cloned().unwrap_or_default();
    let want_url = format!("/mail/INBOX/{uid}");
    let Some(m) = arrived.iter().find(|m| m["url"] == want_url.as_str()) else {
        report.add(&e.file, url, format!("no arrival for {want_url} in {v}"));
        return;
    };
    let from = m["from"].as_str().unwrap_or_default();
    let subject = m["subject"].as_str().unwrap_or_default();
    if e.flag {
        let real = e.sender.shown(LIST_TEXT);
        if !from.contains(" ⚠ ") || !from.ends_with(&real) {
            report.add(
                &e.file,
                url,
                format!(
                    "event sender {from:?} does not end with \" ⚠ \" and the real address {real:?}"
                ),
            );
        }
    } else if from.contains('⚠') {
        report.add(
            &e.file,
            url,
            format!("event sender {from:?} carries a warning"),
        );
    }
    for h in &e.hidden {
        if from.contains(h.as_str()) || subject.contains(h.as_str()) {
            report.add(
                &e.file,
                url,
                format!("{h:?} in the event: {from:?} / {subject:?}"),
            );
        }
    }
    if subject.chars().count() > 2 * LIST_TEXT + 1 {
        report.add(
            &e.file,
            url,
            format!("event subject of {} characters", subject.chars().count()),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_headers_are_shown_for_what_they_are() {
    let fixtures = expectations();
    let app = TestApp::start().await;
    let acct = new_account("hostile-headers");
    let mut probe = Probe::connect(&acct).await;
    app.login(&acct).await;
    let mut report = Report::default();

    // Each fixture arrives while a page listens: its `mail` event names it as the list would.
    let mut events = EventStream::open(&app, "INBOX").await;
    events
        .next_mail(Duration::from_secs(10), |_| true)
        .await
        .expect("the watcher's first event");
    let mut by_uid: HashMap<u32, &Expect> = HashMap::new();
    let mut uids: Vec<(u32, &Expect)> = Vec::new();
    for (i, e) in fixtures.iter().enumerate() {
        probe.append("INBOX", "", &e.bytes()).await;
        let all = probe.uids("INBOX").await;
        assert_eq!(all.len(), i + 1, "{} appended", e.file);
        let uid = *all.last().unwrap();
        by_uid.insert(uid, e);
        uids.push((uid, e));
        let want = format!("/mail/INBOX/{uid}");
        let got = events
            .next_mail(Duration::from_secs(10), |v| {
                v["arrived"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|m| m["url"] == want.as_str()))
            })
            .await;
        match got {
            Ok((raw, v)) => check_event(&mut report, e, uid, &raw, &v),
            Err(why) => report.add(&e.file, "/events?folder=INBOX", why),
        }
    }
    drop(events);

    for lang in [Lang::En, Lang::Fr] {
        check_list(&app, &mut report, "/mail/INBOX", lang, &by_uid).await;
    }
    check_list(
        &app,
        &mut report,
        "/mail/INBOX?view=threads",
        Lang::En,
        &by_uid,
    )
    .await;

    for &(uid, e) in &uids {
        for lang in [Lang::En, Lang::Fr] {
            check_message(&app, &mut report, e, uid, lang).await;
        }
        check_replies(&app, &mut report, e, uid).await;
        let one: HashMap<u32, &Expect> = HashMap::from([(uid, e)]);
        let tag = e.tag();
        check_list(
            &app,
            &mut report,
            &format!("/search?q={tag}"),
            Lang::En,
            &one,
        )
        .await;
        check_list(
            &app,
            &mut report,
            &format!("/mail/INBOX?q={tag}"),
            Lang::En,
            &one,
        )
        .await;
    }
    eprintln!("{} header fixtures checked", fixtures.len());
    report.assert_empty();
}

/// Folder names as the server holds them, and what the pages must show for each.
const HOSTILE_FOLDERS: &[(&str, &str)] = &[
    ("Factures\u{85}2025", "Factures\u{FFFD}2025"),
    ("Invoices\u{202E}fdp-exe", "Invoicesfdp-exe"),
    ("Pay\u{200B}pal", "Paypal"),
    ("Old\u{7F}Mail", "Old\u{FFFD}Mail"),
];

#[tokio::test]
async fn folder_names_from_the_server_are_shown_cleaned_and_stay_reachable() {
    let app = TestApp::start().await;
    let acct = new_account("hostile-folders");
    let mut probe = Probe::connect(&acct).await;
    for (name, _) in HOSTILE_FOLDERS {
        probe.create(name).await;
        probe
            .append(
                name,
                "",
                &simple_message(
                    "a@example.test",
                    &format!("Filed in {}", name.escape_unicode()),
                    "x",
                ),
            )
            .await;
    }
    app.login(&acct).await;
    let mut report = Report::default();
    let Some(inbox) = page(&app, &mut report, "(sidebar)", "/mail/INBOX", Lang::En, &[]).await
    else {
        report.assert_empty();
        return;
    };
    let Some(folders) = page(&app, &mut report, "(folders)", "/folders", Lang::En, &[]).await
    else {
        report.assert_empty();
        return;
    };
    for (raw, shown) in HOSTILE_FOLDERS {
        let what = format!("folder {:?}", raw.escape_unicode().to_string());
        let link = |doc: &Html, css: &str| {
            doc.select(&sel(css))
                .find(|a| text_of(*a).trim() == *shown)
                .and_then(|a| a.value().attr("href").map(str::to_owned))
        };
        let in_sidebar = link(&inbox, ".sidebar li a[href]");
        let in_folders = link(&folders, "table.folders td.name a[href]");
        let Some(href) = in_sidebar.clone() else {
            report.add(
                &what,
                "/mail/INBOX",
                format!("the sidebar does not show {shown:?}"),
            );
            continue;
        };
        if in_folders.as_deref() != Some(href.as_str()) {
            report.add(
                &what,
                "/folders",
                format!("the folders page links {in_folders:?}, the sidebar {href:?}"),
            );
        }
        if !href.is_ascii() {
            report.add(
                &what,
                "/mail/INBOX",
                format!("link {href:?} is not percent-encoded"),
            );
        }
        // The folder opens, lists its message, and the message opens.
        let Some(list) = page(&app, &mut report, &what, &href, Lang::En, &[]).await else {
            continue;
        };
        let h1 = list
            .select(&sel("main h1"))
            .next()
            .map(text_of)
            .unwrap_or_default();
        if !h1.contains(shown) {
            report.add(
                &what,
                &href,
                format!("the heading {h1:?} does not show {shown:?}"),
            );
        }
        let msg = list
            .select(&sel("td.subject a[href]"))
            .next()
            .and_then(|a| a.value().attr("href"))
            .map(str::to_owned);
        match msg {
            Some(m) => {
                if let Some(doc) = page(&app, &mut report, &what, &m, Lang::En, &[]).await {
                    let back = doc
                        .select(&sel("p.back a"))
                        .next()
                        .map(text_of)
                        .unwrap_or_default();
                    if !back.contains(shown) {
                        report.add(
                            &what,
                            &m,
                            format!("the way back {back:?} does not show {shown:?}"),
                        );
                    }
                }
            }
            None => report.add(&what, &href, "the folder's message is not listed"),
        }
    }

    // A page open on such a folder gets its live events, in which the folder is its URL segment.
    let key = inbox
        .select(&sel(".sidebar li a[href]"))
        .find(|a| text_of(*a).trim() == "Invoicesfdp-exe")
        .and_then(|a| a.value().attr("href"))
        .and_then(|h| h.strip_prefix("/mail/"))
        .map(str::to_owned);
    if let Some(key) = key {
        let mut events = EventStream::open(&app, &key).await;
        let url = format!("/events?folder={key}");
        if let Err(why) = events.next_mail(Duration::from_secs(10), |_| true).await {
            report.add("(events)", &url, why);
        }
        probe
            .append(
                "Invoices\u{202E}fdp-exe",
                "",
                &simple_message("b@example.test", "Another one", "x"),
            )
            .await;
        let prefix = format!("/mail/{key}/");
        match events
            .next_mail(Duration::from_secs(10), |v| {
                v["arrived"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|m| m["url"].as_str().is_some_and(|u| u.starts_with(&prefix)))
                })
            })
            .await
        {
            Ok((raw, v)) => {
                let mut strings = vec![raw];
                json_strings(&v, &mut strings);
                for u in strings.iter().flat_map(|s| unsafe_in(s)) {
                    report.add("(events)", &url, format!("unsafe character: {u}"));
                }
                if v["folder"] != key.as_str() {
                    report.add(
                        "(events)",
                        &url,
                        format!("folder is {}, not {key:?}", v["folder"]),
                    );
                }
            }
            Err(why) => report.add("(events)", &url, why),
        }
    }
    report.assert_empty();
}

#[test]
fn header_fixtures_are_all_described() {
    let described: Vec<String> = expectations().into_iter().map(|e| e.file).collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(hostile_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.ends_with(".eml") && n.get(..3).and_then(|d| d.parse::<u32>().ok()) >= Some(133)
        })
        .collect();
    on_disk.sort();
    assert_eq!(
        described, on_disk,
        "headers.json describes every fixture from 133 on"
    );
    assert!(described.len() >= 28, "{} header fixtures", described.len());
    for name in &described {
        assert!(name.contains("-header-"), "{name}: class header");
        let raw = std::fs::read(hostile_dir().join(name)).unwrap();
        let text = String::from_utf8(raw.clone()).expect("UTF-8");
        let tag = format!("HOSTILE-{}", &name[..3]);
        assert!(
            text.lines()
                .any(|l| l.starts_with("Subject:") && l.trim_end().ends_with(&tag))
                || text.contains(&format!(" {tag}\r\n")),
            "{name}: Subject ends with {tag}"
        );
        assert!(
            text.contains(&format!("SAFE-{}", &name[..3])),
            "{name}: SAFE marker"
        );
        assert!(
            raw.windows(2)
                .filter(|w| w[1] == b'\n')
                .all(|w| w[0] == b'\r'),
            "{name}: CRLF line endings"
        );
        assert!(
            raw.iter()
                .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\r' | b'\n'))
                && !raw.contains(&0x7F),
            "{name}: no raw control byte"
        );
        // Raw UTF-8 only where RFC 6532 is the point (README.md).
        assert!(
            raw.is_ascii() || name.ends_with("-utf8.eml"),
            "{name}: 7-bit ASCII"
        );
    }
}
