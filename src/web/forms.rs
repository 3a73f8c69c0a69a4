//! Query strings and posted forms, typed: [`Params`] reads a page's query string. [`Posted`] reads an `application/x-www-form-urlencoded` body into a struct
//! (a name given several times, like the toolbar's `uid` boxes, fills a `Vec`); [`CsrfForm`] also
//! checks that the form carries the session's token before the handler runs. Either way, bad input
//! is answered with Courrier's own error page in the user's language, never a framework's text.
//!
//! The compose form (multipart, with files) is read by `web::compose` itself: a wrong token there
//! must not lose what was typed, so the text comes back with a fresh token instead of an error.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::web::error::WebError;
use crate::web::extract::session_user;

/// A page's query string, typed; what does not parse gets the translated error page.
pub struct Params<T>(pub T);

/// A posted form's fields.
pub struct Posted<T>(pub T);

/// A posted form's fields, once its token matched the session's.
pub struct CsrfForm<T>(pub T);

/// The token every state-changing form carries.
#[derive(Deserialize, Default)]
struct Token {
    #[serde(default)]
    csrf: String,
}

/// Compares tokens without stopping at the first difference.
pub fn same_token(posted: &str, expected: &str) -> bool {
    let (a, b) = (posted.as_bytes(), expected.as_bytes());
    !b.is_empty()
        && a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, WebError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|e| WebError::BadRequest(format!("form body: {e}")))
}

fn fields<T: DeserializeOwned>(body: &[u8]) -> Result<T, WebError> {
    serde_html_form::from_bytes(body).map_err(|e| WebError::BadRequest(format!("form: {e}")))
}

impl<S, T> FromRequestParts<S> for Params<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_html_form::from_str(query)
            .map(Params)
            .map_err(|e| WebError::BadRequest(format!("query: {e}")))
    }
}

impl<S, T> FromRequest<S> for Posted<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        fields(&body(req, state).await?).map(Posted)
    }
}

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, b) = req.into_parts();
        let (_, user) = session_user(&mut parts, state).await?;
        let bytes = body(Request::from_parts(parts, b), state).await?;
        let token: Token = serde_html_form::from_bytes(&bytes).unwrap_or_default();
        if !same_token(&token.csrf, &user.csrf) {
            return Err(WebError::BadRequest("form without a valid token".into()));
        }
        fields(&bytes).map(CsrfForm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_when_equal_and_not_empty() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
        assert!(!same_token("", ""), "an empty token never matches");
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Toolbar {
        #[serde(default)]
        uid: Vec<u32>,
        action: Option<String>,
    }

    #[test]
    fn repeated_names_fill_a_list() {
        let t: Toolbar = fields(b"csrf=x&uid=3&uid=7&action=read").unwrap();
        assert_eq!(t.uid, vec![3, 7]);
        assert_eq!(t.action.as_deref(), Some("read"));
        let none: Toolbar = fields(b"csrf=x").unwrap();
        assert!(none.uid.is_empty());
        assert!(fields::<Toolbar>(b"uid=abc").is_err(), "not a number");
    }
}
