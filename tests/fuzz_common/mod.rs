//! What each fuzz target does with one input, and the properties it checks: shared by the fuzz
//! targets in `fuzz/fuzz_targets/` (which include this file with `#[path]`) and by
//! `tests/fuzz_regressions.rs`, which replays every input kept in `tests/fixtures/fuzz/<target>/`.
//!
//! Why a file included twice rather than a library: the fuzz crate is outside the workspace and
//! the main crate's tests cannot depend on it, and a `fuzzing` module inside `courrier` behind a
//! cargo feature would put test-only code and a feature into the product for the sake of the tests.
//! It lives in a directory (`fuzz_common/mod.rs`) because cargo would build a `tests/*.rs` file as a
//! test binary of its own. It may only use what both sides have: `courrier`, `tokio`, `lettre`,
//! `rustls`, `scraper` and the standard library.
//!
//! A property that fails panics with a message saying which promise was broken; libFuzzer reports
//! the panic as a crash and keeps the input.

use std::cell::RefCell;
use std::collections::HashSet;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use courrier::mail::Section;
use courrier::mail::account::Credentials;
use courrier::mail::address::{self, Addr};
use courrier::mail::compose;
use courrier::mail::display;
use courrier::mail::imap::codec;
use courrier::mail::parse::{self, Body};
use courrier::mail::pop3::client::{self as pop3, MAX_MULTILINE};
use courrier::mail::sanitize::{self, HtmlPolicy, SafeCss, SafeHtml};
use lettre::message::Mailbox;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

// ---------------------------------------------------------------------------------------------
// render_message: a message as it arrives from a server, through everything the message page does.
// ---------------------------------------------------------------------------------------------

/// The label put before the real host of a deceptive link. The real one comes from the translations;
/// this one carries markup and quotes to check that it is escaped like any text.
const LINK_WARNING: &str = "goes to <script>alert(1)</script> \" onmouseover=\"x";

/// Raw message bytes → parse → each HTML part sanitised (with and without remote content) or shown as
/// text, the plain-text body escaped; also the parsers used for replies, lists, threads and
/// attachments.
pub fn render_message(raw: &[u8]) {
    let view = parse::parse_message(raw);
    let inline_images: std::collections::HashMap<String, String> = view
        .inline_images
        .iter()
        .filter_map(|(cid, img)| {
            sanitize::inline_image_uri(&img.content_type, &img.bytes).map(|u| (cid.clone(), u))
        })
        .collect();
    match &view.body {
        Body::Html(parts) => {
            for allow_remote in [false, true] {
                let mut pieces = Vec::new();
                for part in parts {
                    let html = if sanitize::renderable(part) {
                        let policy = HtmlPolicy {
                            allow_remote,
                            inline_images: inline_images.clone(),
                            link_warning: LINK_WARNING.to_owned(),
                        };
                        let clean = sanitize::sanitize_html(part, policy);
                        check_safe_css(&clean.css);
                        clean.html
                    } else {
                        sanitize::fallback_text(part, view.text_alternative.as_deref())
                    };
                    pieces.push(html);
                }
                // The parts as the frame shows them, one after the other (checking the whole also
                // covers markup that would only become dangerous next to another part).
                check_safe_html(&SafeHtml::joined(pieces), allow_remote, "sanitised parts");
            }
            let text = sanitize::fallback_text(&parts.join("\n"), view.text_alternative.as_deref());
            check_safe_html(&text, false, "fallback_text");
        }
        Body::Text(t) => check_safe_html(&sanitize::text_to_html(t), false, "text_to_html"),
        Body::Empty => {}
    }

    // Every attachment listed can be downloaded: the section in its link parses back, and for a local
    // (POP) account the download is `part_of` on the stored message (each call parses the whole
    // message again, hence only the first few).
    for (i, a) in view.attachments.iter().enumerate() {
        let shown = a.section.to_string();
        assert_eq!(
            Section::parse(&shown).as_ref(),
            Some(&a.section),
            "section {shown} does not parse back"
        );
        assert!(
            i >= 3 || parse::part_of(raw, &a.section).is_some(),
            "attachment {:?} (section {shown}) is listed but part_of finds nothing",
            a.filename
        );
    }
    for s in ["1", "2", "1.1"] {
        let _ = parse::part_of(raw, &Section::parse(s).expect("valid section"));
    }

    // A search for the subject finds the message (the local store's search).
    if !view.subject.trim().is_empty() {
        let word = view.subject.to_lowercase();
        assert!(
            parse::text_contains_all(raw, std::slice::from_ref(&word)),
            "searching for the subject {word:?} does not find the message"
        );
    }

    let c = parse::parse_for_compose(raw);
    let _ = compose::quote("On a day, someone wrote:", &c.text);
    let _ = parse::parse_list_headers(raw);
    let _ = parse::thread_headers(raw);
}

/// Elements that must never reach the message frame: script, anything that loads or embeds another
/// document, forms, and elements that change how the rest of the page is parsed or resolved.
const FORBIDDEN_ELEMENTS: &[&str] = &[
    "script",
    "style",
    "link",
    "meta",
    "base",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "portal",
    "svg",
    "math",
    "form",
    "input",
    "button",
    "select",
    "textarea",
    "template",
    "noscript",
    "noembed",
    "noframes",
    "xmp",
    "plaintext",
    "title",
    "video",
    "audio",
    "source",
    "track",
    "picture",
    "image",
];

/// Attributes whose value is fetched or navigated to by a browser.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "srcset",
    "action",
    "formaction",
    "background",
    "poster",
    "data",
    "codebase",
    "cite",
    "longdesc",
    "lowsrc",
    "dynsrc",
    "ping",
    "manifest",
    "usemap",
    "xlink:href",
];

/// Checks sanitiser output the way a browser sees it: the HTML is parsed by html5ever (the parser
/// ammonia itself uses) inside the frame's document, and every element and attribute of the result
/// is checked. Parsing rather than searching the text keeps the check sound: text may contain
/// `<script>` or `onerror=` escaped, which is harmless, while markup that only becomes dangerous
/// once re-parsed (mutation XSS) is caught.
pub fn check_safe_html(html: &SafeHtml, allow_remote: bool, what: &str) {
    let out = html.as_str();
    let doc = scraper::Html::parse_document(&format!(
        "<!doctype html><html><head></head><body>{out}</body></html>"
    ));
    let fail = |why: String| -> ! {
        panic!("{what}: {why}\n--- output:\n{out}");
    };
    for node in doc.tree.nodes() {
        let scraper::Node::Element(el) = node.value() else {
            continue;
        };
        let name = el.name().to_ascii_lowercase();
        if FORBIDDEN_ELEMENTS.contains(&name.as_str()) {
            fail(format!("element <{name}> in the output"));
        }
        for (attr, value) in el.attrs() {
            let attr = attr.to_ascii_lowercase();
            if attr.starts_with("on") {
                fail(format!(
                    "event handler attribute {attr}={value:?} on <{name}>"
                ));
            }
            if matches!(attr.as_str(), "srcdoc" | "formaction" | "action" | "ping") {
                fail(format!("attribute {attr} on <{name}>"));
            }
            if attr == "style" {
                check_style(value).unwrap_or_else(|why| fail(format!("style {value:?}: {why}")));
            }
            if URL_ATTRIBUTES.contains(&attr.as_str()) {
                check_url(&name, &attr, value, allow_remote)
                    .unwrap_or_else(|why| fail(format!("{attr}={value:?} on <{name}>: {why}")));
            }
        }
    }
}

/// A message's filtered style sheet, printed raw in a `<style>` element: it cannot close that
/// element, and nothing in it loads, runs or escapes the frame.
pub fn check_safe_css(css: &SafeCss) {
    let out = css.as_str();
    assert!(!out.contains('<'), "style sheet with a '<':\n{out}");
    if let Err(why) = check_style(out) {
        panic!("style sheet {why}:\n{out}");
    }
}

/// A URL as the browser's URL parser reads it: surrounding spaces and controls dropped, tabs and
/// newlines removed anywhere, scheme case-insensitive.
fn normalized_url(value: &str) -> String {
    value
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .to_ascii_lowercase()
}

fn check_url(element: &str, attr: &str, value: &str, allow_remote: bool) -> Result<(), String> {
    let url = normalized_url(value);
    let remote = url.starts_with("http://") || url.starts_with("https://") || url.starts_with("//");
    match (element, attr) {
        ("a", "href") if remote || url.starts_with("mailto:") => Ok(()),
        ("a", "href") => Err("a link that is neither http(s) nor mailto".into()),
        ("img", "src") if url.starts_with("data:image/") && !url.starts_with("data:image/svg") => {
            Ok(())
        }
        ("img", "src") if remote && allow_remote => Ok(()),
        ("img", "src") if remote => Err("a remote image although remote content is off".into()),
        ("img", "src") => {
            Err("an image source that is neither a raster data: URI nor remote".into())
        }
        _ => Err("an attribute that loads or links something".into()),
    }
}

/// The declarations the style filter promises to drop, whatever the property, looked for after CSS
/// escapes are undone as a browser would (the filter refuses any backslash in what it is given, but
/// ammonia re-serialises what it keeps and may escape a character itself, e.g. the unit of `100e` as
/// `100\65 `, so a backslash in the output is not by itself a failure).
fn check_style(value: &str) -> Result<(), String> {
    let compact: String = css_unescape(value)
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for bad in [
        "url(",
        "image-set(",
        "expression(",
        "javascript:",
        "@import",
        "-moz-binding",
        "behavior:",
        "position:",
    ] {
        if compact.contains(bad) {
            return Err(format!("contains {bad:?}"));
        }
    }
    Ok(())
}

/// CSS escapes undone (CSS Syntax 3, section 4.3.7): `\` then up to six hex digits and one optional
/// white space, or `\` then any other character.
fn css_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut hex = String::new();
        while hex.len() < 6 && chars.peek().is_some_and(char::is_ascii_hexdigit) {
            hex.extend(chars.next());
        }
        if hex.is_empty() {
            out.extend(chars.next());
            continue;
        }
        if chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let code = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
        out.push(
            char::from_u32(code)
                .filter(|c| *c != '\0')
                .unwrap_or('\u{FFFD}'),
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// compose_input: what a user types into the compose form and the search box.
// ---------------------------------------------------------------------------------------------

/// The input as UTF-8 (lossy), cut at NUL bytes into the form's fields: to, cc, bcc, subject, body,
/// sender name, In-Reply-To/References, attachment filename, attachment content type, folder or
/// search text. Each field is also given whole to the functions that take one line of text.
pub fn compose_input(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let mut fields = input.split('\0');
    let mut next = || fields.next().unwrap_or("");
    let (to, cc, bcc) = (next(), next(), next());
    let (subject, body, from_name) = (next(), next(), next());
    let (ids, filename, content_type, words) = (next(), next(), next(), next());

    for text in [&*input, to, subject, filename, words] {
        single_line_helpers(text);
    }
    let to = recipients(to);
    let cc = recipients(cc);
    let bcc = recipients(bcc);

    // The flowed body keeps every character the user typed, with CRLF line ends.
    let flowed = compose::flow(body);
    check_crlf_only(&flowed, "flow");
    let kept = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '>' | '\r' | '\n'))
            .collect()
    };
    assert_eq!(kept(&flowed), kept(body), "flow lost or added text");
    for line in flowed.split("\r\n") {
        assert!(
            !line.starts_with("From "),
            "flow left a line starting with \"From \" unstuffed: {line:?}"
        );
    }
    let quoted = compose::quote("Someone wrote:", body);
    assert!(
        quoted.lines().skip(1).all(|l| l.starts_with('>')),
        "a quoted line without its marker"
    );

    let message_ids = compose::clean_message_ids(ids);
    for id in &message_ids {
        assert!(
            id.starts_with('<') && id.ends_with('>') && id.chars().all(|c| c.is_ascii_graphic()),
            "clean_message_ids kept {id:?}"
        );
    }

    for keep_bcc in [false, true] {
        let msg = compose::Outgoing {
            from_address: "me@example.org".into(),
            from_name: from_name.into(),
            to: to.clone(),
            cc: cc.clone(),
            bcc: bcc.clone(),
            subject: subject.into(),
            body: body.into(),
            in_reply_to: Some(ids.into()),
            references: vec![ids.into()],
            attachments: vec![compose::OutgoingAttachment {
                filename: filename.into(),
                content_type: content_type.into(),
                bytes: data.iter().take(64).copied().collect(),
            }],
            message_id: "<fuzz@example.org>".into(),
        };
        if let Ok(built) = compose::build(&msg, SystemTime::UNIX_EPOCH, keep_bcc) {
            check_headers(&built.formatted(), keep_bcc);
        }
    }

    imap_strings(words);
}

/// Helpers that turn typed text into one header line or one filename.
fn single_line_helpers(text: &str) {
    let line = compose::one_line(text);
    assert!(
        !line.contains(char::is_control),
        "one_line kept a control: {line:?}"
    );
    for (name, f) in [
        (
            "reply_subject",
            compose::reply_subject as fn(&str) -> String,
        ),
        ("forward_subject", compose::forward_subject),
    ] {
        let once = f(text);
        assert!(
            !once.contains(char::is_control),
            "{name} kept a control: {once:?}"
        );
        assert_eq!(
            f(&once).trim(),
            once.trim(),
            "{name} stacks its prefix: {once:?}"
        );
    }
    let file = compose::clean_filename(text);
    assert!(
        !file.is_empty()
            && !file.contains(['/', '\\', '"'])
            && !file.contains(char::is_control)
            && file != "."
            && file != "..",
        "clean_filename gave {file:?}"
    );
}

/// Parses a recipient field; what it accepts, formatted back, parses to the same addresses (the form
/// shows recipients that way when it is displayed again).
fn recipients(field: &str) -> Vec<Mailbox> {
    match compose::parse_recipients(field) {
        Ok(list) => {
            for m in &list {
                let shown = m.to_string();
                assert!(
                    !shown.contains(char::is_control),
                    "a recipient with a control character: {shown:?}"
                );
            }
            let again = compose::format_recipients(&list);
            let reparsed = compose::parse_recipients(&again).unwrap_or_else(|bad| {
                panic!("format_recipients gave {again:?}, which does not parse back: {bad:?}")
            });
            let emails = |l: &[Mailbox]| -> Vec<String> {
                l.iter()
                    .map(|m| m.email.to_string().to_lowercase())
                    .collect()
            };
            assert_eq!(
                emails(&reparsed),
                emails(&list),
                "recipients changed when formatted and parsed again ({again:?})"
            );
            list
        }
        Err(bad) => {
            for b in &bad {
                assert!(
                    !b.contains(char::is_control),
                    "a rejected piece with a control: {b:?}"
                );
            }
            vec![]
        }
    }
}

/// The header block of a built message holds only the fields Courrier sets, each on its own line:
/// nothing typed can add a header (and Bcc only in a draft).
fn check_headers(message: &[u8], keep_bcc: bool) {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut allowed = vec![
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "user-agent",
        "in-reply-to",
        "references",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    ];
    if keep_bcc {
        allowed.push("bcc");
    }
    for line in head.split("\r\n") {
        assert!(
            !line.contains(['\r', '\n']),
            "a bare CR or LF in the header block: {line:?}"
        );
        assert!(line.len() <= 998, "a header line over 998 octets: {line:?}");
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        assert!(
            allowed.contains(&name.as_str()),
            "unexpected header {name:?} in:\n{head}"
        );
    }
}

/// Every line ends with CRLF; no CR or LF alone.
fn check_crlf_only(s: &str, what: &str) {
    for piece in s.split("\r\n") {
        assert!(
            !piece.contains(['\r', '\n']),
            "{what}: a bare CR or LF in {s:?}"
        );
    }
}

/// Folder names and search words on their way to the IMAP wire.
fn imap_strings(text: &str) {
    let encoded = codec::encode_mutf7(text);
    assert!(
        encoded.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "modified UTF-7 that is not printable ASCII: {encoded:?}"
    );
    assert_eq!(codec::decode_mutf7(&encoded), text, "mutf7 round trip");
    let _ = codec::decode_mutf7(text);
    if let Some(folder) = courrier::mail::FolderName::new(text) {
        let quoted = codec::quote_mailbox(&folder);
        let (inner, rest) = read_imap_string(quoted.as_bytes()).expect("a quoted mailbox");
        assert!(
            rest.is_empty(),
            "quote_mailbox left {rest:?} after the string"
        );
        assert_eq!(
            codec::decode_mutf7(&inner),
            folder.as_str(),
            "mailbox quoting"
        );
    }
    if !text.contains(['\r', '\n', '\0']) {
        let quoted = codec::quote(text);
        let (inner, rest) = read_imap_string(quoted.as_bytes()).expect("a quoted string");
        assert!(
            rest.is_empty() && inner == text,
            "quote round trip: {quoted:?}"
        );
    }

    // SEARCH criteria: each word is one IMAP string that reads back as the word (minus controls), and
    // nothing else is in the command.
    for literal_plus in [false, true] {
        let search = courrier::mail::Search {
            text: text.to_owned(),
            ..Default::default()
        };
        let criteria = courrier::mail::imap::search_criteria(&search, literal_plus);
        let words: Vec<String> = text
            .split_whitespace()
            .take(10)
            .map(|w| w.chars().filter(|c| !c.is_control()).collect())
            .collect();
        if words.is_empty() {
            assert_eq!(criteria, "ALL");
            continue;
        }
        let mut rest = criteria.as_bytes();
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                rest = rest
                    .strip_prefix(b" ")
                    .unwrap_or_else(|| panic!("no space between criteria: {criteria:?}"));
            }
            rest = rest
                .strip_prefix(b"TEXT ")
                .unwrap_or_else(|| panic!("criterion without TEXT: {criteria:?}"));
            let (value, after) = read_imap_string(rest)
                .unwrap_or_else(|| panic!("not an IMAP string: {criteria:?}"));
            assert_eq!(
                &value, word,
                "a search word changed on the wire: {criteria:?}"
            );
            rest = after;
        }
        assert!(rest.is_empty(), "more than the words in {criteria:?}");
    }
}

/// Reads one IMAP string (RFC 3501 quoted, or a `{n}`/`{n+}` literal): its value and what follows.
fn read_imap_string(b: &[u8]) -> Option<(String, &[u8])> {
    if let Some(mut rest) = b.strip_prefix(b"\"") {
        let mut value = Vec::new();
        loop {
            match *rest.first()? {
                b'"' => return Some((String::from_utf8(value).ok()?, &rest[1..])),
                b'\\' => {
                    let c = *rest.get(1)?;
                    if c != b'"' && c != b'\\' {
                        return None;
                    }
                    value.push(c);
                    rest = &rest[2..];
                }
                b'\r' | b'\n' | b'\0' => return None,
                c => {
                    value.push(c);
                    rest = &rest[1..];
                }
            }
        }
    }
    let rest = b.strip_prefix(b"{")?;
    let close = rest.iter().position(|&c| c == b'}')?;
    let len: usize = std::str::from_utf8(rest[..close].strip_suffix(b"+")?)
        .ok()?
        .parse()
        .ok()?;
    let body = rest[close + 1..].strip_prefix(b"\r\n")?;
    let value = body.get(..len)?;
    if value.contains(&b'\r') || value.contains(&b'\n') {
        return None;
    }
    Some((String::from_utf8(value.to_vec()).ok()?, &body[len..]))
}

// ---------------------------------------------------------------------------------------------
// pop3_responses: what a POP3 server sends, through a login and what a download does.
// ---------------------------------------------------------------------------------------------

/// The first byte chooses how the server behaves (bits 0-2: size of the pieces it sends; bits 3-4:
/// what happens when the script ends: close, go silent, or flood; bit 5: the credentials are the
/// script's first line, `address password`); the rest is everything the server says, in order,
/// whatever the client asks. The client must not panic, must keep every command on one line, must
/// give up a silent server after its timeout, and must not read more than its size cap of one
/// answer from a server that floods it.
pub fn pop3_responses(data: &[u8]) {
    let Some((&flags, mut script)) = data.split_first() else {
        return;
    };
    let chunk = [1, 2, 3, 7, 16, 100, 1000, usize::MAX][usize::from(flags & 7)];
    let end = match (flags >> 3) & 3 {
        0 | 1 => End::Close,
        2 => End::Stall,
        _ => End::Flood,
    };
    let creds = if flags & 0x20 != 0 {
        let cut = script
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(script.len());
        let line = String::from_utf8_lossy(&script[..cut]).into_owned();
        script = script.get(cut + 1..).unwrap_or_default();
        let (address, password) = line.split_once(' ').unwrap_or((&line, ""));
        Credentials::new(address, password)
    } else {
        Credentials::new("user@example.org", "secret")
    };
    let written = RefCell::new(Vec::new());
    let server = ScriptedServer {
        script,
        chunk,
        end,
        stalled: false,
        served_in_answer: 0,
        written: &written,
    };
    RUNTIME.with(|rt| rt.block_on(download(server, &creds)));
    let written = written.into_inner();
    assert!(
        written.is_empty() || written.ends_with(b"\r\n"),
        "the last command does not end with CRLF"
    );
    for command in written.split(|&b| b == b'\n') {
        let command = command.strip_suffix(b"\r").unwrap_or(command);
        assert!(
            !command.contains(&b'\r'),
            "a command with a bare CR: {:?}",
            String::from_utf8_lossy(command)
        );
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
}

/// The client's timeout. The scripted server never makes the client wait except when it goes
/// silent, so this only bounds that case.
const TIMEOUT: Duration = Duration::from_millis(2);

/// What a download does with a session (pop3::sync): status, unique ids, sizes, then headers and
/// messages, deletion, and the end of the session. Errors are expected; each call goes on regardless,
/// on a connection in whatever state the previous answer left it.
async fn download(server: ScriptedServer<'_>, creds: &Credentials) {
    let Ok(mut p) = pop3::over_stream(server, creds, TIMEOUT).await else {
        return;
    };
    let _ = p.has_capability("TOP");
    let _ = p.stat().await;
    let mut numbers: Vec<u32> = vec![1];
    if let Ok(uids) = p.uidl().await {
        let mut seen = HashSet::new();
        for (n, uid) in uids {
            assert!(
                !uid.is_empty()
                    && uid.len() <= 70
                    && uid.bytes().all(|b| (0x21..=0x7e).contains(&b)),
                "UIDL gave an invalid unique id {uid:?}"
            );
            if seen.insert(n) && numbers.len() < 3 {
                numbers.push(n);
            }
        }
    }
    if let Ok(sizes) = p.list().await {
        numbers.extend(sizes.iter().map(|(n, _)| *n).take(2));
    }
    for n in numbers {
        for body in [p.top(n, 0).await, p.retr(n).await].into_iter().flatten() {
            assert!(
                body.len() <= MAX_MULTILINE,
                "an answer over the size cap was accepted"
            );
        }
        let _ = p.dele(n).await;
    }
    let _ = p.rset().await;
    let _ = p.noop().await;
    let _ = p.quit().await;
}

enum End {
    /// The server closes the connection.
    Close,
    /// The server keeps the connection open and says nothing more.
    Stall,
    /// The server sends `x` forever, with no line end.
    Flood,
}

/// A POP3 server that plays a script: it sends the script's bytes in pieces of `chunk` bytes,
/// whatever it is sent, then behaves as `end` says. What the client writes is recorded.
struct ScriptedServer<'a> {
    script: &'a [u8],
    chunk: usize,
    end: End,
    stalled: bool,
    /// Bytes sent since the client's last command.
    served_in_answer: usize,
    written: &'a RefCell<Vec<u8>>,
}

/// How far past the size cap a flooded client may read before it is said to ignore the cap: the
/// status line and one buffer of the client's reader.
const FLOOD_SLACK: usize = 1024 * 1024;

impl AsyncRead for ScriptedServer<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if !this.script.is_empty() {
            let n = this.chunk.min(this.script.len()).min(buf.remaining());
            buf.put_slice(&this.script[..n]);
            this.script = &this.script[n..];
            this.served_in_answer += n;
            return Poll::Ready(Ok(()));
        }
        match this.end {
            End::Close => Poll::Ready(Ok(())),
            // Silent once: the client's timeout must end the wait (nothing will wake this task
            // but the timer). Afterwards the connection is closed, so later calls end at once.
            End::Stall if !this.stalled => {
                this.stalled = true;
                Poll::Pending
            }
            End::Stall => Poll::Ready(Ok(())),
            End::Flood => {
                assert!(
                    this.served_in_answer <= MAX_MULTILINE + FLOOD_SLACK,
                    "the client read {} bytes of one answer without giving up (its size cap is {})",
                    this.served_in_answer,
                    MAX_MULTILINE
                );
                let n = buf.remaining().min(64 * 1024);
                buf.put_slice(&[b'x'; 64 * 1024][..n]);
                this.served_in_answer += n;
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl AsyncWrite for ScriptedServer<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.written.borrow_mut().extend_from_slice(data);
        self.served_in_answer = 0;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// ---------------------------------------------------------------------------------------------
// imap_responses: what an IMAP server sends, through a login and what the mailbox pages do.
// ---------------------------------------------------------------------------------------------

/// The input is everything an IMAP server says, in order, whatever the client asks (async-imap tags
/// its commands `A0001`, `A0002`…, so a script can answer them). The server is a loopback socket: the
/// IMAP connection type holds a TCP stream, and serving bytes on 127.0.0.1 needs no change to it. The
/// client must not panic, and every call must end (the server closes its side after the script).
pub fn imap_responses(data: &[u8]) {
    RUNTIME.with(|rt| rt.block_on(imap_session(data)));
}

async fn imap_session(data: &[u8]) {
    use courrier::mail::account::{Security, Server, TlsSettings};
    use courrier::mail::imap;
    use courrier::mail::{FolderName, ListQuery, SortKey, Uid};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let script = data.to_vec();
    // The server says its piece, closes its side, then reads (and drops) what the client sends
    // until the client closes, so that nothing is cut by a reset.
    let server = tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let _ = socket.write_all(&script).await;
        let _ = socket.shutdown().await;
        let mut sink = [0u8; 4096];
        while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
    });

    let tls = TlsSettings {
        config: std::sync::Arc::new(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        ),
        extra_ca_pem: None,
    };
    let address = Server {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
    };
    let creds = Credentials::new("user@example.org", "secret");
    if let Ok(mut conn) =
        imap::connect::connect(&address, &tls, &creds, Duration::from_secs(5)).await
    {
        let inbox = FolderName::inbox();
        let _ = imap::list_folders(&mut conn).await;
        let _ = imap::list_page(&mut conn, &inbox, 0, 20).await;
        let query = ListQuery {
            sort: SortKey::Subject,
            ascending: true,
            search: courrier::mail::Search {
                text: "été report".into(),
                unread: true,
                ..Default::default()
            },
        };
        let _ = imap::list_query(&mut conn, &inbox, &query, 0, 20).await;
        let _ = imap::thread_page(&mut conn, &inbox, 0, 20, 200).await;
        let _ = imap::fetch_message(&mut conn, &inbox, Uid(1), true).await;
        let section = Section::parse("1").expect("a section");
        let _ = imap::fetch_part(&mut conn, &inbox, Uid(1), &section).await;
        let _ = imap::quota(&mut conn).await;
        conn.logout().await;
    }
    // The client is done and its socket closed; the server may still be waiting to accept when the
    // client gave up before it was scheduled.
    server.abort();
    let _ = server.await;
}

// ---------------------------------------------------------------------------------------------
// header_addresses: an address header as a sender writes it, and what a reader is shown of it.
// ---------------------------------------------------------------------------------------------

/// The input is a header value, as any sender may write it. It goes, read as UTF-8 (lossy, as `parse`
/// reads headers):
/// - through `address::parse_list`, and the mailboxes it gives through their methods;
/// - through `display::clean`, `display::filename` and `display::domain`;
/// - as `=?utf-8?b?…?=@x.test` and other encoded-words in an addr-spec, which must stay undecoded;
/// - into a tiny message, as the From, Sender, To, Cc, Reply-To and Subject fields and as the
///   filename of its attachments (RFC 2047 in `name=`, RFC 2231 with and without continuations,
///   quoted), through `parse::parse_message` and `parse::parse_list_headers`;
/// - when it is short, repeated past `address::MAX_MAILBOXES` mailboxes.
///
/// Every name, subject, filename and address a reader is shown holds no control and no invisible or
/// direction-changing character (U+FFFD, which stands for a control, is allowed); a valid mailbox's
/// address is an addr-spec; a filename has no directory and at most 200 characters; `clean` is
/// idempotent; no header gives more than `MAX_MAILBOXES` mailboxes.
pub fn header_addresses(data: &[u8]) {
    let value = String::from_utf8_lossy(data);

    let cleaned = display::clean(&value);
    assert_eq!(
        display::clean(&cleaned),
        cleaned,
        "clean is not idempotent: clean({value:?}) is {cleaned:?}"
    );
    check_text(&cleaned, true, || "clean".into());
    check_filename(&display::filename(&value), &value);
    // Each label is judged on its own (as browsers do): it is shown as written or in ASCII.
    let shown = display::domain(&value);
    let (before, after): (Vec<&str>, Vec<&str>) =
        (value.split('.').collect(), shown.split('.').collect());
    assert!(
        before.len() == after.len()
            && before
                .iter()
                .zip(&after)
                .all(|(b, a)| a == b || a.is_ascii()),
        "display::domain({value:?}) changed a label but not into ASCII: {shown:?}"
    );
    let _ = display::is_deceptive_domain(&value);
    let _ = display::shorten(&value, 40);

    let list = address::parse_list(&value);
    check_addrs(&list, "parse_list");

    encoded_words_in_addr_specs(data);

    for (i, raw) in address_messages(data).iter().enumerate() {
        let view = parse::parse_message(raw);
        if i == 1 {
            // This message's Cc starts with `<=?utf-8?b?…?=@x.test>`: read from a message too, the
            // encoded-word stays as it is.
            let spec = format!("=?utf-8?b?{}?=@x.test", base64(data));
            assert!(
                view.cc
                    .first()
                    .is_some_and(|a| !a.valid || a.address == spec),
                "the first Cc of <{spec}> is {:?}",
                view.cc.first()
            );
        }
        check_text(&view.subject, true, || "the subject".into());
        // Mostly the same mailboxes as `list` or as the field before: those were checked already.
        let mut last = list.as_slice();
        for (field, addrs) in [
            ("From", &view.from),
            ("Sender", &view.sender),
            ("To", &view.to),
            ("Cc", &view.cc),
            ("Reply-To", &view.reply_to),
        ] {
            if addrs.as_slice() != last && addrs.as_slice() != list.as_slice() {
                check_addrs(addrs, field);
            }
            last = addrs;
        }
        for a in &view.attachments {
            check_filename(&a.filename, &value);
        }
        let line = parse::parse_list_headers(raw);
        check_addr(&line.from, "the message list's From");
        check_text(&line.subject, true, || "the message list's subject".into());
    }

    too_many_mailboxes(&value, list.len());
}

/// A list of mailboxes from one header (or every header of one name): capped, and each as
/// `check_addr` wants it.
fn check_addrs(list: &[Addr], what: &str) {
    assert!(
        list.len() <= address::MAX_MAILBOXES,
        "{what}: {} mailboxes, over the cap of {}",
        list.len(),
        address::MAX_MAILBOXES
    );
    for a in list {
        check_addr(a, what);
    }
}

/// One mailbox: everything shown of it is safe to show; a valid one's address is its addr-spec, with
/// a domain, and is shown with the same local part; an invalid one has no addr-spec or domain.
fn check_addr(a: &Addr, what: &str) {
    if let Some(name) = &a.name {
        check_text(name, true, || format!("{what}: the name of {a:?}"));
    }
    check_text(&a.address, true, || format!("{what}: the address of {a:?}"));
    check_text(&a.display(), false, || {
        format!("{what}: display() of {a:?}")
    });
    let shown = a.shown_address();
    check_text(&shown, false, || {
        format!("{what}: shown_address() of {a:?}")
    });
    let _ = a.is_deceptive();
    if a.valid {
        assert!(
            a.address.contains('@'),
            "{what}: a valid address without '@': {a:?}"
        );
        assert_eq!(
            a.addr_spec(),
            Some(a.address.as_str()),
            "{what}: addr_spec() of a valid mailbox {a:?}"
        );
        let (local, domain) = a.address.rsplit_once('@').expect("an '@'");
        assert_eq!(
            a.domain(),
            Some(domain),
            "{what}: domain() of a valid mailbox {a:?}"
        );
        assert_eq!(
            shown.rsplit_once('@').map(|(l, _)| l),
            Some(local),
            "{what}: shown_address() {shown:?} changed the local part of {a:?}"
        );
        check_shown_domain(domain, what);
    } else {
        assert_eq!(a.addr_spec(), None, "{what}: an addr-spec for {a:?}");
        assert_eq!(a.domain(), None, "{what}: a domain for {a:?}");
        assert_eq!(
            shown, a.address,
            "{what}: shown_address() of an invalid mailbox {a:?}"
        );
    }
}

/// The domain of a valid address as a reader sees it: as written, or in ASCII (punycode); and, when
/// shown as written with letters beyond ASCII, none of its labels would be shown in punycode on its
/// own (a mixed-script label must not pass because another label makes the IDNA conversion fail).
fn check_shown_domain(domain: &str, what: &str) {
    let shown = display::domain(domain);
    assert!(
        shown == domain || shown.is_ascii(),
        "{what}: display::domain({domain:?}) changed it but not into ASCII: {shown:?}"
    );
    if shown == domain && !domain.is_ascii() {
        for label in domain.split('.') {
            let alone = display::domain(label);
            assert_eq!(
                alone, label,
                "{what}: the domain {domain:?} is shown as written, but its label {label:?} alone \
                 is shown as {alone:?}"
            );
        }
    }
}

/// Text a reader is shown: no control (U+FFFD, which `clean` puts in a control's place, is allowed),
/// no direction control, no invisible character; and, for text straight out of `display::clean`
/// (`from_clean`), a zero-width joiner or non-joiner only where `clean` promises to keep one: between
/// two characters beyond Latin (above U+024F). `what` says whose text it is, when it fails.
fn check_text(s: &str, from_clean: bool, what: impl FnOnce() -> String) {
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let listed = c.is_control()
            || matches!(
                c,
                '\u{202A}'..='\u{202E}'
                    | '\u{2066}'..='\u{2069}'
                    | '\u{200B}'
                    | '\u{200E}'
                    | '\u{200F}'
                    | '\u{FEFF}'
                    | '\u{061C}'
            );
        let joiner = matches!(c, '\u{200C}' | '\u{200D}');
        if listed || (display::is_unsafe(c) && !joiner) {
            panic!(
                "{}: the character U+{:04X} is shown in {s:?}",
                what(),
                c as u32
            );
        }
        let beyond_latin = |c: Option<&char>| c.is_some_and(|c| *c > '\u{024F}');
        if from_clean
            && joiner
            && !(beyond_latin(i.checked_sub(1).and_then(|p| chars.get(p)))
                && beyond_latin(chars.get(i + 1)))
        {
            panic!(
                "{}: U+{:04X} at character {i} of {s:?} is not between two characters beyond Latin",
                what(),
                c as u32
            );
        }
    }
}

/// A filename shown and downloaded under: no directory, something, not too long, nothing hidden.
fn check_filename(f: &str, from: &str) {
    assert!(
        !f.is_empty()
            && !f.contains(['/', '\\'])
            && f != "."
            && f != ".."
            && f.chars().count() <= 200,
        "display::filename gave {f:?} (from {from:?})"
    );
    check_text(f, false, || format!("the filename (from {from:?})"));
}

/// Encoded-words in an addr-spec are text, never decoded (RFC 2047 section 5): the input as a base64
/// or Q encoded-word making a local part, alone, in angle brackets and after a display name that is
/// the same encoded-word. Each header is one mailbox, and its address is the text as written (a
/// valid one as its addr-spec; an invalid one as the mailbox written, which here is plain ASCII).
fn encoded_words_in_addr_specs(data: &[u8]) {
    let b = format!("=?utf-8?b?{}?=", base64(data));
    let q = format!("=?utf-8?q?{}?=", q_encode(data));
    for word in [&b, &q] {
        let spec = format!("{word}@x.test");
        for header in [
            spec.clone(),
            format!("<{spec}>"),
            format!("{word} <{spec}>"),
        ] {
            let list = address::parse_list(&header);
            assert_eq!(list.len(), 1, "{header:?} gave {list:?}");
            let a = &list[0];
            check_addr(a, &header);
            if a.valid {
                assert_eq!(
                    a.address, spec,
                    "an encoded-word in an addr-spec was changed: {header:?} gave {a:?}"
                );
            } else {
                assert_eq!(
                    a.address, header,
                    "an invalid mailbox not kept as written: {header:?} gave {a:?}"
                );
            }
        }
    }
}

/// The input in a tiny multipart message, twice: once as it is in each of the address fields and the
/// subject (a line break in it may end the field, or the header, as it would on the wire), once kept
/// inside its field (line breaks folded) or encoded. Both messages have the input as the filename of
/// attachments: an RFC 2047 encoded-word in `name=`, RFC 2231 in one piece and in two, and quoted.
fn address_messages(data: &[u8]) -> [Vec<u8>; 2] {
    let folded = fold(data);
    let b = format!("=?utf-8?b?{}?=", base64(data));
    let q = format!("=?utf-8?q?{}?=", q_encode(data));
    let mut quoted = Vec::with_capacity(folded.len() + 2);
    quoted.push(b'"');
    for &c in &folded {
        if matches!(c, b'"' | b'\\') {
            quoted.push(b'\\');
        }
        quoted.push(c);
    }
    quoted.push(b'"');

    let start = b"MIME-Version: 1.0\r\n\
        Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
        Message-ID: <fuzz@x.test>\r\n\
        Content-Type: multipart/mixed; boundary=\"=_fuzz_boundary\"\r\n";
    let mid = data.len() / 2;
    let mut parts = Vec::new();
    parts.extend_from_slice(
        b"\r\n--=_fuzz_boundary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n",
    );
    let attachment = |headers: &[&[u8]], parts: &mut Vec<u8>| {
        parts.extend_from_slice(b"--=_fuzz_boundary\r\n");
        for h in headers {
            parts.extend_from_slice(h);
        }
        parts.extend_from_slice(b"\r\n\r\naGVsbG8=\r\n");
    };
    attachment(
        &[
            b"Content-Type: application/octet-stream; name=\"",
            b.as_bytes(),
            b"\"\r\nContent-Transfer-Encoding: base64",
        ],
        &mut parts,
    );
    attachment(
        &[
            b"Content-Type: application/octet-stream\r\n",
            b"Content-Disposition: attachment; filename*=utf-8''",
            percent_encode(data).as_bytes(),
            b"\r\nContent-Transfer-Encoding: base64",
        ],
        &mut parts,
    );
    attachment(
        &[
            b"Content-Type: application/octet-stream\r\n",
            b"Content-Disposition: attachment;\r\n filename*0*=utf-8''",
            percent_encode(&data[..mid]).as_bytes(),
            b";\r\n filename*1*=",
            percent_encode(&data[mid..]).as_bytes(),
            b"\r\nContent-Transfer-Encoding: base64",
        ],
        &mut parts,
    );
    attachment(
        &[
            b"Content-Type: application/octet-stream\r\n",
            b"Content-Disposition: attachment; filename=",
            &quoted,
            b"\r\nContent-Transfer-Encoding: base64",
        ],
        &mut parts,
    );
    parts.extend_from_slice(b"--=_fuzz_boundary--\r\n");

    let message = |fields: &[(&str, &[&[u8]])]| -> Vec<u8> {
        let mut m = start.to_vec();
        for (name, value) in fields {
            m.extend_from_slice(name.as_bytes());
            m.extend_from_slice(b": ");
            for piece in *value {
                m.extend_from_slice(piece);
            }
            m.extend_from_slice(b"\r\n");
        }
        m.extend_from_slice(&parts);
        m
    };
    let as_is: &[&[u8]] = &[data];
    let raw = message(&[
        ("From", as_is),
        ("Sender", as_is),
        ("To", as_is),
        ("Cc", as_is),
        ("Reply-To", as_is),
        ("Subject", as_is),
    ]);
    let kept = message(&[
        ("From", &[&folded]),
        ("Sender", &[b.as_bytes(), b" <sender@x.test>"]),
        ("To", &[q.as_bytes(), b" <to@x.test>,\r\n ", &folded]),
        (
            "Cc",
            &[b"<", b.as_bytes(), b"@x.test>, ", &quoted, b"@x.test"],
        ),
        ("Reply-To", &[&quoted, b" <reply@x.test>"]),
        ("Subject", &[b.as_bytes()]),
    ]);
    [raw, kept]
}

/// The cap on mailboxes, for a short input that is at least one mailbox: the input repeated (comma
/// separated) until it makes more than `MAX_MAILBOXES` mailboxes if each copy still made one, as a
/// header value and as two To fields of a message (the cap is for all the fields of one name).
fn too_many_mailboxes(value: &str, mailboxes: usize) {
    if mailboxes == 0 || value.len() > 12 {
        return;
    }
    let copies = address::MAX_MAILBOXES / mailboxes + 1;
    let many = vec![value; copies].join(",");
    check_addrs(&address::parse_list(&many), "parse_list of many");
    let half = vec![value; copies / 2 + 1].join(",");
    let raw = format!("From: a@x.test\r\nTo: {half}\r\nTo: {half}\r\n\r\nHello\r\n");
    let view = parse::parse_message(raw.as_bytes());
    assert!(
        view.to.len() <= address::MAX_MAILBOXES,
        "{} mailboxes in two To fields, over the cap",
        view.to.len()
    );
}

/// Every line break that is not followed by white space gets a space after it: RFC 5322 folding, so
/// that the text stays in its field (and does not end the header).
fn fold(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 8);
    for (i, &c) in data.iter().enumerate() {
        out.push(c);
        let next = data.get(i + 1);
        let breaks = match c {
            b'\n' => !matches!(next, Some(b' ' | b'\t')),
            b'\r' => !matches!(next, Some(b' ' | b'\t' | b'\n')),
            _ => false,
        };
        if breaks {
            out.push(b' ');
        }
    }
    out
}

/// Base64 (RFC 4648, with padding).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The Q encoding of RFC 2047 with every byte encoded (`=XX`), which keeps the word to atext.
fn q_encode(data: &[u8]) -> String {
    data.iter().map(|b| format!("={b:02X}")).collect()
}

/// Percent-encoding as RFC 2231 values use it: letters and digits as they are, anything else `%XX`.
fn percent_encode(data: &[u8]) -> String {
    data.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
