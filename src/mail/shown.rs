//! A message body made ready to show: HTML sanitised (each part on its own, so that markup cannot
//! span parts) off the async threads and within a time limit, or the text version when the HTML
//! is too large, too deep or too slow to sanitise; plain text escaped with its links made
//! clickable. The message page and its body frame both show what this returns.

use std::collections::HashMap;
use std::time::Duration;

use super::parse::{Body, MessageView};
use super::sanitize::{self, HtmlPolicy, SafeCss, SafeHtml, Sanitized};

/// How long sanitising one body may take before the page shows its text instead.
const RENDER_TIMEOUT: Duration = Duration::from_secs(5);

/// A body as it will be shown.
pub enum Shown {
    /// Sanitised HTML, for the sandboxed frame.
    Html(Sanitized),
    /// Text; `too_complex` when it stands in for HTML that could not be sanitised.
    Text {
        html: SafeHtml,
        too_complex: bool,
    },
    Empty,
}

impl Shown {
    /// The markup and style sheet of the body frame.
    pub fn into_frame(self) -> (SafeHtml, SafeCss) {
        match self {
            Shown::Html(s) => (s.html, s.css),
            Shown::Text { html, .. } => (html, SafeCss::default()),
            Shown::Empty => (SafeHtml::default(), SafeCss::default()),
        }
    }
}

/// The body of `msg`, ready to show. `allow_remote`: remote images load; `link_warning`: the words
/// put beside a link whose text shows another address than it goes to.
pub async fn body(msg: &MessageView, allow_remote: bool, link_warning: String) -> Shown {
    match &msg.body {
        Body::Html(parts) => match html(parts, msg, allow_remote, link_warning).await {
            Some(s) => Shown::Html(s),
            None => Shown::Text {
                html: sanitize::fallback_text(&parts.join("\n"), msg.text_alternative.as_deref()),
                too_complex: true,
            },
        },
        Body::Text(t) => Shown::Text {
            html: sanitize::text_to_html(t),
            too_complex: false,
        },
        Body::Empty => Shown::Empty,
    }
}

/// Sanitises an HTML body within [`RENDER_TIMEOUT`]; `None` when it is too large or deep to try,
/// or took too long.
async fn html(
    parts: &[String],
    msg: &MessageView,
    allow_remote: bool,
    link_warning: String,
) -> Option<Sanitized> {
    let total: usize = parts.iter().map(String::len).sum();
    if total > sanitize::MAX_HTML_BYTES || !parts.iter().all(|p| sanitize::renderable(p)) {
        return None;
    }
    let inline_images = msg
        .inline_images
        .iter()
        .filter_map(|(cid, img)| {
            sanitize::inline_image_uri(&img.content_type, &img.bytes).map(|u| (cid.clone(), u))
        })
        .collect::<HashMap<_, _>>();
    let parts = parts.to_vec();
    let task = tokio::task::spawn_blocking(move || {
        let mut had_remote = false;
        let mut pieces = Vec::with_capacity(parts.len());
        let mut sheets = Vec::with_capacity(parts.len());
        let mut deceptive = Vec::new();
        for part in &parts {
            let s = sanitize::sanitize_html(
                part,
                HtmlPolicy {
                    allow_remote,
                    inline_images: inline_images.clone(),
                    link_warning: link_warning.clone(),
                },
            );
            had_remote |= s.had_remote;
            pieces.push(s.html);
            sheets.push(s.css);
            deceptive.extend(s.deceptive);
        }
        deceptive.truncate(sanitize::MAX_DECEPTIVE_LISTED);
        Sanitized {
            html: SafeHtml::joined(pieces),
            css: SafeCss::joined(sheets),
            had_remote,
            deceptive,
        }
    });
    match tokio::time::timeout(RENDER_TIMEOUT, task).await {
        Ok(Ok(s)) => Some(s),
        _ => {
            tracing::warn!("an HTML body took too long to sanitise; shown as text");
            None
        }
    }
}
