//! `GET /mail/{folder}`: the folder list in the sidebar and one page of messages, newest first.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::app::AppState;
use crate::mail::imap::{self, Retry};
use crate::mail::{FolderName, ListPage};
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::urls;
use crate::web::view::{PageCtx, SidebarItem, folder_title, render, sidebar};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/mail/{folder}", get(mailbox_get))
}

/// A message line, ready to print.
struct Row {
    uid: u32,
    url: String,
    from: String,
    from_address: String,
    subject: String,
    date: String,
    size: String,
    unread: bool,
    flagged: bool,
    answered: bool,
    attachment: bool,
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    ctx: PageCtx,
    sidebar: Vec<SidebarItem>,
    folder_title: String,
    rows: Vec<Row>,
    position: String,
    newer_url: Option<String>,
    older_url: Option<String>,
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
}

/// Parses a folder from its URL segment (already percent-decoded by the router).
pub(crate) fn folder_from_path(raw: &str) -> Result<FolderName, WebError> {
    FolderName::new(raw).ok_or(WebError::FolderNotFound)
}

async fn mailbox_get(
    user: CurrentUser,
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(folder): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let folder = folder_from_path(&folder)?;
    // Pages are numbered from 1 in URLs; anything unparsable is the first page.
    let page = q
        .page
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(1)
        .saturating_sub(1);
    let page_size = state.config.page_size;
    let f = folder.clone();
    let (folders, list) = user
        .imap(Retry::Safe, move |c| {
            let f = f.clone();
            Box::pin(async move {
                let folders = imap::list_folders(c).await?;
                let list = imap::list_page(c, &f, page, page_size).await?;
                Ok((folders, list))
            })
        })
        .await?;
    let lang = user.lang;
    let title = folder_title(lang, &folders, &folder);
    let mut ctx = PageCtx::user(&user, title.clone());
    ctx.flash = user.take_flash().await;
    let view = MailboxPage {
        ctx,
        sidebar: sidebar(lang, &folders, &folder),
        folder_title: title,
        rows: rows(&user, &list),
        position: lang.t_args(
            "page-position",
            &[
                ("page", (list.page + 1).to_string()),
                ("pages", list.page_count().to_string()),
                ("total", list.total.to_string()),
            ],
        ),
        newer_url: (list.page > 0).then(|| urls::folder_page(&folder, list.page - 1)),
        older_url: (list.page + 1 < list.page_count())
            .then(|| urls::folder_page(&folder, list.page + 1)),
    };
    Ok(render(&view))
}

fn rows(user: &CurrentUser, list: &ListPage) -> Vec<Row> {
    let lang = user.lang;
    let now = chrono::Utc::now().timestamp();
    list.messages
        .iter()
        .map(|m| Row {
            uid: m.uid.0,
            url: urls::message(&list.folder, m.uid),
            from: if m.from.is_empty() {
                m.from_address.clone()
            } else {
                m.from.clone()
            },
            from_address: m.from_address.clone(),
            subject: if m.subject.trim().is_empty() {
                lang.t("no-subject")
            } else {
                m.subject.clone()
            },
            date: m
                .date
                .map(|d| lang.format_list_date(d, now))
                .unwrap_or_default(),
            size: lang.format_size(m.size as u64),
            unread: !m.flags.seen,
            flagged: m.flags.flagged,
            answered: m.flags.answered,
            attachment: m.has_attachment,
        })
        .collect()
}
