//! The hostile corpus (`tests/fixtures/hostile/*.eml`, plus `messages/hostile-basic.eml`) through the
//! real pages. Every message goes into one account's INBOX; then the list, the message page (with and
//! without remote content), the body frame (with and without remote content), every attachment and the
//! raw download are fetched. Each HTML page goes through [`hostile_check`] as the browser would see it,
//! and through the corpus's own conventions (its `README.md`): `attacker.invalid` URLs only where their
//! path allows them, and the harmless `SAFE-<nnn>` text still shown. Headers are checked too: the
//! frame's CSP and sandbox, `nosniff` everywhere, and downloads that are `attachment`, sandboxed and
//! under a harmless name. All problems of all messages are collected and reported together.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use scraper::Selector;

use crate::support::hostile_check::{self, Context};
use crate::support::imap_probe::Probe;
use crate::support::{TestApp, new_account};

/// Once `tests/fixtures/hostile/` exists, it holds at least this many messages.
const MIN_CORPUS: usize = 60;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hostile_dir() -> PathBuf {
    root().join("tests/fixtures/hostile")
}

/// The `.eml` files of a directory, sorted; none if it does not exist.
fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
}

/// Whatever the corpus holds right now, and the hostile message of the general fixtures.
fn corpus() -> Vec<PathBuf> {
    let mut files = eml_files(&hostile_dir());
    files.push(root().join("tests/fixtures/messages/hostile-basic.eml"));
    files
}

fn display(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Problems found, by file and URL.
#[derive(Default)]
struct Report {
    problems: Vec<(String, String, String)>,
}

impl Report {
    fn add(&mut self, file: &str, url: &str, what: impl Into<String>) {
        self.problems
            .push((file.to_owned(), url.to_owned(), what.into()));
    }

    fn render(&self) -> String {
        let mut out = format!("{} problem(s):\n", self.problems.len());
        let mut last: (&str, &str) = ("", "");
        for (file, url, what) in &self.problems {
            if file != last.0 {
                out.push_str(&format!("\n{file}\n"));
                last = (file, "");
            }
            if url != last.1 {
                out.push_str(&format!("  GET {url}\n"));
                last.1 = url;
            }
            out.push_str(&format!("    {what}\n"));
        }
        out
    }
}

struct Fetched {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Fetched {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: header::HeaderName) -> String {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

async fn fetch(app: &TestApp, url: &str) -> Fetched {
    let r = app.get(url).await;
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.bytes().await.unwrap().to_vec();
    Fetched {
        status,
        headers,
        body,
    }
}

/// Status, `nosniff`, and the checker's findings for one HTML page.
fn check_page(report: &mut Report, file: &str, url: &str, page: &Fetched, ctx: Context) {
    if page.status != StatusCode::OK {
        report.add(file, url, format!("status {} instead of 200", page.status));
    }
    nosniff(report, file, url, page);
    for f in hostile_check::check(&page.text(), ctx) {
        report.add(file, url, f.to_string());
    }
}

fn nosniff(report: &mut Report, file: &str, url: &str, page: &Fetched) {
    let v = page.header(header::X_CONTENT_TYPE_OPTIONS);
    if !v.trim().eq_ignore_ascii_case("nosniff") {
        report.add(file, url, format!("X-Content-Type-Options is {v:?}"));
    }
}

/// The directives of a Content-Security-Policy (every policy of the response), names in lower case.
fn csp_directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split([';', ','])
        .filter_map(|d| {
            let mut words = d.split_ascii_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.map(str::to_owned).collect()))
        })
        .collect()
}

const SCRIPT_DIRECTIVES: &[&str] = &["script-src", "script-src-elem", "script-src-attr"];

/// The body frame's own policy: nothing by default, no script source at all, and a sandbox without
/// scripts or same origin if it has one. Returns whether it has a `sandbox` directive.
fn check_frame_csp(report: &mut Report, file: &str, url: &str, page: &Fetched) -> bool {
    let csp = page.header(header::CONTENT_SECURITY_POLICY);
    if !csp.contains("default-src 'none'") {
        report.add(
            file,
            url,
            format!("frame CSP lacks default-src 'none': {csp:?}"),
        );
    }
    let mut sandboxed = false;
    for (name, values) in csp_directives(&csp) {
        if SCRIPT_DIRECTIVES.contains(&name.as_str()) && values != ["'none'"] {
            report.add(
                file,
                url,
                format!("frame CSP allows scripts: {name} {}", values.join(" ")),
            );
        }
        if name == "sandbox" {
            sandboxed = true;
            for grant in ["allow-scripts", "allow-same-origin"] {
                if values.iter().any(|v| v.eq_ignore_ascii_case(grant)) {
                    report.add(file, url, format!("frame CSP sandbox grants {grant}"));
                }
            }
        }
    }
    sandboxed
}

/// An app page's policy: scripts only from Courrier itself.
fn check_app_csp(report: &mut Report, file: &str, url: &str, page: &Fetched) {
    let csp = page.header(header::CONTENT_SECURITY_POLICY);
    let directives = csp_directives(&csp);
    let scripts = directives
        .iter()
        .find(|(n, _)| n == "script-src")
        .or_else(|| directives.iter().find(|(n, _)| n == "default-src"));
    let Some((name, values)) = scripts else {
        report.add(
            file,
            url,
            format!("app CSP does not restrict scripts: {csp:?}"),
        );
        return;
    };
    for v in values {
        let v = v.to_ascii_lowercase();
        if matches!(
            v.as_str(),
            "'unsafe-inline'" | "'unsafe-eval'" | "*" | "data:" | "http:" | "https:" | "blob:"
        ) {
            report.add(file, url, format!("app CSP {name} allows {v}"));
        }
    }
}

/// The `filename` and `filename*` values of a Content-Disposition, decoded.
fn disposition_filenames(cd: &str) -> Vec<String> {
    let chars: Vec<char> = cd.chars().collect();
    let mut names = Vec::new();
    let mut i = chars.iter().position(|&c| c == ';').unwrap_or(chars.len());
    while i < chars.len() {
        i += 1; // the ';'
        let start = i;
        while i < chars.len() && chars[i] != '=' && chars[i] != ';' {
            i += 1;
        }
        let name: String = chars[start..i]
            .iter()
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if i >= chars.len() || chars[i] == ';' {
            continue;
        }
        i += 1; // the '='
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        let mut value = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                value.push(chars[i]);
                i += 1;
            }
            while i < chars.len() && chars[i] != ';' {
                i += 1;
            }
        } else {
            while i < chars.len() && chars[i] != ';' {
                value.push(chars[i]);
                i += 1;
            }
            value = value.trim().to_owned();
        }
        match name.as_str() {
            "filename" => names.push(value),
            "filename*" => {
                let encoded = value.splitn(3, '\'').nth(2).unwrap_or(&value);
                names.push(
                    percent_encoding::percent_decode_str(encoded)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
            }
            _ => {}
        }
    }
    names
}

/// A download: `attachment`, a harmless file name, `nosniff`, and never active content inline.
fn check_download(report: &mut Report, file: &str, url: &str, d: &Fetched) {
    if d.status != StatusCode::OK {
        report.add(file, url, format!("status {} instead of 200", d.status));
        return;
    }
    nosniff(report, file, url, d);
    let cd = d.header(header::CONTENT_DISPOSITION);
    let attachment = cd
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("attachment");
    if !attachment {
        report.add(file, url, format!("Content-Disposition is {cd:?}"));
    }
    let names = disposition_filenames(&cd);
    if names.is_empty() {
        report.add(file, url, format!("no filename in {cd:?}"));
    }
    let mut seen: Vec<String> = Vec::new();
    for name in names {
        if seen.contains(&name) {
            continue;
        }
        let mut bad: Vec<String> = name
            .chars()
            .filter(|&c| {
                c == '/'
                    || c == '\\'
                    || c.is_control()
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .map(|c| format!("{c:?}"))
            .collect();
        if name.contains("..") {
            bad.push("\"..\"".to_owned());
        }
        if !bad.is_empty() {
            report.add(
                file,
                url,
                format!(
                    "unsafe filename {name:?} (contains {}) in {cd:?}",
                    bad.join(", ")
                ),
            );
        }
        seen.push(name);
    }
    let csp = d.header(header::CONTENT_SECURITY_POLICY);
    let sandboxed = csp_directives(&csp).iter().any(|(n, _)| n == "sandbox");
    if !sandboxed || !csp.contains("default-src 'none'") {
        report.add(
            file,
            url,
            format!("download without a `default-src 'none'` and `sandbox` CSP: {csp:?}"),
        );
    }
    let ct = d.header(header::CONTENT_TYPE);
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let active = matches!(
        essence.as_str(),
        "text/html" | "application/xhtml+xml" | "image/svg+xml"
    );
    if active && (!attachment || !sandboxed) {
        report.add(
            file,
            url,
            format!("{essence} could render on Courrier's origin: {cd:?}, CSP {csp:?}"),
        );
    }
}

/// Same-origin links of a page whose `href` satisfies `wanted`, in order, without repeats.
fn links(html: &str, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let doc = hostile_check::parse(html, true);
    let sel = Selector::parse("a[href]").unwrap();
    let mut out: Vec<String> = Vec::new();
    for a in doc.select(&sel) {
        let href = a.value().attr("href").unwrap_or_default();
        if href.starts_with('/')
            && !href.starts_with("//")
            && wanted(href)
            && !out.iter().any(|h| h == href)
        {
            out.push(href.to_owned());
        }
    }
    out
}

/// Whether the page shows the body through an `<iframe>` carrying a `sandbox` attribute (the checker
/// verifies what it grants).
fn has_sandboxed_frame(html: &str) -> bool {
    let doc = hostile_check::parse(html, true);
    let sel = Selector::parse("iframe[sandbox]").unwrap();
    doc.select(&sel).next().is_some()
}

/// Attributes whose value is a URL (or CSS that may hold one), for the corpus's URL convention.
const URL_BEARING: &[&str] = &[
    "href",
    "src",
    "srcset",
    "action",
    "formaction",
    "background",
    "poster",
    "data",
    "ping",
    "cite",
    "style",
];

/// The corpus's convention for its hostile host (`README.md` of the corpus): a URL on
/// `attacker.invalid` (spelled in any way that contains `attacker`) may survive only as a link under
/// `/click/`, or as a plain `<img src>` under `/px/` once remote content was allowed.
fn corpus_url_problems(html: &str, frame: bool, remote: bool) -> Vec<String> {
    let doc = hostile_check::parse(html, !frame);
    let mut out = Vec::new();
    for node in doc.tree.root().descendants() {
        let Some(el) = scraper::ElementRef::wrap(node) else {
            continue;
        };
        let e = el.value();
        for (q, value) in &e.attrs {
            let name = q.local.to_ascii_lowercase();
            let lower = value.to_ascii_lowercase();
            if !URL_BEARING.contains(&name.as_str()) || !lower.contains("attacker") {
                continue;
            }
            let url = hostile_check::normalize_url(&lower);
            let at = url.find("attacker").unwrap_or(0);
            let path = url[at..].find('/').map_or("", |i| &url[at + i..]);
            let ok = match (e.name(), name.as_str()) {
                ("a" | "area", "href") => url.starts_with("mailto:") || path.starts_with("/click/"),
                ("img", "src") => remote && path.starts_with("/px/"),
                _ => false,
            };
            if !ok {
                out.push(format!(
                    "attacker.invalid URL outside the corpus path rules (remote {}): {name}={:?} on <{}>",
                    if remote { "allowed" } else { "blocked" },
                    value.chars().take(160).collect::<String>(),
                    e.name()
                ));
            }
        }
    }
    out
}

/// The text a reader sees in a page's `<body>`.
fn visible_text(html: &str, scripting: bool) -> String {
    let doc = hostile_check::parse(html, scripting);
    let sel = Selector::parse("body").unwrap();
    doc.select(&sel).flat_map(|b| b.text()).collect()
}

/// `SAFE-<nnn>` for a corpus file `<nnn>-....eml`.
fn safe_marker(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let nnn = name.get(..3)?;
    (nnn.bytes().all(|b| b.is_ascii_digit()) && path.starts_with(hostile_dir()))
        .then(|| format!("SAFE-{nnn}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_is_neutralised_on_every_page() {
    let files = corpus();
    let app = TestApp::start().await;
    let acct = new_account("hostile");
    let mut probe = Probe::connect(&acct).await;
    for f in &files {
        eprintln!("APPEND {}", display(f));
        let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", display(f)));
        probe.append("INBOX", "", &bytes).await;
    }
    let uids = probe.uids("INBOX").await;
    assert_eq!(uids.len(), files.len(), "every message appended");
    app.login(&acct).await;
    let mut report = Report::default();

    // Every page of the list, following the pager.
    let mut next = Some("/mail/INBOX".to_owned());
    let mut list_pages = 0;
    while let Some(url) = next.take() {
        list_pages += 1;
        let page = fetch(&app, &url).await;
        check_page(&mut report, "(list)", &url, &page, Context::app(false));
        check_app_csp(&mut report, "(list)", &url, &page);
        let html = page.text();
        for p in corpus_url_problems(&html, false, false) {
            report.add("(list)", &url, p);
        }
        let doc = hostile_check::parse(&html, true);
        let sel = Selector::parse("a[rel=next][href]").unwrap();
        next = doc
            .select(&sel)
            .next()
            .and_then(|a| a.value().attr("href"))
            .map(str::to_owned);
        assert!(list_pages < 100, "the pager never ends");
    }

    for (path, uid) in files.iter().zip(&uids) {
        let file = display(path);
        let mut sandboxed_by_page = false;
        let mut shown = String::new();
        for remote in [false, true] {
            let url = if remote {
                format!("/mail/INBOX/{uid}?remote=1")
            } else {
                format!("/mail/INBOX/{uid}")
            };
            let page = fetch(&app, &url).await;
            check_page(&mut report, &file, &url, &page, Context::app(remote));
            check_app_csp(&mut report, &file, &url, &page);
            let html = page.text();
            sandboxed_by_page |= has_sandboxed_frame(&html);
            for p in corpus_url_problems(&html, false, remote) {
                report.add(&file, &url, p);
            }
            if remote {
                continue;
            }
            shown.push_str(&visible_text(&html, true));
            // Downloads are independent: a few at a time (one message has thousands of parts).
            let downloads: Vec<String> =
                links(&html, |h| h.contains("/part/") || h.ends_with("/raw"));
            let fetched: Vec<(String, Fetched)> = futures::stream::iter(downloads)
                .map(|u| async {
                    let d = fetch(&app, &u).await;
                    (u, d)
                })
                .buffered(8)
                .collect()
                .await;
            for (u, d) in &fetched {
                check_download(&mut report, &file, u, d);
            }
        }
        for remote in [false, true] {
            let url = if remote {
                format!("/mail/INBOX/{uid}/body?remote=1")
            } else {
                format!("/mail/INBOX/{uid}/body")
            };
            let frame = fetch(&app, &url).await;
            check_page(&mut report, &file, &url, &frame, Context::frame(remote));
            let html = frame.text();
            for p in corpus_url_problems(&html, true, remote) {
                report.add(&file, &url, p);
            }
            if !remote {
                shown.push_str(&visible_text(&html, false));
            }
            let sandboxed_by_csp = check_frame_csp(&mut report, &file, &url, &frame);
            if !sandboxed_by_csp && !sandboxed_by_page {
                report.add(
                    &file,
                    &url,
                    "the body frame is sandboxed neither by its CSP nor by the iframe",
                );
            }
        }
        if let Some(safe) = safe_marker(path)
            && !shown.contains(&safe)
        {
            report.add(
                &file,
                &format!("/mail/INBOX/{uid}"),
                format!("{safe} is not shown: the message does not render"),
            );
        }
    }
    eprintln!(
        "{} messages, {} list page(s) checked",
        files.len(),
        list_pages
    );
    assert!(report.problems.is_empty(), "{}", report.render());
}

#[test]
fn hostile_corpus_has_at_least_60_messages() {
    let dir = hostile_dir();
    if !dir.is_dir() {
        eprintln!("{} does not exist yet", display(&dir));
        return;
    }
    let n = eml_files(&dir).len();
    assert!(
        n >= MIN_CORPUS,
        "{} holds {n} .eml files, fewer than {MIN_CORPUS}",
        display(&dir)
    );
}

#[test]
fn content_disposition_filenames_are_read_like_a_browser() {
    assert_eq!(
        disposition_filenames(
            "attachment; filename=\"a;b \\\"c\\\".pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%2Epdf"
        ),
        ["a;b \"c\".pdf", "résumé.pdf"]
    );
    assert_eq!(
        disposition_filenames("attachment; filename=x.txt"),
        ["x.txt"]
    );
    assert!(disposition_filenames("inline").is_empty());
}
