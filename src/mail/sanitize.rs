//! Making message bodies safe to show: HTML goes through ammonia with an explicit allow-list, plain text
//! is escaped with its links made clickable. The result is a [`SafeHtml`], the only kind of string a
//! template may print unescaped.
//!
//! This is the first layer only: the web layer also shows HTML bodies in a sandboxed frame under a
//! `default-src 'none'` Content-Security-Policy, so a script that slipped through still could not run.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;

/// HTML that has been through the sanitiser (or was built from escaped text).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SafeHtml(String);

impl SafeHtml {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SafeHtml {
    /// Sanitised pieces one after the other, separated by a rule.
    pub fn joined(parts: Vec<SafeHtml>) -> SafeHtml {
        SafeHtml(
            parts
                .into_iter()
                .map(|p| p.0)
                .collect::<Vec<_>>()
                .join("\n<hr>\n"),
        )
    }
}

impl std::fmt::Display for SafeHtml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Most filtered style-sheet text for one message, all parts together.
pub const MAX_MESSAGE_SHEET_BYTES: usize = 256 * 1024;

/// A style sheet that has been through the filter of `stylesheet.rs`: printed unescaped inside a
/// `<style>` element of the body frame (entities mean nothing there, so it cannot be escaped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SafeCss(String);

impl SafeCss {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sheets of several parts, in order, while they fit in [`MAX_MESSAGE_SHEET_BYTES`]
    /// together (each part's sheet is capped on its own; a message may have many parts).
    pub fn joined(parts: Vec<SafeCss>) -> SafeCss {
        let mut out = String::new();
        for p in parts {
            if out.len() + p.0.len() > MAX_MESSAGE_SHEET_BYTES {
                break;
            }
            out.push_str(&p.0);
        }
        SafeCss(out)
    }
}

impl std::fmt::Display for SafeCss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the sanitiser may let through for one message.
#[derive(Clone, Debug, Default)]
pub struct HtmlPolicy {
    /// Keep `http(s)` images: only when the user asked for remote content.
    pub allow_remote: bool,
    /// `cid:` targets (Content-ID without brackets) → URL to use instead (typically a `data:` URI).
    pub inline_images: HashMap<String, String>,
    /// Words put before the real host of a link whose text shows another address ("goes to"); no
    /// flagging when empty.
    pub link_warning: String,
}

/// Sanitised HTML, its filtered style sheets (for the frame's head), and whether remote content was
/// removed from it.
#[derive(Clone, Debug)]
pub struct Sanitized {
    pub html: SafeHtml,
    pub css: SafeCss,
    pub had_remote: bool,
    /// Links whose text shows another address than the one they go to: (text shown, real host).
    pub deceptive: Vec<DeceptiveLink>,
}

/// A link that shows one address and goes to another host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeceptiveLink {
    /// The link's text, shortened.
    pub shown: String,
    /// The host it really goes to.
    pub goes_to: String,
}

/// Most deceptive links listed for one message (per part here; the message page caps the sum).
pub const MAX_DECEPTIVE_LISTED: usize = 20;

const TAGS: &[&str] = &[
    "a",
    "abbr",
    "address",
    "b",
    "bdi",
    "bdo",
    "big",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
];

const GENERIC_ATTRIBUTES: &[&str] = &[
    "align",
    "bgcolor",
    "border",
    "cellpadding",
    "cellspacing",
    "color",
    "colspan",
    "class",
    "dir",
    "face",
    "height",
    "id",
    "lang",
    "rowspan",
    "size",
    "style",
    "title",
    "valign",
    "width",
];

/// CSS properties kept in `style` attributes: layout and typography that cannot reach the network or
/// cover the page. `position`, `background-image`, `content`, `behavior` and friends are not here.
const STYLE_PROPERTIES: &[&str] = &[
    "background-color",
    "border",
    "border-bottom",
    "border-collapse",
    "border-color",
    "border-left",
    "border-radius",
    "border-right",
    "border-spacing",
    "border-style",
    "border-top",
    "border-width",
    "color",
    "direction",
    "display",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-variant",
    "font-weight",
    "height",
    "letter-spacing",
    "line-height",
    "list-style-type",
    "margin",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "margin-top",
    "max-width",
    "min-width",
    "padding",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "padding-top",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "vertical-align",
    "white-space",
    "width",
    "word-break",
    "word-spacing",
];

/// Largest HTML body rendered as HTML; a larger one is shown as text (or downloaded).
pub const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;

/// Deepest element nesting rendered as HTML. The HTML parser's cost grows with the square of the
/// depth (100,000 nested `<div>` take tens of seconds); real mail stays far below this.
pub const MAX_DEPTH: usize = 1000;

/// True when an HTML body is small and shallow enough to sanitise in bounded time. The depth is
/// estimated from the tags alone: elements that close themselves (void ones, `<p>`, `<li>`, table
/// cells...) do not count, so old-style HTML without end tags is not mistaken for a bomb.
pub fn renderable(html: &str) -> bool {
    html.len() <= MAX_HTML_BYTES && estimated_depth(html.as_bytes()) <= MAX_DEPTH
}

fn estimated_depth(b: &[u8]) -> usize {
    const FLAT: &[&[u8]] = &[
        b"area",
        b"base",
        b"br",
        b"col",
        b"embed",
        b"hr",
        b"img",
        b"input",
        b"link",
        b"meta",
        b"param",
        b"source",
        b"track",
        b"wbr",
        b"p",
        b"li",
        b"dt",
        b"dd",
        b"tr",
        b"td",
        b"th",
        b"option",
        b"tbody",
        b"thead",
        b"tfoot",
        b"colgroup",
        b"caption",
    ];
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        i += off + 1;
        let closing = b.get(i) == Some(&b'/');
        let start = if closing { i + 1 } else { i };
        let len = b[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if len == 0 {
            continue;
        }
        let name = b[start..start + len].to_ascii_lowercase();
        if FLAT.contains(&name.as_slice()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            let end = b[start..]
                .iter()
                .position(|&c| c == b'>')
                .map(|p| start + p);
            if end.is_some_and(|e| e > 0 && b[e - 1] == b'/') {
                continue;
            }
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

/// Sanitises an HTML body.
pub fn sanitize_html(html: &str, policy: HtmlPolicy) -> Sanitized {
    let had_remote = Arc::new(AtomicBool::new(false));
    let flag = had_remote.clone();
    let allow_remote = policy.allow_remote;
    let inline = policy.inline_images;
    let link_warning = policy.link_warning;
    let sheet =
        super::stylesheet::filter_stylesheet(&super::stylesheet::style_elements(html), &had_remote);
    let clean = ammonia::Builder::default()
        .tags(TAGS.iter().copied().collect())
        .generic_attributes(GENERIC_ATTRIBUTES.iter().copied().collect())
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href"])),
            ("img", HashSet::from(["src", "alt"])),
            ("td", HashSet::from(["nowrap"])),
            ("ol", HashSet::from(["start", "type"])),
        ]))
        .url_schemes(HashSet::from(["http", "https", "mailto", "cid", "data"]))
        .url_relative(ammonia::UrlRelative::Deny)
        // Content dropped with its tag: a <title> would otherwise show up as body text.
        .clean_content_tags(HashSet::from(["script", "style", "title", "template"]))
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .filter_style_properties(STYLE_PROPERTIES.iter().copied().collect())
        .attribute_filter(move |element, attribute, value| {
            filter_attribute(element, attribute, value, allow_remote, &inline, &flag)
        })
        .clean(html)
        .to_string();
    let (clean, deceptive) = if link_warning.is_empty() {
        (clean, Vec::new())
    } else {
        flag_deceptive_links(&clean, &link_warning)
    };
    let clean = break_long_words(&clean);
    Sanitized {
        html: SafeHtml(clean),
        css: SafeCss(sheet),
        had_remote: had_remote.load(Ordering::Relaxed),
        deceptive,
    }
}

fn filter_attribute<'u>(
    element: &str,
    attribute: &str,
    value: &'u str,
    allow_remote: bool,
    inline: &HashMap<String, String>,
    had_remote: &AtomicBool,
) -> Option<Cow<'u, str>> {
    let lower = value.trim().to_ascii_lowercase();
    match (element, attribute) {
        ("a", "href") => {
            let ok = lower.starts_with("http://")
                || lower.starts_with("https://")
                || lower.starts_with("mailto:");
            ok.then_some(Cow::Borrowed(value))
        }
        ("img", "src") => {
            if let Some(cid) = lower.strip_prefix("cid:") {
                let original = &value.trim()[4..];
                return inline
                    .get(original)
                    .or_else(|| inline.get(cid))
                    .map(|u| Cow::Owned(u.clone()));
            }
            // Raster images only, named exactly (`data:image/ svg+xml` is not an SVG to this test,
            // but it is no picture either).
            let raster = ["png", "jpeg", "jpg", "gif", "webp"].iter().any(|t| {
                lower
                    .strip_prefix("data:image/")
                    .and_then(|r| r.strip_prefix(t))
                    .is_some_and(|r| r.starts_with(';') || r.starts_with(','))
            });
            if raster {
                return Some(Cow::Borrowed(value));
            }
            if lower.starts_with("http://") || lower.starts_with("https://") {
                if allow_remote {
                    return Some(Cow::Borrowed(value));
                }
                had_remote.store(true, Ordering::Relaxed);
            }
            None
        }
        (_, "style") => Some(Cow::Owned(filter_style(value, allow_remote, had_remote))),
        _ => Some(Cow::Borrowed(value)),
    }
}

/// Drops declarations that could load something or escape the message's box, whatever their property.
fn filter_style(style: &str, _allow_remote: bool, had_remote: &AtomicBool) -> String {
    // Comments first: `ex/**/pression(` must be seen as what a CSS parser would read.
    let style = strip_css_comments(style);
    style
        .split(';')
        .filter(|decl| safe_declaration(decl, had_remote))
        .collect::<Vec<_>>()
        .join(";")
}

/// One declaration (comments already gone) that cannot load anything, run anything or leave the
/// message's box. A declaration that would load something sets `had_remote`.
pub(super) fn safe_declaration(decl: &str, had_remote: &AtomicBool) -> bool {
    let d = decl.to_ascii_lowercase();
    let compact: String = d.chars().filter(|c| !c.is_whitespace()).collect();
    // Every CSS function that takes an image or a resource, whether or not an allowed property
    // accepts one today.
    if [
        "url(",
        "image-set(",
        "image(",
        "src(",
        "cross-fade(",
        "element(",
        "paint(",
    ]
    .iter()
    .any(|f| compact.contains(f))
    {
        had_remote.store(true, Ordering::Relaxed);
        return false;
    }
    !(compact.contains("expression(")
        || compact.contains('\\')
        || compact.contains("@import")
        || compact.contains("javascript:")
        || compact.contains("behavior")
        || compact.contains("-moz-binding")
        || compact.contains("position:"))
}

/// True for a property kept in styles (see [`STYLE_PROPERTIES`]).
pub(super) fn allowed_property(name: &str) -> bool {
    STYLE_PROPERTIES.contains(&name)
}

/// After each link whose text looks like an address on another host than the one it goes to (the
/// classic phishing link), adds a visible note with the real host. Works on the sanitiser's own
/// output, whose tags and quoting are regular.
fn flag_deceptive_links(html: &str, label: &str) -> (String, Vec<DeceptiveLink>) {
    let mut out = String::with_capacity(html.len());
    let mut found: Vec<DeceptiveLink> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<a ") {
        out.push_str(&rest[..i]);
        let from_tag = &rest[i..];
        let Some(end) = start_tag_end(from_tag) else {
            rest = from_tag;
            break;
        };
        let (tag, after) = from_tag.split_at(end + 1);
        let Some(close) = after.find("</a>") else {
            out.push_str(tag);
            rest = after;
            continue;
        };
        let inner = &after[..close];
        out.push_str(tag);
        out.push_str(inner);
        out.push_str("</a>");
        let text = html_escape::decode_html_entities(&strip_tags(inner)).into_owned();
        if let Some(real) = attribute(tag, "href")
            .and_then(|href| deceptive(&html_escape::decode_html_entities(href), &text))
        {
            let link = DeceptiveLink {
                shown: shorten(text.trim(), 80),
                goes_to: real.clone(),
            };
            if found.len() < MAX_DECEPTIVE_LISTED && !found.contains(&link) {
                found.push(link);
            }
            // Inline and `!important`: the message's own style sheet must not be able to hide it.
            out.push_str(WARNING_OPEN);
            out.push_str(&html_escape::encode_text(label));
            out.push(' ');
            out.push_str(&html_escape::encode_text(&real));
            out.push_str("</span>");
        }
        rest = &after[close + 4..];
    }
    out.push_str(rest);
    (out, found)
}

/// At most `max` characters of `s`, with an ellipsis when cut, cleaned as every header is (shown on
/// the app's page, the text must read as it is).
fn shorten(s: &str, max: usize) -> String {
    let clean = super::display::clean(s);
    match super::display::shorten(&clean, max) {
        (short, true) => format!("{short}…"),
        (short, false) => short.to_owned(),
    }
}

const WARNING_OPEN: &str = "<span class=\"deceptive-link\" style=\"display:inline-block !important;visibility:visible !important;\
     width:auto !important;height:auto !important;min-width:0 !important;\
     max-width:none !important;margin:0 0 0 4px !important;padding:0 4px !important;\
     border:0 !important;font:normal 400 12px/1.4 sans-serif !important;\
     letter-spacing:normal !important;word-spacing:normal !important;\
     text-indent:0 !important;text-transform:none !important;\
     text-decoration:none !important;white-space:normal !important;\
     vertical-align:baseline !important;direction:ltr !important;\
     color:#8a1c1c !important;background-color:#fdecea !important;\
     border-radius:3px !important\">\u{26a0} ";

/// Index of the `>` that ends the start tag at the beginning of `s` (quotes respected).
fn start_tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// The raw value of a double-quoted attribute of a start tag.
fn attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The host a link really goes to, when its text shows a different one, or when that host imitates
/// another in look-alike letters (then the host, as the warning shows it, is in punycode, as a
/// browser's address bar would show it).
fn deceptive(href: &str, text: &str) -> Option<String> {
    let target = host_of(href.trim().split_once("://")?.1)?;
    let shown_target = super::display::domain(&target);
    if shown_target != target {
        return Some(shown_target);
    }
    let text = text.trim();
    let shown = match text.split_once("://") {
        Some((_, rest)) => rest,
        None if looks_like_domain(text) => text,
        None => return None,
    };
    let shown = ascii_host(&host_of(shown)?);
    let ascii_target = ascii_host(&target);
    let same = shown == ascii_target || ascii_target.ends_with(&format!(".{shown}"));
    (!same).then_some(shown_target)
}

/// A host compared as DNS does: an IDN in its ASCII form.
fn ascii_host(host: &str) -> String {
    idna::domain_to_ascii(host).unwrap_or_else(|_| host.to_owned())
}

/// The lower-cased host of `host[:port][/path...]`, without `user@` or a leading `www.`.
fn host_of(s: &str) -> Option<String> {
    let authority = s.split(['/', '?', '#', '\\']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = host.split(':').next()?.trim_end_matches('.').to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    (!host.is_empty()).then_some(host)
}

/// `example.org`, `www.example.org/path`: a host name with a letter-only top-level label.
fn looks_like_domain(text: &str) -> bool {
    if text.chars().any(char::is_whitespace) {
        return false;
    }
    let host = text.split(['/', '?', '#']).next().unwrap_or("");
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|t| t.len() >= 2 && t.chars().all(char::is_alphabetic))
}

/// What shows instead of an HTML body that is not rendered as HTML: its plain-text version, or the
/// text of the HTML itself (bounded), escaped.
pub fn fallback_text(html: &str, text_alternative: Option<&str>) -> SafeHtml {
    match text_alternative {
        Some(t) => text_to_html(t),
        None => {
            let mut end = html.len().min(MAX_HTML_BYTES);
            while !html.is_char_boundary(end) {
                end -= 1;
            }
            text_to_html(&mail_parser::decoders::html::html_to_text(&html[..end]))
        }
    }
}

/// The CSS with each `/* ... */` comment replaced by a space (an unclosed one runs to the end).
pub(super) fn strip_css_comments(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        // A space where the comment was: `//**/*` must not become a new `/*`.
        out.push(' ');
        match rest[start + 2..].find("*/") {
            Some(end) => rest = &rest[start + 2 + end + 2..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// Longest run of text without a break opportunity left as it is.
const MAX_WORD: usize = 200;

/// Adds an invisible `<wbr>` break opportunity every [`MAX_WORD`] characters of a word longer than
/// that, in text only (tags, attribute values and entities are left whole). Browsers lay out one
/// enormous word in time that grows with the square of its length (a 1 MB word takes Chromium over a
/// minute), so a message made of one could freeze the reader's tab.
fn break_long_words(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 100);
    let (mut in_tag, mut in_quote, mut in_entity) = (false, false, false);
    let mut run = 0usize;
    for c in html.chars() {
        if in_tag {
            match c {
                '"' => in_quote = !in_quote,
                '>' if !in_quote => in_tag = false,
                _ => {}
            }
            out.push(c);
            continue;
        }
        match c {
            '<' => {
                in_tag = true;
                in_quote = false;
                run = 0;
            }
            '&' => {
                in_entity = true;
                run += 1;
            }
            ';' if in_entity => in_entity = false,
            c if c.is_whitespace() => run = 0,
            _ if in_entity => {}
            _ => run += 1,
        }
        if run > MAX_WORD && !in_entity && c != '<' {
            out.push_str("<wbr>");
            run = 1;
        }
        out.push(c);
    }
    out
}

/// Escapes plain text and turns URLs and addresses into links.
pub fn text_to_html(text: &str) -> SafeHtml {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let finder = linkify::LinkFinder::new();
    for span in finder.spans(text) {
        let s = span.as_str();
        match span.kind() {
            Some(linkify::LinkKind::Url)
                if s.starts_with("http://") || s.starts_with("https://") =>
            {
                out.push_str("<a href=\"");
                out.push_str(&html_escape::encode_double_quoted_attribute(s));
                out.push_str("\" target=\"_blank\" rel=\"noopener noreferrer\">");
                out.push_str(&html_escape::encode_text(s));
                out.push_str("</a>");
            }
            Some(linkify::LinkKind::Email) => {
                out.push_str("<a href=\"mailto:");
                out.push_str(&html_escape::encode_double_quoted_attribute(s));
                out.push_str("\">");
                out.push_str(&html_escape::encode_text(s));
                out.push_str("</a>");
            }
            _ => out.push_str(&html_escape::encode_text(s)),
        }
    }
    SafeHtml(break_long_words(&out))
}

/// Largest picture inlined in a body, in pixels: a tiny compressed file can declare a huge image
/// that the browser would then try to decode.
pub const MAX_INLINE_PIXELS: u64 = 40_000_000;

/// A `data:` URI for an inline image: only PNG, GIF and JPEG (an SVG could carry script) whose
/// declared size is reasonable; `None` otherwise (the part stays a downloadable attachment).
pub fn inline_image_uri(content_type: &str, bytes: &[u8]) -> Option<String> {
    if !inlinable(content_type, bytes) {
        return None;
    }
    Some(format!(
        "data:{content_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// True for an image that may be shown inside a body (see [`inline_image_uri`]).
pub fn inlinable(content_type: &str, bytes: &[u8]) -> bool {
    matches!(content_type, "image/png" | "image/gif" | "image/jpeg")
        && image_dimensions(bytes)
            .is_some_and(|(w, h)| w > 0 && h > 0 && w * h <= MAX_INLINE_PIXELS)
}

/// Width and height a PNG, GIF or JPEG declares, read from its header.
fn image_dimensions(b: &[u8]) -> Option<(u64, u64)> {
    let be32 = |i: usize| -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(
            b.get(i..i + 4)?.try_into().ok()?,
        )))
    };
    let be16 = |i: usize| -> Option<u64> {
        Some(u64::from(u16::from_be_bytes(
            b.get(i..i + 2)?.try_into().ok()?,
        )))
    };
    if b.starts_with(b"\x89PNG\r\n\x1a\n") && b.get(12..16) == Some(b"IHDR") {
        return Some((be32(16)?, be32(20)?));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        let le16 = |i: usize| {
            Some(u64::from(u16::from_le_bytes(
                b.get(i..i + 2)?.try_into().ok()?,
            )))
        };
        return Some((le16(6)?, le16(8)?));
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        // Walk the segments to the first start-of-frame marker.
        let mut i = 2;
        while i + 4 <= b.len() {
            if b[i] != 0xFF {
                return None;
            }
            let marker = b[i + 1];
            if marker == 0xFF {
                i += 1;
                continue;
            }
            let len = be16(i + 2)? as usize;
            if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                return Some((be16(i + 7)?, be16(i + 5)?));
            }
            i += 2 + len;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> Sanitized {
        sanitize_html(html, HtmlPolicy::default())
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_are_removed() {
        let s = clean(
            r#"<p>hi</p><script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a><svg onload=alert(4)></svg><iframe src="https://e.example/"></iframe><form action="https://e.example/"><input></form>"#,
        );
        let h = s.html.as_str();
        for bad in [
            "<script",
            "onerror",
            "javascript:",
            "<svg",
            "<iframe",
            "<form",
            "<input",
            "alert(1)",
        ] {
            assert!(!h.contains(bad), "{bad} left in {h}");
        }
        assert!(h.contains("<p>hi</p>"));
    }

    #[test]
    fn remote_images_are_blocked_unless_allowed() {
        let html = r#"<img src="https://t.example/p.gif" alt="pixel"><div style="color:red;background:url(https://t.example/b.png)">x</div>"#;
        let s = clean(html);
        assert!(s.had_remote);
        assert!(!s.html.as_str().contains("t.example"), "{}", s.html);
        assert!(s.html.as_str().contains("color:red"));
        let allowed = sanitize_html(
            html,
            HtmlPolicy {
                allow_remote: true,
                ..Default::default()
            },
        );
        assert!(allowed.html.as_str().contains("https://t.example/p.gif"));
    }

    #[test]
    fn cid_images_are_rewritten_and_unknown_cids_dropped() {
        let mut inline = HashMap::new();
        inline.insert("logo@x".to_owned(), "data:image/png;base64,AAAA".to_owned());
        let s = sanitize_html(
            r#"<img src="cid:logo@x"><img src="cid:other@x">"#,
            HtmlPolicy {
                allow_remote: false,
                inline_images: inline,
                ..HtmlPolicy::default()
            },
        );
        assert!(
            s.html
                .as_str()
                .contains(r#"src="data:image/png;base64,AAAA""#)
        );
        assert!(!s.html.as_str().contains("other@x"));
    }

    #[test]
    fn position_and_expression_styles_are_dropped() {
        let s = clean(
            r#"<div style="position:fixed;top:0;color:blue;width:expression(alert(1))">x</div>"#,
        );
        let h = s.html.as_str();
        assert!(!h.contains("position"), "{h}");
        assert!(!h.contains("expression"), "{h}");
        assert!(h.contains("color:blue"), "{h}");
    }

    #[test]
    fn head_content_does_not_leak_into_the_body() {
        let s = clean(
            "<html><head><title>Newsletter title</title><style>p{color:red}</style></head><body><p>Body</p></body></html>",
        );
        assert!(!s.html.as_str().contains("Newsletter title"), "{}", s.html);
        assert!(!s.html.as_str().contains("color:red"));
        assert!(s.html.as_str().contains("<p>Body</p>"));
    }

    #[test]
    fn links_open_in_a_new_tab_without_referrer() {
        let s = clean(r#"<a href="https://example.org/">x</a>"#);
        assert!(s.html.as_str().contains(r#"rel="noopener noreferrer""#));
        assert!(s.html.as_str().contains(r#"target="_blank""#));
    }

    #[test]
    fn comments_do_not_hide_css_keywords_and_data_images_are_named_exactly() {
        let s = clean(
            r#"<p style="width:ex/**/pression(alert(1));color:red">a</p><p style="height:exp/*!*/ression(x)">b</p>"#,
        );
        assert!(!s.html.as_str().contains("pression"), "{}", s.html);
        assert!(s.html.as_str().contains("color:red"), "{}", s.html);
        for bad in [
            "data:image/bmp;base64,Qk0=",
            "data:image/x-icon,AAAA",
            "data:image/ svg+xml,<svg onload=alert(1)>",
            "data:image/svg+xml;base64,PHN2Zz4=",
            "data:image/pngx;base64,AAAA",
        ] {
            let out = clean(&format!(r#"<img src="{bad}">"#));
            assert!(!out.html.as_str().contains("data:"), "{bad}: {}", out.html);
        }
        let ok = clean(r#"<img src="data:image/png;base64,iVBORw0KGgo=">"#);
        assert!(ok.html.as_str().contains("data:image/png;base64,"));
    }

    #[test]
    fn enormous_words_get_break_opportunities_and_nothing_else_changes() {
        let word = "A".repeat(1000);
        let html = clean(&format!(
            "<p title=\"{}\">{word}</p><p>a &amp; b</p>",
            "B".repeat(500)
        ));
        let out = html.html.as_str();
        assert_eq!(out.matches("<wbr>").count(), 4, "{}", &out[..300]);
        assert!(
            out.contains(&format!("title=\"{}\"", "B".repeat(500))),
            "attributes untouched"
        );
        assert_eq!(
            out.replace("<wbr>", "").matches('A').count(),
            1000,
            "no text lost"
        );
        let amp = format!("{}&amp;{}", "x".repeat(199), "y".repeat(10));
        let broken = break_long_words(&amp);
        assert!(
            !broken.contains("&am<wbr>") && broken.contains("&amp;"),
            "{broken}"
        );
        let text = text_to_html(&"Z".repeat(450));
        assert_eq!(text.as_str().matches("<wbr>").count(), 2);
        let short = "<p>un texte ordinaire, avec des mots courts</p>";
        assert_eq!(break_long_words(short), short);
    }

    #[test]
    fn only_reasonable_raster_images_are_inlined() {
        let png = |w: u32, h: u32| {
            let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
            b.extend_from_slice(&w.to_be_bytes());
            b.extend_from_slice(&h.to_be_bytes());
            b.extend_from_slice(&[8, 2, 0, 0, 0]);
            b
        };
        assert!(
            inline_image_uri("image/png", &png(2, 2))
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
        assert!(
            inline_image_uri("image/png", &png(20_000, 20_000)).is_none(),
            "decompression bomb"
        );
        assert!(inline_image_uri("image/svg+xml", b"<svg onload=alert(1)>").is_none());
        assert!(inline_image_uri("image/png", b"not a png").is_none());
        let gif = b"GIF89a\x10\x00\x20\x00rest";
        assert_eq!(image_dimensions(gif), Some((16, 32)));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x01,
            0x40, 0x02, 0x80, 0x03,
        ];
        assert_eq!(image_dimensions(&jpeg), Some((640, 320)));
    }

    /// Sanitised with links checked, the warning worded "goes to".
    fn with_link_check(html: &str) -> Sanitized {
        sanitize_html(
            html,
            HtmlPolicy {
                link_warning: "goes to".into(),
                ..HtmlPolicy::default()
            },
        )
    }

    #[test]
    fn links_showing_another_address_are_flagged() {
        let flag = |html: &str| with_link_check(html).html.to_string();
        let bad = flag(
            r#"<a href="https://evil.example/login?x=1&amp;y=2">https://www.paypal.com/signin</a>"#,
        );
        assert!(
            bad.contains("\u{26a0} goes to evil.example</span>"),
            "{bad}"
        );
        let bare = flag(r#"<p><a href="http://198.51.100.7/"><b>www.ma-banque.fr</b></a></p>"#);
        assert!(bare.contains("goes to 198.51.100.7"), "{bare}");
        let userinfo = flag(r#"<a href="https://bank.example@evil.example/">bank.example</a>"#);
        assert!(userinfo.contains("goes to evil.example"), "{userinfo}");
        for fine in [
            r#"<a href="https://www.example.org/x">www.example.org/x</a>"#,
            r#"<a href="https://news.example.net/a">example.net</a>"#,
            r#"<a href="https://t.example/r?u=1">Click here</a>"#,
            r#"<a href="https://t.example/r">Version 2.0 is out</a>"#,
            r#"<a href="mailto:a@example.org">example.com</a>"#,
        ] {
            assert!(!flag(fine).contains("deceptive-link"), "{fine}");
        }
        let label =
            flag(r#"<a href="https://evil.example/">x.org</a>"#.replace("x.org", "b.org").as_str());
        assert!(label.contains("deceptive-link"));
    }

    #[test]
    fn homograph_link_hosts_are_flagged_in_punycode() {
        let flag = |html: &str| with_link_check(html).deceptive;
        // Cyrillic letters that read as "apple.example", behind a link that says apple.example.
        let found = flag(
            "<a href=\"https://\u{430}\u{440}\u{440}\u{4cf}\u{435}.example/\">apple.example</a>",
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].goes_to.starts_with("xn--"), "{:?}", found[0]);
        // Even when the text shows the same look-alike host.
        let found =
            flag("<a href=\"https://p\u{430}ypal.example/\">https://p\u{430}ypal.example/</a>");
        assert!(found[0].goes_to.starts_with("xn--"), "{:?}", found[0]);
        // A real IDN link, written as Unicode on one side and punycode on the other, is fine.
        assert!(
            flag("<a href=\"https://xn--bcher-kva.example/\">b\u{fc}cher.example</a>").is_empty()
        );
        assert!(
            flag("<a href=\"https://b\u{fc}cher.example/\">b\u{fc}cher.example</a>").is_empty()
        );
    }

    #[test]
    fn bombs_are_not_rendered_and_ordinary_html_is() {
        let nested = format!("{}x{}", "<div>".repeat(100_000), "</div>".repeat(100_000));
        assert!(!renderable(&nested), "100,000 nested elements");
        assert!(!renderable(&"a".repeat(MAX_HTML_BYTES + 1)), "too large");
        let newsletter = format!(
            "<table><tr><td>{}</td></tr></table>",
            "<p>para<li>item<td>cell<br><img src=x>".repeat(5_000)
        );
        assert!(
            renderable(&newsletter),
            "unclosed paragraphs and cells are flat"
        );
        let deep_ok = format!("{}x{}", "<div>".repeat(200), "</div>".repeat(200));
        assert!(renderable(&deep_ok));
        assert!(renderable("<b>a < b and c<d</b> <!-- <div> --> <div/>"));
    }

    #[test]
    fn text_is_escaped_and_linkified() {
        let h = text_to_html("see https://example.org/a?b=1&c=2 <b>x</b> or mail bob@example.org");
        let h = h.as_str();
        assert!(
            h.contains(r#"<a href="https://example.org/a?b=1&amp;c=2""#),
            "{h}"
        );
        assert!(h.contains("&lt;b&gt;x&lt;/b&gt;"), "{h}");
        assert!(h.contains(r#"href="mailto:bob@example.org""#), "{h}");
    }
}
