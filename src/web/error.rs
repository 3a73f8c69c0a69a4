//! The one place where errors become responses. Handlers return `WebError`; `into_response` picks the
//! status and marks the response with an [`ErrorPage`], and the `render_errors` middleware, which knows
//! the request's language and id, renders the page and logs the cause.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::mail::MailError;
use crate::web::urls;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// 303 to the login page, then back to `next`.
    #[error("not logged in")]
    NotLoggedIn { next: String },
    /// 303 to the login page with "your session has ended": the stored credentials stopped working.
    #[error("session expired")]
    SessionExpired,
    /// 303 to the login page with "the server's key changed": sealed passwords no longer open.
    #[error("session key changed")]
    SessionKeyChanged,
    /// 404 "folder does not exist".
    #[error("folder not found")]
    FolderNotFound,
    /// 404 "message does not exist (moved or deleted elsewhere)".
    #[error("message not found")]
    MessageNotFound,
    /// 404 "attachment does not exist".
    #[error("part not found")]
    PartNotFound,
    /// 404 for any unknown URL.
    #[error("page not found")]
    NotFound,
    /// 400 "request not valid".
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 503 "sessions are unavailable for a moment, try again": the session store does not answer.
    #[error("session store unavailable: {0}")]
    StoreUnavailable(String),
    /// 503 "mail server unreachable, try again".
    #[error("mail server unavailable: {0}")]
    Unavailable(String),
    /// 500 with the request id; the cause is only logged.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<MailError> for WebError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::AuthFailed => WebError::SessionExpired,
            MailError::FolderNotFound => WebError::FolderNotFound,
            MailError::MessageNotFound => WebError::MessageNotFound,
            MailError::PartNotFound => WebError::PartNotFound,
            MailError::Unreachable(_)
            | MailError::Tls(_)
            | MailError::ConnectionLost(_)
            | MailError::Timeout
            | MailError::Busy
            | MailError::InUse => WebError::Unavailable(e.to_string()),
            MailError::Refused(m) => WebError::Internal(format!("server refused: {m}")),
        }
    }
}

impl From<tower_sessions::session::Error> for WebError {
    fn from(e: tower_sessions::session::Error) -> Self {
        crate::metrics::metrics().session_store_errors.inc();
        WebError::StoreUnavailable(e.to_string())
    }
}

/// What the error page shows, attached to the response for `render_errors`.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    /// Key of the message in the locale files.
    pub message_key: &'static str,
    /// The cause, for the log only.
    pub cause: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, key) = match &self {
            WebError::NotLoggedIn { next } => {
                return redirect(&urls::login_then(next));
            }
            WebError::SessionExpired => {
                return redirect(&format!("{}?expired=1", urls::LOGIN));
            }
            WebError::SessionKeyChanged => {
                return redirect(&format!("{}?expired=key", urls::LOGIN));
            }
            WebError::FolderNotFound => (StatusCode::NOT_FOUND, "error-folder-not-found"),
            WebError::MessageNotFound => (StatusCode::NOT_FOUND, "error-message-not-found"),
            WebError::PartNotFound => (StatusCode::NOT_FOUND, "error-part-not-found"),
            WebError::NotFound => (StatusCode::NOT_FOUND, "error-not-found"),
            WebError::BadRequest(_) => (StatusCode::BAD_REQUEST, "error-bad-request"),
            WebError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "error-unavailable"),
            WebError::StoreUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "error-store-unavailable")
            }
            WebError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
        };
        let mut resp = status.into_response();
        resp.extensions_mut().insert(ErrorPage {
            message_key: key,
            cause: self.to_string(),
        });
        resp
    }
}

/// A 303 See Other, so that a POST is followed by a GET.
pub fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}
