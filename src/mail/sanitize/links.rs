//! Deceptive links: after a link whose text shows one address but goes to another host (or to a
//! host spelled in look-alike letters), a visible note names the real host. It works on the
//! sanitiser's output, whose tags and quoting are regular, so it never parses hostile HTML itself.

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

/// After each link whose text looks like an address on another host than the one it goes to (the
/// classic phishing link), adds a visible note with the real host. Works on the sanitiser's own
/// output, whose tags and quoting are regular.
pub(super) fn flag_deceptive_links(html: &str, label: &str) -> (String, Vec<DeceptiveLink>) {
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
    let clean = crate::mail::display::clean(s);
    match crate::mail::display::shorten(&clean, max) {
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
    let shown_target = crate::mail::display::domain(&target);
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

#[cfg(test)]
mod tests {
    use crate::mail::sanitize::{HtmlPolicy, Sanitized, sanitize_html};

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
}
