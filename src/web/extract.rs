//! Extractors: the language of the request, and the logged-in user with access to their mail.

use axum::extract::{FromRef, FromRequestParts, Path};
use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::app::AppState;
use crate::i18n::Lang;
use crate::mail::MailError;
use crate::mail::account::{Credentials, Protocol};
use crate::mail::mailbox::Mailbox;
use crate::mail::{FolderName, Section, Uid};
use crate::web::error::WebError;

/// What the browser session remembers about its user. The password is not here: it stays in the IMAP
/// pool's memory, found through `pool_key`, a random secret that only this session knows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionUser {
    pub address: String,
    pub pool_key: String,
    /// IMAP, or POP3 (mail downloaded into Courrier's store).
    #[serde(default = "imap")]
    pub protocol: Protocol,
    /// Token that every state-changing form of this session must carry.
    pub csrf: String,
    /// When the user logged in (seconds since the epoch): the session ends a fixed time later.
    #[serde(default)]
    pub login_at: i64,
    /// The password, sealed under the server's key (`store::secret`): what lets any instance log in
    /// again for this session.
    #[serde(default)]
    pub sealed: String,
}

fn imap() -> Protocol {
    Protocol::Imap
}

impl SessionUser {
    pub const KEY: &'static str = "user";
}

/// True when a session that logged in at `login_at` has lived longer than `max`.
pub fn outlived(login_at: i64, now: i64, max: std::time::Duration) -> bool {
    now.saturating_sub(login_at) > max.as_secs() as i64
}

/// The client's address, as [`crate::web::throttle::client_address`] decides it.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub std::net::IpAddr);

impl<S> FromRequestParts<S> for ClientAddr
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let xff = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        Ok(ClientAddr(crate::web::throttle::client_address(
            peer,
            xff,
            &app.config.trusted_proxies,
        )))
    }
}

/// The request's language, from `Accept-Language`.
#[derive(Clone, Copy, Debug)]
pub struct ReqLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for ReqLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ReqLang(lang_of(parts)))
    }
}

/// The language an `Accept-Language` header asks for.
pub fn lang_of(parts: &Parts) -> Lang {
    Lang::from_accept_language(
        parts
            .headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// The logged-in user. Rejects with a redirect to the login page (and back here afterwards).
#[derive(Clone)]
pub struct CurrentUser {
    pub user: SessionUser,
    pub lang: Lang,
    /// The account's mail, on the IMAP server or in the local store.
    pub mail: Mailbox,
    session: Session,
}

/// The request's session and the user logged in to it; without one, the login page, then back.
pub(crate) async fn session_user<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<(Session, SessionUser), WebError> {
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|_| WebError::Internal("session layer missing".into()))?;
    let user: Option<SessionUser> = session.get(SessionUser::KEY).await?;
    match user {
        Some(user) => Ok((session, user)),
        None => Err(WebError::NotLoggedIn {
            next: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        }),
    }
}

/// The session's mail, if this instance holds its connections (IMAP) or account (POP3).
fn mailbox_of(app: &AppState, user: &SessionUser) -> Option<Mailbox> {
    match user.protocol {
        Protocol::Imap => Mailbox::imap(&app.pool, &app.watchers, &user.pool_key),
        Protocol::Pop3 => Mailbox::local(&app.pops, &user.pool_key),
    }
}

/// Logs in again for a session this instance holds nothing for (after a restart, on another
/// instance, after an idle account was let go), with the password sealed in its record: one LOGIN
/// per instance per session, however many of its requests arrive at once. A password that no
/// longer opens (a new key) or is refused ends the session; a server that is down does not.
async fn reopen(
    app: &AppState,
    session: &Session,
    user: &SessionUser,
) -> Result<Mailbox, WebError> {
    let gate = lock(&app.reopening)
        .entry(user.pool_key.clone())
        .or_default()
        .clone();
    let _one_at_a_time = gate.lock().await;
    let result = async {
        if let Some(mail) = mailbox_of(app, user) {
            return Ok(mail);
        }
        let password = match user.sealed.as_str() {
            "" => None,
            sealed => app.secret.open(&user.address, sealed),
        };
        let Some(password) = password else {
            let _ = session.flush().await;
            return Err(if user.sealed.is_empty() {
                WebError::SessionExpired
            } else {
                WebError::SessionKeyChanged
            });
        };
        let servers = app
            .config
            .servers_for(&user.address)
            .map_err(|_| WebError::SessionExpired)?;
        let creds = Credentials::new(user.address.clone(), password.as_str());
        match app
            .start_mail_session(&user.pool_key, user.protocol, creds, servers)
            .await
        {
            Ok(()) => {
                tracing::info!(address = %user.address, "session's mail opened again");
                mailbox_of(app, user).ok_or(WebError::SessionExpired)
            }
            Err(MailError::AuthFailed) => {
                let _ = session.flush().await;
                Err(WebError::SessionExpired)
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    lock(&app.reopening).remove(&user.pool_key);
    result
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Key of the one-time notice shown on the next page ("Message sent").
const FLASH_KEY: &str = "flash";

impl<S> FromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let (session, user) = session_user(parts, state).await?;
        let now = chrono::Utc::now().timestamp();
        if outlived(user.login_at, now, app.config.session_max_lifetime) {
            // However active, a session ends: the passwords it holds are dropped with it.
            app.end_mail_session(&user.pool_key);
            let _ = session.flush().await;
            return Err(WebError::SessionExpired);
        }
        let mail = match mailbox_of(&app, &user) {
            Some(mail) => mail,
            None => reopen(&app, &session, &user).await?,
        };
        Ok(CurrentUser {
            user,
            lang: lang_of(parts),
            mail,
            session,
        })
    }
}

impl CurrentUser {
    /// Leaves a notice for the next page this user sees.
    pub async fn set_flash(&self, message: String) {
        let _ = self.session.insert(FLASH_KEY, message).await;
    }

    /// Takes the pending notice, if any.
    pub async fn take_flash(&self) -> Option<String> {
        self.session
            .remove::<String>(FLASH_KEY)
            .await
            .ok()
            .flatten()
    }
}

/// The folder a URL names (`/mail/{folder}/...`, percent-decoded by the router).
pub struct FolderPath(pub FolderName);

/// The message a URL names (`/mail/{folder}/{uid}/...`).
pub struct MessagePath(pub FolderName, pub Uid);

/// The part of a message a URL names (`/mail/{folder}/{uid}/part/{section}`).
pub struct PartPath(pub FolderName, pub Uid, pub Section);

/// The path's segments, as the router matched them; a path that does not decode is a bad request.
async fn segments<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<Vec<String>, WebError> {
    Path::<Vec<String>>::from_request_parts(parts, state)
        .await
        .map(|Path(v)| v)
        .map_err(|e| WebError::BadRequest(format!("path: {e}")))
}

fn folder_of(segment: Option<&String>) -> Result<FolderName, WebError> {
    segment
        .and_then(|s| FolderName::new(s))
        .ok_or(WebError::FolderNotFound)
}

fn uid_of(segment: Option<&String>) -> Result<Uid, WebError> {
    segment
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|u| *u > 0)
        .map(Uid)
        .ok_or(WebError::MessageNotFound)
}

impl<S: Send + Sync> FromRequestParts<S> for FolderPath {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let s = segments(parts, state).await?;
        Ok(FolderPath(folder_of(s.first())?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MessagePath {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let s = segments(parts, state).await?;
        Ok(MessagePath(folder_of(s.first())?, uid_of(s.get(1))?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PartPath {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let s = segments(parts, state).await?;
        let section = s
            .get(2)
            .and_then(|x| Section::parse(x))
            .ok_or(WebError::PartNotFound)?;
        Ok(PartPath(folder_of(s.first())?, uid_of(s.get(1))?, section))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_a_fixed_time_after_login() {
        let twelve_hours = std::time::Duration::from_secs(12 * 3600);
        let login = 1_700_000_000;
        assert!(!outlived(login, login + 12 * 3600, twelve_hours));
        assert!(outlived(login, login + 12 * 3600 + 1, twelve_hours));
        assert!(
            outlived(0, login, twelve_hours),
            "a session without a login time is over"
        );
        assert!(
            !outlived(login, login - 5, twelve_hours),
            "a clock step back is not an end"
        );
    }
}
