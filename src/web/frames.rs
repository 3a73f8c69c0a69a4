//! Message bodies the message page has just sanitised, kept for the frame that shows them.
//!
//! The page and its sandboxed body frame are two requests. Without this, the frame fetched the
//! message from the server, parsed it and sanitised it again, doubling the cost of every message
//! opened. The page now keeps what it rendered under a random token carried by the frame's URL, for
//! the same session only, for a minute; the frame serves it when it is there and does the work itself
//! when it is not (another instance, an old tab, a reload after the minute). A token names exactly
//! one rendering, so a folder whose UIDs were reused cannot serve another message's body. Memory is
//! bounded by total size, the oldest renderings going first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::mail::sanitize::{SafeCss, SafeHtml};

/// How long a rendering waits for its frame.
const KEEP: Duration = Duration::from_secs(60);
/// Most bytes of bodies kept, over all sessions.
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// A sanitised body, as the frame prints it.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub html: SafeHtml,
    pub css: SafeCss,
    /// Rendered with remote content allowed.
    pub remote: bool,
}

struct Entry {
    owner: String,
    token: String,
    at: Instant,
    size: usize,
    body: Arc<Rendered>,
}

/// The kept renderings, oldest first.
#[derive(Clone, Default)]
pub struct Frames {
    inner: Arc<Mutex<(VecDeque<Entry>, usize)>>,
}

impl Frames {
    /// Keeps `body` for `owner` (a session's pool key); returns the token for the frame's URL.
    pub fn keep(&self, owner: &str, body: Rendered) -> String {
        let token = crate::web::auth::random_token()[..32].to_owned();
        let size = body.html.as_str().len() + body.css.as_str().len();
        if size > MAX_BYTES / 8 {
            return token; // a body this large is rendered again by its frame rather than kept
        }
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (entries, total) = &mut *guard;
        let now = Instant::now();
        while let Some(first) = entries.front() {
            if now.duration_since(first.at) < KEEP && *total + size <= MAX_BYTES {
                break;
            }
            *total -= first.size;
            entries.pop_front();
        }
        *total += size;
        entries.push_back(Entry {
            owner: owner.to_owned(),
            token: token.clone(),
            at: now,
            size,
            body: Arc::new(body),
        });
        token
    }

    /// The rendering `token` names, if `owner` kept it less than a minute ago.
    pub fn get(&self, owner: &str, token: &str) -> Option<Arc<Rendered>> {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .0
            .iter()
            .rev()
            .find(|e| e.token == token && e.owner == owner && e.at.elapsed() < KEEP)
            .map(|e| e.body.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize) -> Rendered {
        Rendered {
            html: SafeHtml::joined(vec![]),
            css: SafeCss::default(),
            remote: n > 0,
        }
    }

    #[test]
    fn a_rendering_is_only_for_its_session() {
        let frames = Frames::default();
        let t = frames.keep("alice", body(1));
        assert!(frames.get("alice", &t).is_some_and(|b| b.remote));
        assert!(frames.get("bob", &t).is_none());
        assert!(frames.get("alice", "other").is_none());
    }
}
