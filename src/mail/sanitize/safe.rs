//! The two kinds of string a template may print unescaped, [`SafeHtml`] and [`SafeCss`]. Their text
//! can only be set inside `sanitize`, by the filters next to this file, so holding one is proof that
//! the text went through them.

/// HTML that has been through the sanitiser (or was built from escaped text).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SafeHtml(pub(super) String);

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
pub struct SafeCss(pub(super) String);

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
