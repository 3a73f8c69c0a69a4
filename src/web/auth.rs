//! Logging in and out. The login checks the address and password against the IMAP server of the
//! address's domain by opening the user's first pooled connection; the password then stays in the
//! pool's memory only.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use rand::RngCore;
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::config::AddressProblem;
use crate::mail::MailError;
use crate::mail::account::{Credentials, Protocol, Protocols};
use crate::web::error::{WebError, redirect};
use crate::web::extract::{ClientAddr, ReqLang, SessionUser};
use crate::web::forms::{Posted, same_token};
use crate::web::urls;
use crate::web::view::{PageCtx, render};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { redirect(urls::HOME) }))
        .route(urls::LOGIN, get(login_get).post(login_post))
        .route(urls::LOGOUT, post(logout_post))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: PageCtx,
    email: String,
    next: String,
    error: Option<String>,
    /// Some domain lets its users choose between IMAP and POP3.
    offer_choice: bool,
    pop3_chosen: bool,
    /// The login form's own token, bound to the (anonymous) session that showed it.
    csrf: String,
}

/// Session key of the login form's token.
const LOGIN_CSRF: &str = "login_csrf";

/// The token of the login form for this browser, created with the session the first time.
async fn login_token(session: &Session) -> Result<String, WebError> {
    if let Ok(Some(t)) = session.get::<String>(LOGIN_CSRF).await {
        return Ok(t);
    }
    let t = random_token();
    session
        .insert(LOGIN_CSRF, &t)
        .await
        .map_err(|e| WebError::Internal(format!("session: {e}")))?;
    Ok(t)
}

/// True when some served domain lets its users choose IMAP or POP3 at login.
fn offers_choice(config: &crate::config::Config) -> bool {
    (config.default_server_for_all && config.default_servers.protocols == Protocols::Both)
        || config
            .domains
            .values()
            .any(|d| d.protocols == Protocols::Both)
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

async fn login_get(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    session: Session,
    Query(q): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let error = q.expired.map(|_| lang.t("error-session-expired"));
    let csrf = login_token(&session).await?;
    Ok(render(&LoginPage {
        csrf,
        ctx: PageCtx::public(lang, lang.t("login-title")),
        email: String::new(),
        next: q
            .next
            .filter(|n| urls::is_local_path(n))
            .unwrap_or_default(),
        error,
        offer_choice: offers_choice(&state.config),
        pop3_chosen: false,
    }))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    csrf: String,
}

async fn login_post(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientAddr(client): ClientAddr,
    session: Session,
    Posted(form): Posted<LoginForm>,
) -> Result<Response, WebError> {
    let expected = session.get::<String>(LOGIN_CSRF).await.ok().flatten();
    let token_ok = expected
        .as_deref()
        .is_some_and(|t| same_token(&form.csrf, t));
    let csrf = login_token(&session).await?;
    let email = form.email.trim().to_owned();
    let choice = match form.protocol.as_str() {
        "imap" => Some(Protocol::Imap),
        "pop3" => Some(Protocol::Pop3),
        _ => None,
    };
    let failed_with = |error: String| {
        render(&LoginPage {
            ctx: PageCtx::public(lang, lang.t("login-title")),
            email: email.clone(),
            next: form.next.clone(),
            error: Some(error),
            offer_choice: offers_choice(&state.config),
            pop3_chosen: choice == Some(Protocol::Pop3),
            csrf: csrf.clone(),
        })
    };
    let failed = |key: &str| failed_with(lang.t(key));
    if !token_ok {
        // Posted from elsewhere, or from a page whose session has expired: nothing is tried.
        return Ok(failed("login-error-form-expired"));
    }
    if email.is_empty() || form.password.is_empty() {
        return Ok(failed("login-error-missing"));
    }
    if let Err(wait) = state.throttle.check(&email, client) {
        tracing::info!(address = %email, client = %client, "login throttled");
        return Ok(failed_with(lang.t_args(
            "login-error-throttled",
            &[("seconds", wait.as_secs().max(1).to_string())],
        )));
    }
    let servers = match state.config.servers_for(&email) {
        Ok(s) => s,
        Err(AddressProblem::Invalid) => return Ok(failed("login-error-invalid")),
        Err(AddressProblem::UnknownDomain) => return Ok(failed("login-error-unknown-domain")),
    };
    let pool_key = random_token();
    let creds = Credentials::new(email.clone(), form.password.clone());
    let protocol = servers.protocols.resolve(choice);
    let result = match protocol {
        Protocol::Imap => state.pool.login(&pool_key, creds, servers.imap).await,
        Protocol::Pop3 => {
            let dir = crate::store::file_key(&email);
            state.pops.login(&pool_key, &dir, creds, servers.pop3).await
        }
    };
    if let Err(e) = result {
        tracing::info!(address = %email, client = %client, error = %e, "login failed");
        if matches!(e, MailError::AuthFailed) {
            state.throttle.failed(&email, client);
        }
        return Ok(failed(match e {
            MailError::AuthFailed => "login-error-auth",
            MailError::Tls(_) => "login-error-tls",
            MailError::Timeout => "login-error-timeout",
            MailError::Busy => "login-error-busy",
            _ => "login-error-unreachable",
        }));
    }
    // A new session id at login, so that an id planted before login is worth nothing after it.
    session
        .cycle_id()
        .await
        .map_err(|e| WebError::Internal(format!("session: {e}")))?;
    let _ = session.remove::<String>(LOGIN_CSRF).await;
    let user = SessionUser {
        address: email,
        pool_key,
        protocol,
        csrf: random_token(),
        login_at: chrono::Utc::now().timestamp(),
    };
    state.throttle.succeeded(&user.address, client);
    session
        .insert(SessionUser::KEY, &user)
        .await
        .map_err(|e| WebError::Internal(format!("session: {e}")))?;
    tracing::info!(address = %user.address, "logged in");
    let next = if urls::is_local_path(&form.next) {
        form.next
    } else {
        "/mail/INBOX".to_owned()
    };
    Ok(redirect(&next))
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout_post(
    State(state): State<AppState>,
    session: Session,
    Posted(form): Posted<LogoutForm>,
) -> Result<Response, WebError> {
    let user: Option<SessionUser> = session
        .get(SessionUser::KEY)
        .await
        .map_err(|e| WebError::Internal(format!("session: {e}")))?;
    if let Some(user) = user {
        if !same_token(&form.csrf, &user.csrf) {
            return Err(WebError::BadRequest("logout without a valid token".into()));
        }
        state.end_mail_session(&user.pool_key);
    }
    session
        .flush()
        .await
        .map_err(|e| WebError::Internal(format!("session: {e}")))?;
    Ok(redirect(urls::LOGIN))
}

/// 256 random bits, hex-encoded.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}
