//! The CSS declaration filter, one for `style` attributes (through the HTML policy) and `<style>`
//! sheets (through `stylesheet.rs`) alike, so that the two cannot disagree on what is safe: the
//! properties allowed, and the test that a declaration cannot load, run or escape anything.

use std::sync::atomic::{AtomicBool, Ordering};

/// CSS properties kept in `style` attributes: layout and typography that cannot reach the network or
/// cover the page. `position`, `background-image`, `content`, `behavior` and friends are not here.
pub(super) const STYLE_PROPERTIES: &[&str] = &[
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

/// Drops declarations that could load something or escape the message's box, whatever their property.
pub(super) fn filter_style(style: &str, _allow_remote: bool, had_remote: &AtomicBool) -> String {
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

#[cfg(test)]
mod tests {
    use crate::mail::sanitize::{HtmlPolicy, Sanitized, sanitize_html};

    fn clean(html: &str) -> Sanitized {
        sanitize_html(html, HtmlPolicy::default())
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
}
