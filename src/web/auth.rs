//! Logging in and out. The login checks the address and password against the IMAP server of the
//! address's domain by opening the user's first pooled connection; the password then stays in the
//! pool's memory only.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use rand::RngCore;
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::config::AddressProblem;
use crate::i18n::Lang;
use crate::mail::MailError;
use crate::mail::account::{Credentials, Protocol, Protocols};
use crate::web::error::{WebError, redirect};
use crate::web::extract::{ClientAddr, ReqLang, SessionUser};
use crate::web::forms::{Params, Posted, same_token};
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
    session.insert(LOGIN_CSRF, &t).await?;
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
    Params(q): Params<LoginQuery>,
) -> Result<Response, WebError> {
    let error = q.expired.map(|why| match why.as_str() {
        "key" => lang.t("error-session-key-changed"),
        _ => lang.t("error-session-expired"),
    });
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
    let user = match authenticate(&state, &form, client, token_ok).await {
        Ok(user) => user,
        Err(error) => {
            return Ok(render(&LoginPage {
                ctx: PageCtx::public(lang, lang.t("login-title")),
                email: form.email.trim().to_owned(),
                next: form.next,
                error: Some(error.text(lang)),
                offer_choice: offers_choice(&state.config),
                pop3_chosen: form.protocol == "pop3",
                csrf,
            }));
        }
    };
    // A new session id at login, so that an id planted before login is worth nothing after it.
    session.cycle_id().await?;
    let _ = session.remove::<String>(LOGIN_CSRF).await;
    session.insert(SessionUser::KEY, &user).await?;
    tracing::info!(address = %user.address, "logged in");
    Ok(redirect(if urls::is_local_path(&form.next) {
        &form.next
    } else {
        "/mail/INBOX"
    }))
}

/// Why a login did not go through, as the login page says it.
enum LoginRefused {
    Key(&'static str),
    Throttled(std::time::Duration),
}

impl LoginRefused {
    fn text(&self, lang: Lang) -> String {
        match self {
            LoginRefused::Key(k) => lang.t(k),
            LoginRefused::Throttled(wait) => lang.t_args(
                "login-error-throttled",
                &[("seconds", wait.as_secs().max(1).to_string())],
            ),
        }
    }
}

/// Checks a login form and logs in to the user's mail: the session's user, or why not.
async fn authenticate(
    state: &AppState,
    form: &LoginForm,
    client: std::net::IpAddr,
    token_ok: bool,
) -> Result<SessionUser, LoginRefused> {
    use LoginRefused::Key;
    let email = form.email.trim().to_owned();
    if !token_ok {
        // Posted from elsewhere, or from a page whose session has expired: nothing is tried.
        return Err(Key("login-error-form-expired"));
    }
    if email.is_empty() || form.password.is_empty() {
        return Err(Key("login-error-missing"));
    }
    if let Err(wait) = state.throttle.check(&email, client) {
        tracing::info!(address = %email, client = %client, "login throttled");
        crate::metrics::metrics().throttled_logins.inc();
        return Err(LoginRefused::Throttled(wait));
    }
    let servers = match state.config.servers_for(&email) {
        Ok(s) => s,
        Err(AddressProblem::Invalid) => return Err(Key("login-error-invalid")),
        Err(AddressProblem::UnknownDomain) => return Err(Key("login-error-unknown-domain")),
    };
    let choice = match form.protocol.as_str() {
        "imap" => Some(Protocol::Imap),
        "pop3" => Some(Protocol::Pop3),
        _ => None,
    };
    let protocol = servers.protocols.resolve(choice);
    let pool_key = random_token();
    let creds = Credentials::new(email.clone(), form.password.clone());
    if let Err(e) = state
        .start_mail_session(&pool_key, protocol, creds, servers)
        .await
    {
        tracing::info!(address = %email, client = %client, error = %e, "login failed");
        if matches!(e, MailError::AuthFailed) {
            state.throttle.failed(&email, client);
        }
        return Err(Key(match e {
            MailError::AuthFailed => "login-error-auth",
            MailError::Tls(_) => "login-error-tls",
            MailError::Timeout => "login-error-timeout",
            MailError::Busy => "login-error-busy",
            _ => "login-error-unreachable",
        }));
    }
    state.throttle.succeeded(&email, client);
    let sealed = state
        .secret
        .seal(&email, &form.password)
        .unwrap_or_default();
    Ok(SessionUser {
        sealed,
        address: email,
        pool_key,
        protocol,
        csrf: random_token(),
        login_at: chrono::Utc::now().timestamp(),
    })
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
    let user: Option<SessionUser> = session.get(SessionUser::KEY).await?;
    if let Some(user) = user {
        if !same_token(&form.csrf, &user.csrf) {
            return Err(WebError::BadRequest("logout without a valid token".into()));
        }
        state.end_mail_session(&user.pool_key);
    }
    session.flush().await?;
    Ok(redirect(urls::LOGIN))
}

/// 256 random bits, hex-encoded.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}
