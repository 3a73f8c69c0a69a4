//! Every URL the application links or redirects to is built here, so that percent-encoding of folder
//! names (any IMAP name: non-ASCII, with `/` hierarchy, spaces, quotes) lives in one place.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::mail::{FolderName, Section, Uid};

/// Everything but unreserved characters is encoded, `/` included: a folder is one path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub const LOGIN: &str = "/login";
pub const LOGOUT: &str = "/logout";
pub const COMPOSE: &str = "/compose";
pub const SETTINGS: &str = "/settings";
pub const FOLDERS: &str = "/folders";
pub const SEARCH: &str = "/search";
pub const CHECK: &str = "/check";
/// Liveness and readiness, for load balancers (no login).
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const TRUST_SENDER: &str = "/settings/trust-sender";
pub const FOLDER_CREATE: &str = "/folders/create";
pub const FOLDER_RENAME: &str = "/folders/rename";
pub const FOLDER_DELETE: &str = "/folders/delete";
pub const FOLDER_SUBSCRIBE: &str = "/folders/subscribe";
/// Where a logged-in user lands.
pub const HOME: &str = "/mail/INBOX";
pub const STYLESHEET: &str = "/static/css/app.css";
pub const FAVICON: &str = "/static/icons/favicon.svg";

fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// `/mail/{folder}`
pub fn folder(f: &FolderName) -> String {
    format!("/mail/{}", seg(f.as_str()))
}

/// A folder as it travels in forms, data attributes and event payloads: its URL path segment, so that
/// whatever the server named it (direction marks, C1 controls) never appears raw in a page.
pub fn folder_key(f: &FolderName) -> String {
    seg(f.as_str())
}

/// The folder of a [`folder_key`].
pub fn folder_from_key(key: &str) -> Option<FolderName> {
    let decoded = percent_encoding::percent_decode_str(key)
        .decode_utf8()
        .ok()?;
    FolderName::new(&decoded)
}

/// `POST /mail/{folder}/actions`: flag, move, delete the selected messages.
pub fn actions(f: &FolderName) -> String {
    format!("{}/actions", folder(f))
}

/// `POST /mail/{folder}/empty`: Empty Trash / Empty Junk.
pub fn empty(f: &FolderName) -> String {
    format!("{}/empty", folder(f))
}

/// `/mail/{folder}?k=v&...`: a list view with its sort, search and page.
pub fn folder_with(f: &FolderName, params: &[(&str, String)]) -> String {
    if params.is_empty() {
        return folder(f);
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    format!("{}?{}", folder(f), q.finish())
}

/// `/mail/{folder}/{uid}`
pub fn message(f: &FolderName, uid: Uid) -> String {
    format!("{}/{}", folder(f), uid)
}

/// `/mail/{folder}/{uid}?remote=1` when remote content is to be shown.
pub fn message_with_remote(f: &FolderName, uid: Uid) -> String {
    format!("{}?remote=1", message(f, uid))
}

/// The sandboxed body frame of a message.
pub fn body(f: &FolderName, uid: Uid, remote: bool) -> String {
    if remote {
        format!("{}/body?remote=1", message(f, uid))
    } else {
        format!("{}/body", message(f, uid))
    }
}

/// The body frame, naming the rendering the page kept for it (see `web::frames`).
pub fn body_kept(f: &FolderName, uid: Uid, remote: bool, token: &str) -> String {
    let sep = if remote { '&' } else { '?' };
    format!("{}{sep}r={}", body(f, uid, remote), seg(token))
}

/// One MIME part, downloaded.
pub fn part(f: &FolderName, uid: Uid, section: &Section) -> String {
    format!("{}/part/{}", message(f, uid), section)
}

/// The original message as .eml.
pub fn raw(f: &FolderName, uid: Uid) -> String {
    format!("{}/raw", message(f, uid))
}

/// The compose form answering or forwarding a message: `mode` is `reply`, `reply-all`, `forward` or
/// `forward-attached`.
pub fn compose_from(mode: &str, f: &FolderName, uid: Uid) -> String {
    format!("{COMPOSE}?mode={mode}&folder={}&uid={uid}", seg(f.as_str()))
}

/// The compose form resuming a draft of the Drafts folder.
pub fn compose_draft(uid: Uid) -> String {
    format!("{COMPOSE}?draft={uid}")
}

/// The compose form given back after logging in again.
pub fn compose_restore(id: &str) -> String {
    format!("{COMPOSE}?restore={}", seg(id))
}

/// The login page, remembering where to go afterwards (only local paths are kept).
pub fn login_then(next: &str) -> String {
    if is_local_path(next) && next != "/" {
        format!("{LOGIN}?next={}", seg(next))
    } else {
        LOGIN.to_owned()
    }
}

/// The login page after the session ended, then back to `next`.
pub fn login_expired_then(next: &str) -> String {
    format!("{LOGIN}?expired=1&next={}", seg(next))
}

/// True for `/path` but not `//host` or `/\host`: a redirect target that cannot leave the site.
pub fn is_local_path(p: &str) -> bool {
    p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\") && !p.contains(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_one_encoded_segment() {
        let f = FolderName::new("Archives/Été 2025 \"x\"").unwrap();
        assert_eq!(
            folder(&f),
            "/mail/Archives%2F%C3%89t%C3%A9%202025%20%22x%22"
        );
        assert_eq!(message(&FolderName::inbox(), Uid(7)), "/mail/INBOX/7");
        assert_eq!(
            part(
                &FolderName::inbox(),
                Uid(7),
                &Section::parse("2.1").unwrap()
            ),
            "/mail/INBOX/7/part/2.1"
        );
    }

    #[test]
    fn login_redirects_stay_on_site() {
        assert_eq!(login_then("/mail/INBOX"), "/login?next=%2Fmail%2FINBOX");
        assert_eq!(login_then("//evil.example/"), "/login");
        assert_eq!(login_then("https://evil.example/"), "/login");
    }
}
