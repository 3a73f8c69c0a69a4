//! `GET /folders` and its forms: create (nested), rename, delete (after confirmation), show or hide in
//! the sidebar (subscription). Special folders are listed but cannot be renamed or deleted.

use askama::Template;
use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};

use serde::Deserialize;

use crate::app::AppState;
use crate::i18n::Lang;
use crate::mail::FolderError;
use crate::mail::FolderName;

use crate::web::error::{WebError, redirect};
use crate::web::extract::CurrentUser;
use crate::web::forms::CsrfForm;
use crate::web::urls;
use crate::web::view::{
    ConfirmPage, PageCtx, Sidebar, display_name, folder_options, render, sidebar,
};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(urls::FOLDERS, get(folders_get))
        .route(urls::FOLDER_CREATE, post(create_post))
        .route(urls::FOLDER_RENAME, post(rename_post))
        .route(urls::FOLDER_DELETE, post(delete_post))
        .route(urls::FOLDER_SUBSCRIBE, post(subscribe_post))
}

struct Row {
    /// The folder as forms name it (`urls::folder_key`).
    name: String,
    label: String,
    leaf: String,
    indent: usize,
    url: String,
    count: String,
    selectable: bool,
    special: bool,
    subscribed: bool,
}

#[derive(Template)]
#[template(path = "folders.html")]
struct FoldersPage {
    ctx: PageCtx,
    sidebar: Sidebar,
    parents: Vec<(String, String)>,
    rows: Vec<Row>,
}

async fn folders_get(user: CurrentUser) -> Result<Response, WebError> {
    let overview = user.mail.overview().await?;
    let lang = user.lang;
    let mut ctx = PageCtx::user(&user, lang.t("folders-title"));
    ctx.flash = user.take_flash().await;
    let rows = overview
        .folders
        .iter()
        .map(|f| Row {
            name: urls::folder_key(&f.name),
            label: display_name(lang, f),
            leaf: crate::mail::display::clean(&f.leaf),
            indent: f.depth.min(8) * 2,
            url: urls::folder(&f.name),
            count: f.messages.map(|m| m.to_string()).unwrap_or_default(),
            selectable: f.selectable,
            special: f.special.is_some(),
            subscribed: f.subscribed,
        })
        .collect();
    // Any folder that can hold others (the server gave it a hierarchy delimiter).
    let parents = folder_options(lang, &overview.folders, |f| f.delimiter.is_some());
    Ok(render(&FoldersPage {
        sidebar: sidebar(lang, &overview, &FolderName::inbox()),
        ctx,
        parents,
        rows,
    }))
}

/// A folder's path as a notice shows it.
fn shown(f: &FolderName) -> String {
    crate::mail::display::clean(f.as_str())
}

/// The result of a folder operation, as the notice shown on the folders page.
async fn report(
    user: &CurrentUser,
    result: Result<String, WebError>,
) -> Result<Response, WebError> {
    let notice = result?;
    user.set_flash(notice).await;
    Ok(redirect(urls::FOLDERS))
}

/// Words a folder operation's outcome; only connection problems become error pages.
fn word(
    lang: Lang,
    result: Result<Result<FolderName, FolderError>, crate::mail::MailError>,
    ok: impl FnOnce(FolderName) -> String,
) -> Result<String, WebError> {
    match result? {
        Ok(name) => Ok(ok(name)),
        Err(e) => Ok(folder_error(lang, &e)),
    }
}

fn folder_error(lang: Lang, e: &FolderError) -> String {
    match e {
        FolderError::InvalidName => {
            lang.t_args("folders-error-invalid", &[("delimiter", "/".into())])
        }
        FolderError::Exists => lang.t("folders-error-exists"),
        FolderError::Protected => lang.t("folders-error-protected"),
        FolderError::NotFound => lang.t("folders-error-not-found"),
        FolderError::Mail(m) => {
            tracing::warn!(error = %m, "folder operation failed");
            lang.t("error-unavailable")
        }
    }
}

/// The forms of the folders page.
#[derive(Deserialize)]
struct FolderForm {
    /// The folder acted on, as `urls::folder_key` wrote it.
    #[serde(default)]
    folder: String,
    /// A new folder's name, or a folder's new name.
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    subscribed: String,
}

impl FolderForm {
    fn folder(&self) -> Result<FolderName, WebError> {
        urls::folder_from_key(&self.folder).ok_or(WebError::FolderNotFound)
    }
}

async fn create_post(
    user: CurrentUser,
    CsrfForm(form): CsrfForm<FolderForm>,
) -> Result<Response, WebError> {
    let parent = urls::folder_from_key(&form.parent);
    let lang = user.lang;
    let result = word(
        lang,
        user.mail.create_folder(parent, form.name).await,
        |n| lang.t_args("folders-created", &[("name", shown(&n))]),
    );
    report(&user, result).await
}

async fn rename_post(
    user: CurrentUser,
    CsrfForm(form): CsrfForm<FolderForm>,
) -> Result<Response, WebError> {
    let folder = form.folder()?;
    let lang = user.lang;
    let result = word(
        lang,
        user.mail.rename_folder(folder, form.name).await,
        |n| lang.t_args("folders-renamed", &[("name", shown(&n))]),
    );
    report(&user, result).await
}

async fn delete_post(
    user: CurrentUser,
    CsrfForm(form): CsrfForm<FolderForm>,
) -> Result<Response, WebError> {
    let folder = form.folder()?;
    let lang = user.lang;
    if form.confirm != "1" {
        return Ok(render(&ConfirmPage {
            ctx: PageCtx::user(&user, lang.t("confirm-title")),
            question: lang.t_args("confirm-delete-folder", &[("folder", shown(&folder))]),
            action_url: urls::FOLDER_DELETE.into(),
            cancel_url: urls::FOLDERS.into(),
            fields: vec![("folder".into(), urls::folder_key(&folder))],
        }));
    }
    let result = word(lang, user.mail.delete_folder(folder).await, |_| {
        lang.t("folders-deleted")
    });
    report(&user, result).await
}

async fn subscribe_post(
    user: CurrentUser,
    CsrfForm(form): CsrfForm<FolderForm>,
) -> Result<Response, WebError> {
    let folder = form.folder()?;
    let on = form.subscribed == "1";
    let lang = user.lang;
    let result = word(lang, user.mail.set_subscribed(folder, on).await, |_| {
        lang.t("folders-saved")
    });
    report(&user, result).await
}
