//! Plain text made into HTML: escaped, with its web and mail addresses made into links. Also the
//! `<wbr>` breaks that keep one enormous word from freezing the reader's tab, which sanitised HTML
//! gets as well.

use super::safe::SafeHtml;

/// Longest run of text without a break opportunity left as it is.
const MAX_WORD: usize = 200;

/// Adds an invisible `<wbr>` break opportunity every [`MAX_WORD`] characters of a word longer than
/// that, in text only (tags, attribute values and entities are left whole). Browsers lay out one
/// enormous word in time that grows with the square of its length (a 1 MB word takes Chromium over a
/// minute), so a message made of one could freeze the reader's tab.
pub(super) fn break_long_words(html: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::sanitize::{HtmlPolicy, Sanitized, sanitize_html};

    fn clean(html: &str) -> Sanitized {
        sanitize_html(html, HtmlPolicy::default())
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
