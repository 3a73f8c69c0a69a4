//! `GET /mail/{folder}`: the folder list in the sidebar and one page of messages, newest first.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::AppState;
use crate::i18n::Lang;
use crate::mail::{Action, Applied, Selection};
use crate::mail::{FolderName, ListPage, ListQuery, Overview, Search, SortKey, SpecialUse, Uid};
use crate::web::error::{WebError, redirect};
use crate::web::extract::{CurrentUser, FolderPath};
use crate::web::forms::{CsrfForm, Params};
use crate::web::urls;
use crate::web::view::{
    ConfirmPage, FolderKind, MessageRow, PageCtx, Sidebar, folder_title, move_targets, render,
    role_of, sidebar,
};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mail/{folder}", get(mailbox_get))
        .route("/mail/{folder}/actions", post(actions_post))
        .route("/mail/{folder}/empty", post(empty_post))
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    ctx: PageCtx,
    sidebar: Sidebar,
    folder_title: String,
    rows: Vec<MessageRow>,
    position: String,
    newer_url: Option<String>,
    older_url: Option<String>,
    actions_url: String,
    back_url: String,
    threaded: bool,
    view_toggle_url: String,
    search_url: String,
    searching: bool,
    q: String,
    f_unread: bool,
    f_flagged: bool,
    f_attachments: bool,
    f_since: String,
    f_before: String,
    /// From, Subject, Date, Size.
    sort_links: [SortLink; 4],
    empty_url: String,
    can_empty: bool,
    in_trash: bool,
    in_junk: bool,
    in_archive: bool,
    move_targets: Vec<(String, String)>,
    total: usize,
    select_all_label: String,
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    q: Option<String>,
    unread: Option<String>,
    flagged: Option<String>,
    attachments: Option<String>,
    since: Option<String>,
    before: Option<String>,
    view: Option<String>,
}

/// Conversations are built over this many of the newest messages of a folder.
const THREAD_WINDOW: u32 = 2000;

/// A folder page's content: the message list, or conversations.
enum Listing {
    Flat(ListPage),
    Threads(crate::mail::ThreadPage),
}

impl PageQuery {
    /// The page asked for, counted from 0 (URLs count from 1; anything unparsable is the first).
    fn page_index(&self) -> u32 {
        self.page
            .as_deref()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(1)
            .saturating_sub(1)
    }

    /// True for the conversation view.
    fn threaded(&self) -> bool {
        self.view.as_deref() == Some("threads")
    }

    /// What to show, from the URL; anything unparsable is ignored rather than refused.
    fn list_query(&self) -> ListQuery {
        let sort = match self.sort.as_deref() {
            Some("date") => SortKey::Date,
            Some("from") => SortKey::From,
            Some("subject") => SortKey::Subject,
            Some("size") => SortKey::Size,
            _ => SortKey::Arrival,
        };
        let day = |d: &Option<String>| {
            d.as_deref()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        };
        ListQuery {
            sort,
            ascending: self.order.as_deref() == Some("asc"),
            search: Search {
                since: day(&self.since),
                before: day(&self.before),
                ..Search::typed(
                    self.q.as_deref(),
                    self.unread.is_some(),
                    self.flagged.is_some(),
                    self.attachments.is_some(),
                )
            },
        }
    }
}

/// The query string for a list view (without the page number when it is the first).
fn list_params(q: &ListQuery, page: u32) -> Vec<(&'static str, String)> {
    let mut p = Vec::new();
    let sort = match q.sort {
        SortKey::Arrival => None,
        SortKey::Date => Some("date"),
        SortKey::From => Some("from"),
        SortKey::Subject => Some("subject"),
        SortKey::Size => Some("size"),
    };
    if let Some(s) = sort {
        p.push(("sort", s.to_owned()));
    }
    if q.ascending {
        p.push(("order", "asc".to_owned()));
    }
    let s = &q.search;
    if !s.text.trim().is_empty() {
        p.push(("q", s.text.clone()));
    }
    for (on, key) in [
        (s.unread, "unread"),
        (s.flagged, "flagged"),
        (s.attachments, "attachments"),
    ] {
        if on {
            p.push((key, "1".to_owned()));
        }
    }
    if let Some(d) = s.since {
        p.push(("since", d.format("%Y-%m-%d").to_string()));
    }
    if let Some(d) = s.before {
        p.push(("before", d.format("%Y-%m-%d").to_string()));
    }
    if page > 0 {
        p.push(("page", (page + 1).to_string()));
    }
    p
}

/// A sortable column header: its link toggles the order when it is the current key.
struct SortLink {
    url: String,
    /// "▲" or "▼" on the current key.
    mark: &'static str,
}

fn sort_links(folder: &FolderName, q: &ListQuery) -> [SortLink; 4] {
    let link = |key: SortKey| {
        let current = q.sort == key || (key == SortKey::Date && q.sort == SortKey::Arrival);
        let mut next = q.clone();
        next.sort = key;
        // Dates and sizes start with the largest; names start with A.
        next.ascending = if current {
            !q.ascending
        } else {
            matches!(key, SortKey::From | SortKey::Subject)
        };
        SortLink {
            url: urls::folder_with(folder, &list_params(&next, 0)),
            mark: match (current, q.ascending) {
                (false, _) => "",
                (true, true) => "▲",
                (true, false) => "▼",
            },
        }
    };
    [
        link(SortKey::From),
        link(SortKey::Subject),
        link(SortKey::Date),
        link(SortKey::Size),
    ]
}

async fn mailbox_get(
    user: CurrentUser,
    State(state): State<AppState>,
    FolderPath(folder): FolderPath,
    Params(q): Params<PageQuery>,
) -> Result<Response, WebError> {
    let (page, page_size) = (q.page_index(), state.config.page_size);
    let overview = user.mail.overview().await?;
    let listing = if q.threaded() {
        let t = user.mail.threads(&folder, page, page_size, THREAD_WINDOW);
        Listing::Threads(t.await?)
    } else {
        Listing::Flat(
            user.mail
                .list(&folder, &q.list_query(), page, page_size)
                .await?,
        )
    };
    let title = folder_title(user.lang, &overview.folders, &folder);
    let mut ctx = PageCtx::user(&user, title);
    ctx.flash = user.take_flash().await;
    ctx.live_folder = Some(urls::folder_key(&folder));
    Ok(render(&MailboxPage::new(
        ctx, &folder, &overview, &q, listing,
    )))
}

impl MailboxPage {
    fn new(
        ctx: PageCtx,
        folder: &FolderName,
        overview: &Overview,
        q: &PageQuery,
        listing: Listing,
    ) -> Self {
        let (lang, threaded, query) = (ctx.lang, q.threaded(), q.list_query());
        let now = chrono::Utc::now().timestamp();
        let (list, rows) = match listing {
            Listing::Flat(l) => {
                let rows = l
                    .messages
                    .iter()
                    .map(|m| MessageRow::of(lang, now, &l.folder, m))
                    .collect();
                (l, rows)
            }
            Listing::Threads(t) => (
                ListPage {
                    folder: folder.clone(),
                    total: t.total_threads,
                    page: t.page,
                    page_size: t.page_size,
                    messages: vec![],
                },
                thread_rows(lang, now, folder, &t),
            ),
        };
        // In the conversation view, the view itself is what the links keep (sorting and searching
        // apply to the list).
        let params = |p: u32| {
            if threaded {
                let mut v = vec![("view", "threads".to_owned())];
                if p > 0 {
                    v.push(("page", (p + 1).to_string()));
                }
                v
            } else {
                list_params(&query, p)
            }
        };
        let day = |d: Option<chrono::NaiveDate>| {
            d.map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        let kind = FolderKind::of(&overview.folders, folder);
        MailboxPage {
            actions_url: urls::actions(folder),
            back_url: urls::folder_with(folder, &params(list.page)),
            threaded,
            view_toggle_url: if threaded {
                urls::folder(folder)
            } else {
                urls::folder_with(folder, &[("view", "threads".to_owned())])
            },
            search_url: urls::folder(folder),
            searching: !query.search.is_empty(),
            q: query.search.text.clone(),
            f_unread: query.search.unread,
            f_flagged: query.search.flagged,
            f_attachments: query.search.attachments,
            f_since: day(query.search.since),
            f_before: day(query.search.before),
            sort_links: sort_links(folder, &query),
            empty_url: urls::empty(folder),
            can_empty: kind.in_trash || kind.in_junk,
            in_trash: kind.in_trash,
            in_junk: kind.in_junk,
            in_archive: kind.in_archive,
            move_targets: move_targets(lang, &overview.folders, folder),
            total: list.total as usize,
            select_all_label: lang.t_args(
                "act-select-all-folder",
                &[("count", list.total.to_string())],
            ),
            sidebar: sidebar(lang, overview, folder),
            folder_title: ctx.title.clone(),
            rows,
            position: lang.t_args(
                if threaded {
                    "page-position-threads"
                } else {
                    "page-position"
                },
                &[
                    ("page", (list.page + 1).to_string()),
                    ("pages", list.page_count().to_string()),
                    ("total", list.total.to_string()),
                ],
            ),
            newer_url: (list.page > 0).then(|| urls::folder_with(folder, &params(list.page - 1))),
            older_url: (list.page + 1 < list.page_count())
                .then(|| urls::folder_with(folder, &params(list.page + 1))),
            ctx,
        }
    }
}

fn thread_rows(
    lang: Lang,
    now: i64,
    folder: &FolderName,
    page: &crate::mail::ThreadPage,
) -> Vec<MessageRow> {
    page.threads
        .iter()
        .flat_map(|t| {
            t.iter().enumerate().map(move |(i, (m, depth))| MessageRow {
                depth: (*depth).min(6),
                thread_start: i == 0,
                ..MessageRow::of(lang, now, folder, m)
            })
        })
        .collect()
}

/// The toolbar's form, on the list and on the message page.
#[derive(Deserialize)]
struct ToolbarForm {
    #[serde(default)]
    uid: Vec<String>,
    #[serde(default)]
    all: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    target: String,
}

impl ToolbarForm {
    fn selection(&self) -> Selection {
        if self.all == "1" {
            return Selection::All;
        }
        Selection::Uids(
            self.uid
                .iter()
                .filter_map(|v| v.parse().ok().filter(|u| *u > 0).map(Uid))
                .collect(),
        )
    }

    fn action(&self) -> Result<Action, WebError> {
        Ok(match self.action.as_str() {
            "read" => Action::MarkRead,
            "unread" => Action::MarkUnread,
            "flag" => Action::Flag,
            "unflag" => Action::Unflag,
            "archive" => Action::Archive,
            "spam" => Action::Spam,
            "notspam" => Action::NotSpam,
            "delete" => Action::Delete {
                confirmed: self.confirm == "1",
            },
            "move" => Action::MoveTo(
                urls::folder_from_key(&self.target)
                    .ok_or_else(|| WebError::BadRequest("move without a target".into()))?,
            ),
            other => return Err(WebError::BadRequest(format!("unknown action {other:?}"))),
        })
    }

    /// The fields that ask again, confirmed, from the confirmation page.
    fn to_confirm(&self) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> =
            self.uid.iter().map(|u| ("uid".into(), u.clone())).collect();
        for (k, v) in [
            ("all", &self.all),
            ("back", &self.back),
            ("action", &self.action),
        ] {
            if !v.is_empty() {
                fields.push((k.into(), v.clone()));
            }
        }
        fields
    }
}

/// `POST /mail/{folder}/actions`: the toolbar of the list and of the message page.
async fn actions_post(
    user: CurrentUser,
    FolderPath(folder): FolderPath,
    CsrfForm(form): CsrfForm<ToolbarForm>,
) -> Result<Response, WebError> {
    let back = Some(form.back.clone())
        .filter(|b| urls::is_local_path(b))
        .unwrap_or_else(|| urls::folder(&folder));
    let (selection, action) = (form.selection(), form.action()?);
    let applied = user.mail.apply(&folder, &selection, &action).await?;
    let lang = user.lang;
    let notice = match applied {
        Applied::NeedsConfirmation => {
            return Ok(render(&ConfirmPage {
                ctx: PageCtx::user(&user, lang.t("confirm-title")),
                question: lang.t("confirm-delete-forever"),
                action_url: urls::actions(&folder),
                cancel_url: back,
                fields: form.to_confirm(),
            }));
        }
        Applied::NothingSelected => lang.t("act-nothing-selected"),
        Applied::Moved(to) => match (&action, to.is_inbox()) {
            (Action::Delete { .. }, _) => lang.t("act-deleted"),
            (_, true) => lang.t_args(
                "act-moved",
                &[("folder", lang.folder_name(SpecialUse::Inbox))],
            ),
            _ => lang.t_args("act-moved", &[("folder", to.to_string())]),
        },
        Applied::Done if matches!(action, Action::Delete { .. }) => lang.t("act-deleted"),
        Applied::Done => lang.t("act-done"),
    };
    user.set_flash(notice).await;
    Ok(redirect(&back))
}

/// A form whose only field is the answer of a confirmation page.
#[derive(Deserialize)]
pub(crate) struct Confirmed {
    #[serde(default)]
    confirm: String,
}

/// `POST /mail/{folder}/empty`: Empty Trash or Junk, after a confirmation page.
async fn empty_post(
    user: CurrentUser,
    FolderPath(folder): FolderPath,
    CsrfForm(form): CsrfForm<Confirmed>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let folders = user.mail.folders().await?;
    let role = role_of(&folders, &folder);
    if !matches!(role, Some(SpecialUse::Trash | SpecialUse::Junk)) {
        return Err(WebError::BadRequest(
            "only Trash and Junk can be emptied".into(),
        ));
    }
    if form.confirm != "1" {
        return Ok(render(&ConfirmPage {
            ctx: PageCtx::user(&user, lang.t("confirm-title")),
            question: lang.t_args(
                "confirm-empty",
                &[("folder", folder_title(lang, &folders, &folder))],
            ),
            action_url: urls::empty(&folder),
            cancel_url: urls::folder(&folder),
            fields: vec![],
        }));
    }
    user.mail.empty(&folder).await?;
    user.set_flash(lang.t("act-deleted")).await;
    Ok(redirect(&urls::folder(&folder)))
}
