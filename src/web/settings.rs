//! `GET/POST /settings`: the user's display name and signature.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::AppState;
use crate::mail::compose::one_line;
use crate::mail::pop3::account::PopOptions;
use crate::store::settings::Settings;
use crate::web::error::{WebError, redirect};
use crate::web::extract::CurrentUser;
use crate::web::forms::{CsrfForm, Params};
use crate::web::urls;
use crate::web::view::{PageCtx, render};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(urls::SETTINGS, get(settings_get).post(settings_post))
        .route(urls::TRUST_SENDER, post(trust_sender_post))
}

#[derive(Deserialize)]
struct TrustForm {
    #[serde(default)]
    sender: String,
    #[serde(default)]
    back: String,
}

/// `POST /settings/trust-sender`: "always show remote content from this sender", from a message.
async fn trust_sender_post(
    user: CurrentUser,
    State(state): State<AppState>,
    CsrfForm(form): CsrfForm<TrustForm>,
) -> Result<Response, WebError> {
    let sender = form.sender.trim();
    if !sender.contains('@') || sender.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(WebError::BadRequest("not a sender address".into()));
    }
    let mut s = state
        .settings
        .load(&user.user.address)
        .await
        .map_err(|e| WebError::Internal(format!("settings: {e}")))?;
    s.trust_remote(sender);
    state
        .settings
        .save(&user.user.address, &s)
        .await
        .map_err(|e| WebError::Internal(format!("settings: {e}")))?;
    let back = if urls::is_local_path(&form.back) {
        form.back
    } else {
        "/mail/INBOX".to_owned()
    };
    Ok(redirect(&back))
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    ctx: PageCtx,
    display_name: String,
    signature: String,
    /// One address per line.
    remote_senders: String,
    saved: bool,
    /// A POP3 account's download options.
    pop: Option<PopOptions>,
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn settings_get(
    user: CurrentUser,
    State(state): State<AppState>,
    Params(q): Params<SavedQuery>,
) -> Result<Response, WebError> {
    let s = state
        .settings
        .load(&user.user.address)
        .await
        .map_err(|e| WebError::Internal(format!("settings: {e}")))?;
    let pop = match user.mail.pop_account() {
        Some(a) => Some(a.options().await),
        None => None,
    };
    Ok(render(&SettingsPage {
        ctx: PageCtx::user(&user, user.lang.t("settings-title")),
        display_name: s.display_name,
        signature: s.signature,
        remote_senders: s.remote_senders.join("\n"),
        saved: q.saved.is_some(),
        pop,
    }))
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    remote_senders: String,
    pop_keep_copy: Option<String>,
    pop_delete_after: Option<String>,
    #[serde(default)]
    pop_days: String,
    pop_delete_here: Option<String>,
}

async fn settings_post(
    user: CurrentUser,
    State(state): State<AppState>,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<Response, WebError> {
    let remote_senders: Vec<String> = form
        .remote_senders
        .lines()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| l.contains('@') && !l.chars().any(char::is_whitespace))
        .take(1000)
        .collect();
    let mut settings = Settings {
        remote_senders: vec![],
        display_name: one_line(&form.display_name).chars().take(200).collect(),
        signature: form
            .signature
            .replace("\r\n", "\n")
            .chars()
            .take(4000)
            .collect(),
    };
    for a in &remote_senders {
        settings.trust_remote(a);
    }
    state
        .settings
        .save(&user.user.address, &settings)
        .await
        .map_err(|e| WebError::Internal(format!("settings: {e}")))?;
    if let Some(account) = user.mail.pop_account() {
        let days = form
            .pop_days
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=3650).contains(d));
        let opts = PopOptions {
            keep_copy: form.pop_keep_copy.is_some(),
            delete_after_days: days.filter(|_| form.pop_delete_after.is_some()),
            delete_when_deleted_here: form.pop_delete_here.is_some(),
        };
        account.set_options(&opts).await?;
    }
    Ok(redirect(&format!("{}?saved=1", urls::SETTINGS)))
}
