//! `GET /search`: the same search as in a folder, across every folder, newest first.

use askama::Template;
use axum::Router;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::app::AppState;
use crate::mail::{FolderName, MessageSummary, Overview, Search};
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::forms::Params;
use crate::web::urls;
use crate::web::view::{MessageRow, PageCtx, Sidebar, folder_title, render, sidebar};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(urls::SEARCH, get(search_get))
}

/// Hits kept across all folders (the most recent ones).
const CAP: usize = 500;
const PAGE: usize = 50;

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    ctx: PageCtx,
    sidebar: Sidebar,
    q: String,
    f_unread: bool,
    f_flagged: bool,
    f_attachments: bool,
    rows: Vec<MessageRow>,
    position: String,
    newer_url: Option<String>,
    older_url: Option<String>,
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
    unread: Option<String>,
    flagged: Option<String>,
    attachments: Option<String>,
    page: Option<u32>,
}

async fn search_get(
    user: CurrentUser,
    Params(sq): Params<SearchQuery>,
) -> Result<Response, WebError> {
    let search = sq.search();
    let overview = user.mail.overview().await?;
    let hits = if search.is_empty() {
        vec![]
    } else {
        user.mail.search_all(&search, CAP).await?
    };
    // Pages are numbered from 1 in URLs.
    let asked = sq.page.unwrap_or(1).max(1) - 1;
    let ctx = PageCtx::user(&user, user.lang.t("search-all-title"));
    Ok(render(&SearchPage::new(
        ctx, &overview, &search, &hits, asked,
    )))
}

impl SearchQuery {
    fn search(&self) -> Search {
        Search::typed(
            self.q.as_deref(),
            self.unread.is_some(),
            self.flagged.is_some(),
            self.attachments.is_some(),
        )
    }
}

impl SearchPage {
    fn new(
        ctx: PageCtx,
        overview: &Overview,
        search: &Search,
        hits: &[(FolderName, MessageSummary)],
        asked: u32,
    ) -> Self {
        let lang = ctx.lang;
        let now = chrono::Utc::now().timestamp();
        let pages = hits.len().div_ceil(PAGE).max(1);
        // The rule for the last page is the lists' own.
        let (page, _) = crate::mail::clamp_page(hits.len() as u32, asked, PAGE as u32);
        let page = page as usize;
        let rows = hits
            .iter()
            .skip(page * PAGE)
            .take(PAGE)
            .map(|(f, m)| MessageRow {
                folder: folder_title(lang, &overview.folders, f),
                folder_url: urls::folder(f),
                ..MessageRow::of(lang, now, f, m)
            })
            .collect();
        let link = |p: usize| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("q", &search.text);
            for (on, k) in [
                (search.unread, "unread"),
                (search.flagged, "flagged"),
                (search.attachments, "attachments"),
            ] {
                if on {
                    q.append_pair(k, "1");
                }
            }
            q.append_pair("page", &(p + 1).to_string());
            format!("{}?{}", urls::SEARCH, q.finish())
        };
        SearchPage {
            sidebar: sidebar(lang, overview, &FolderName::inbox()),
            q: search.text.clone(),
            f_unread: search.unread,
            f_flagged: search.flagged,
            f_attachments: search.attachments,
            position: lang.t_args(
                "search-capped",
                &[
                    ("page", (page + 1).to_string()),
                    ("pages", pages.to_string()),
                    ("total", hits.len().to_string()),
                    ("cap", CAP.to_string()),
                ],
            ),
            newer_url: (page > 0).then(|| link(page - 1)),
            older_url: (page + 1 < pages).then(|| link(page + 1)),
            rows,
            ctx,
        }
    }
}
