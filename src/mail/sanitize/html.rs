//! The HTML policy: which elements and attributes of a message body survive (an explicit ammonia
//! allow-list, every URL and `style` attribute checked on the way), and which bodies are too large or
//! too deep to sanitise at all (they are shown as text instead). [`sanitize_html`] is where an HTML
//! body goes in; it calls on the other filters of `sanitize`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::css::{STYLE_PROPERTIES, filter_style};
use super::links::{DeceptiveLink, flag_deceptive_links};
use super::safe::{SafeCss, SafeHtml};
use super::text::{break_long_words, text_to_html};

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
}
