//! `POST /check`: "Check mail" for a POP3 account: downloads new mail now and says what came.

use axum::Router;
use axum::response::Response;
use axum::routing::post;

use crate::app::AppState;
use crate::mail::MailError;
use crate::web::error::{WebError, redirect};
use crate::web::extract::CurrentUser;
use crate::web::forms::CsrfForm;
use crate::web::urls;
use serde::de::IgnoredAny;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(urls::CHECK, post(check_post))
}

async fn check_post(
    user: CurrentUser,
    CsrfForm(_): CsrfForm<IgnoredAny>,
) -> Result<Response, WebError> {
    let Some(checked) = user.mail.check_now().await else {
        return Err(WebError::BadRequest(
            "only POP3 accounts download mail".into(),
        ));
    };
    let lang = user.lang;
    let notice = match checked {
        Ok(r) if r.downloaded > 0 => lang.t_args("pop-new", &[("count", r.downloaded.to_string())]),
        Ok(_) => lang.t("pop-none"),
        Err(MailError::InUse) => lang.t("pop-in-use"),
        Err(MailError::AuthFailed) => lang.t("pop-auth-failed"),
        Err(e) if e.poisons_connection() || matches!(e, MailError::Tls(_)) => {
            lang.t("pop-unreachable")
        }
        Err(_) => lang.t("pop-failed"),
    };
    user.set_flash(notice).await;
    Ok(redirect(&urls::folder(&crate::mail::FolderName::inbox())))
}
