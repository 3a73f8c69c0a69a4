//! Courrier's cookies, all with the same attributes: `HttpOnly`, `SameSite=Lax`, `Path=/`, and
//! `Secure` when the public URL is https. The session cookie (set by tower-sessions) and the compose
//! stash cookie take them from here.

use axum::http::{HeaderMap, HeaderValue, header};
use tower_sessions::cookie::{Cookie, SameSite};

/// The SameSite rule: sent on top-level navigations from other sites (a link in another mail
/// client opens Courrier logged in), never on their subrequests or posts.
pub const SAME_SITE: SameSite = SameSite::Lax;

/// A `Set-Cookie` value for `name=value`, kept `max_age_secs`.
pub fn set(name: &str, value: &str, max_age_secs: i64, https: bool) -> HeaderValue {
    let c = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SAME_SITE)
        .secure(https)
        .max_age(tower_sessions::cookie::time::Duration::seconds(
            max_age_secs,
        ))
        .build();
    // A cookie built from a token of ours holds only visible ASCII.
    HeaderValue::from_str(&c.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of the request's cookie `name`.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
