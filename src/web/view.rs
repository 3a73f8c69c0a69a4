//! What every page shares: the layout context (language, user, CSRF token), the sidebar of folders,
//! and the error page rendered by the `render_errors` middleware.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::i18n::Lang;
use crate::mail::imap::Overview;
use crate::mail::pop3::account::{CheckProblem, CheckState};
use crate::mail::{Folder, FolderName, SpecialUse};
use crate::web::error::ErrorPage;
use crate::web::extract::{CurrentUser, lang_of};
use crate::web::urls;

/// Data for `layout.html`.
#[derive(Clone, Debug)]
pub struct PageCtx {
    pub lang: Lang,
    pub title: String,
    /// The logged-in address, if any.
    pub address: Option<String>,
    pub csrf: String,
    /// A one-time notice ("Message sent").
    pub flash: Option<String>,
    /// The folder this page shows, for live updates (`/events`).
    pub live_folder: Option<String>,
    /// For a POP3 account: the state of its downloads, shown with a "Check mail" button.
    pub pop: Option<PopStatus>,
}

/// The download state of a POP3 account, worded.
#[derive(Clone, Debug)]
pub struct PopStatus {
    pub label: String,
    /// The last check failed (shown as a warning).
    pub problem: bool,
}

impl PopStatus {
    pub fn of(lang: Lang, state: &CheckState) -> Self {
        let now = chrono::Utc::now().timestamp();
        let (key, problem) = match state.problem {
            _ if state.checking => ("pop-checking", false),
            Some(CheckProblem::InUse) => ("pop-in-use", true),
            Some(CheckProblem::AuthFailed) => ("pop-auth-failed", true),
            Some(CheckProblem::Unreachable) => ("pop-unreachable", true),
            Some(CheckProblem::Failed) => ("pop-failed", true),
            None if state.last_ok.is_none() => ("pop-never", false),
            None => ("pop-last-check", false),
        };
        let when = state
            .last_ok
            .map(|t| lang.format_list_date(t, now))
            .unwrap_or_default();
        PopStatus {
            label: lang.t_args(key, &[("time", when)]),
            problem,
        }
    }
}

impl PageCtx {
    /// For pages of a logged-in user.
    pub fn user(user: &CurrentUser, title: impl Into<String>) -> Self {
        PageCtx {
            lang: user.lang,
            title: title.into(),
            address: Some(user.user.address.clone()),
            csrf: user.user.csrf.clone(),
            flash: None,
            live_folder: None,
            pop: user
                .mail
                .pop_account()
                .map(|a| PopStatus::of(user.lang, &a.state())),
        }
    }

    /// For public pages.
    pub fn public(lang: Lang, title: impl Into<String>) -> Self {
        PageCtx {
            lang,
            title: title.into(),
            address: None,
            csrf: String::new(),
            flash: None,
            live_folder: None,
            pop: None,
        }
    }

    /// A translated message.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }
}

/// One line of the folder sidebar.
#[derive(Clone, Debug)]
pub struct SidebarItem {
    pub label: String,
    pub url: String,
    pub depth: usize,
    pub unseen: u32,
    /// "3 unread", for screen readers and tooltips.
    pub unseen_label: String,
    pub current: bool,
    pub selectable: bool,
    pub special: bool,
}

/// The sidebar: folders and quota.
#[derive(Clone, Debug)]
pub struct Sidebar {
    pub items: Vec<SidebarItem>,
    pub quota: Option<QuotaView>,
    pub manage_url: String,
}

/// The quota bar.
#[derive(Clone, Debug)]
pub struct QuotaView {
    /// "12 MB of 1 GB used"
    pub label: String,
    pub percent: u8,
    /// Near the limit (90 % or more): shown as a warning.
    pub warn: bool,
}

/// The sidebar for the folder list, with `current` highlighted. Only subscribed folders are listed
/// (special folders and the current one always are).
pub fn sidebar(lang: Lang, overview: &Overview, current: &FolderName) -> Sidebar {
    let items = overview
        .folders
        .iter()
        .filter(|f| f.subscribed || f.special.is_some() || &f.name == current)
        .map(|f| SidebarItem {
            label: display_name(lang, f),
            url: urls::folder(&f.name),
            depth: f.depth.min(8),
            unseen: f.unseen.unwrap_or(0),
            unseen_label: lang.t_args(
                "unread-count",
                &[("count", f.unseen.unwrap_or(0).to_string())],
            ),
            current: &f.name == current,
            selectable: f.selectable,
            special: f.special.is_some(),
        })
        .collect();
    let quota = overview.quota.map(|q| QuotaView {
        label: lang.t_args(
            "quota-used",
            &[
                ("used", lang.format_size(q.used)),
                ("limit", lang.format_size(q.limit)),
            ],
        ),
        percent: q.percent(),
        warn: q.percent() >= 90,
    });
    Sidebar {
        items,
        quota,
        manage_url: urls::FOLDERS.to_owned(),
    }
}

/// A folder's name as shown: special folders in the user's language, others by their last component.
pub fn display_name(lang: Lang, f: &Folder) -> String {
    match f.special {
        Some(s) if f.depth == 0 => lang.folder_name(s),
        _ => f.leaf.clone(),
    }
}

/// The name of a folder for titles, given the list (falls back to the raw path).
pub fn folder_title(lang: Lang, folders: &[Folder], name: &FolderName) -> String {
    folders
        .iter()
        .find(|f| &f.name == name)
        .map(|f| display_name(lang, f))
        .unwrap_or_else(|| name.to_string())
}

/// The special use of `name` in the folder list.
pub fn role_of(folders: &[Folder], name: &FolderName) -> Option<SpecialUse> {
    folders
        .iter()
        .find(|f| &f.name == name)
        .and_then(|f| f.special)
}

/// The folders messages can be moved to from `current`: (value, label) pairs in sidebar order, nested
/// ones indented.
pub fn move_targets(lang: Lang, folders: &[Folder], current: &FolderName) -> Vec<(String, String)> {
    folders
        .iter()
        .filter(|f| f.selectable && &f.name != current)
        .map(|f| {
            let indent = "\u{a0}\u{a0}".repeat(f.depth);
            (
                f.name.to_string(),
                format!("{indent}{}", display_name(lang, f)),
            )
        })
        .collect()
}

/// Which toolbar a folder gets.
#[derive(Clone, Copy, Debug, Default)]
pub struct FolderKind {
    pub in_trash: bool,
    pub in_junk: bool,
    pub in_archive: bool,
}

impl FolderKind {
    pub fn of(folders: &[Folder], name: &FolderName) -> Self {
        let role = role_of(folders, name);
        FolderKind {
            in_trash: role == Some(SpecialUse::Trash),
            in_junk: role == Some(SpecialUse::Junk),
            in_archive: role == Some(SpecialUse::Archive),
        }
    }
}

/// Renders an askama template into a response; a render failure is logged and becomes a 500.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
            )
                .into_response()
        }
    }
}

/// "Are you sure?" before something that cannot be undone: the same POST again with `confirm=1`.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub ctx: PageCtx,
    pub question: String,
    pub action_url: String,
    pub cancel_url: String,
    pub fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorView {
    ctx: PageCtx,
    message: String,
    status: u16,
}

/// Turns responses marked with an [`ErrorPage`] into the error page, in the request's language, and
/// logs their cause with the request id.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts);
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let resp = next.run(Request::from_parts(parts, body)).await;
    let Some(page) = resp.extensions().get::<ErrorPage>().cloned() else {
        return resp;
    };
    let status = resp.status();
    if status.is_server_error() {
        tracing::error!(request_id, status = status.as_u16(), cause = %page.cause, "request failed");
    } else {
        tracing::info!(request_id, status = status.as_u16(), cause = %page.cause, "request refused");
    }
    let message = if page.message_key == "error-internal" {
        lang.t_args("error-internal", &[("id", request_id)])
    } else {
        lang.t(page.message_key)
    };
    let view = ErrorView {
        ctx: PageCtx::public(lang, lang.t("error-title")),
        message,
        status: status.as_u16(),
    };
    let mut out = render(&view);
    *out.status_mut() = status;
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out
}
