//! Making message bodies safe to show: HTML goes through ammonia with an explicit allow-list, plain text
//! is escaped with its links made clickable. The result is a [`SafeHtml`], the only kind of string a
//! template may print unescaped.
//!
//! This is the first layer only: the web layer also shows HTML bodies in a sandboxed frame under a
//! `default-src 'none'` Content-Security-Policy, so a script that slipped through still could not run.
//!
//! One concern per file: `html.rs` (the ammonia policy, where a body goes in), `css.rs` (the
//! declarations allowed in styles), `stylesheet.rs` (a message's own `<style>` sheets), `links.rs`
//! (links that show one address and go to another), `text.rs` (plain text to HTML), `images.rs`
//! (which inline images may be shown) and `safe.rs` (the safe string types). Uses go one way:
//! `html` uses `css`, `stylesheet`, `links`, `text` and `safe`; `stylesheet` uses `css`; `text` uses
//! `safe`; `images` stands alone; nothing uses `html`.

mod css;
mod html;
mod images;
mod links;
mod safe;
mod stylesheet;
mod text;

pub use html::{
    HtmlPolicy, MAX_DEPTH, MAX_HTML_BYTES, Sanitized, fallback_text, renderable, sanitize_html,
};
pub use images::{MAX_INLINE_PIXELS, inlinable, inline_image_uri};
pub use links::{DeceptiveLink, MAX_DECEPTIVE_LISTED};
pub use safe::{MAX_MESSAGE_SHEET_BYTES, SafeCss, SafeHtml};
pub use text::text_to_html;
