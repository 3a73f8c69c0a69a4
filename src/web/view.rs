//! What every page shares: the layout context (language, user, CSRF token), the sidebar of folders,
//! and the error page rendered by the `render_errors` middleware.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::i18n::Lang;
use crate::mail::Overview;
use crate::mail::address::Addr;
use crate::mail::pop3::account::{CheckProblem, CheckState};
use crate::mail::{Folder, FolderName, SpecialUse, display};
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
        // The server's name for it, which may hold anything a sender of the folder put there.
        _ => display::clean(&f.leaf),
    }
}

/// The name of a folder for titles, given the list (falls back to the raw path).
pub fn folder_title(lang: Lang, folders: &[Folder], name: &FolderName) -> String {
    folders
        .iter()
        .find(|f| &f.name == name)
        .map(|f| display_name(lang, f))
        .unwrap_or_else(|| display::clean(name.as_str()))
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
    folder_options(lang, folders, |f| f.selectable && &f.name != current)
}

/// The folders `keep` lets through, as (value, label) pairs of a `<select>`: the folder's key and its
/// name, indented by its depth.
pub fn folder_options(
    lang: Lang,
    folders: &[Folder],
    keep: impl Fn(&Folder) -> bool,
) -> Vec<(String, String)> {
    folders
        .iter()
        .filter(|f| keep(f))
        .map(|f| {
            let indent = "\u{a0}\u{a0}".repeat(f.depth);
            (
                urls::folder_key(&f.name),
                format!("{indent}{}", display_name(lang, f)),
            )
        })
        .collect()
}

/// Longest name, address or subject a list row shows; the message shows more, and all on a click.
pub const LIST_TEXT: usize = 80;
/// Longest name, address or subject the message page shows before "show in full".
pub const PAGE_TEXT: usize = 300;
/// Recipients listed on the message page before "and N more".
pub const PAGE_RECIPIENTS: usize = 20;

/// A mailbox as a page shows it (see `mail::address`): the name, and beside it the real address
/// whenever the name could be read as another one.
#[derive(Clone, Debug)]
pub struct AddrView {
    /// The display name, cut to the page's length.
    pub name: Option<String>,
    /// The whole name, when `name` had to be cut.
    pub name_full: Option<String>,
    /// The real address, its domain in punycode when it imitates another; for an invalid mailbox,
    /// its text as sent.
    pub address: String,
    /// The real domain, shown beside a deceptive name in lists.
    pub domain: String,
    /// The name (or a quoted local part, or the domain's letters) reads as another address.
    pub deceptive: bool,
    /// Not a valid address: shown as sent, never as what it may look like.
    pub invalid: bool,
    /// What is wrong, in the user's language, when something is.
    pub warning: String,
}

impl AddrView {
    /// `max`: characters of the name and address shown before they are cut. `sender`: the mailbox
    /// is the author's (From, Sender, Reply-To), which words the warning.
    pub fn of(lang: Lang, a: &Addr, max: usize, sender: bool) -> Self {
        let cut = |s: &str| match display::shorten(s, max) {
            (short, true) => format!("{short}…"),
            (short, false) => short.to_owned(),
        };
        // A long address is cut in its local part: the domain is what tells where it comes from.
        let address = match a.valid.then(|| a.shown_address()) {
            Some(shown) => match shown.rsplit_once('@') {
                Some((local, domain)) => format!("{}@{domain}", cut(local)),
                None => cut(&shown),
            },
            None => cut(&a.address),
        };
        let deceptive = a.is_deceptive();
        let warning = if !a.valid {
            lang.t(if sender {
                "addr-invalid-sender"
            } else {
                "addr-invalid"
            })
        } else if deceptive {
            lang.t_args("addr-deceptive", &[("address", address.clone())])
        } else {
            String::new()
        };
        AddrView {
            name: a.name.as_deref().map(cut),
            name_full: a.name.clone().filter(|n| display::shorten(n, max).1),
            domain: a.domain().map(display::domain).unwrap_or_default(),
            address,
            deceptive,
            invalid: !a.valid,
            warning,
        }
    }

    /// What a list row shows, in two parts: the part that may be cut to fit (the name; without one,
    /// the local part), and the part that never is (`@domain` of an address shown without a name),
    /// so that a long local part cannot push the real domain out of sight.
    pub fn label(&self) -> (&str, &str) {
        if let Some(n) = &self.name {
            return (n, "");
        }
        match self.address.rsplit_once('@') {
            Some((local, _)) if !self.invalid => (local, &self.address[local.len()..]),
            _ => (&self.address, ""),
        }
    }

    /// The mailbox as one line of plain text (a desktop notification's title): the name, followed
    /// by the warning and the real address when the name cannot be trusted.
    pub fn plain(&self) -> String {
        let (head, tail) = self.label();
        if self.deceptive || self.invalid {
            format!("{head}{tail} ⚠ {}", self.address)
        } else {
            format!("{head}{tail}")
        }
    }

    /// Is something wrong with it.
    pub fn suspicious(&self) -> bool {
        self.deceptive || self.invalid
    }
}

/// A message line of a list (a folder, its conversations, search in all folders), ready to print.
#[derive(Clone, Debug)]
pub struct MessageRow {
    pub uid: u32,
    pub url: String,
    pub from: AddrView,
    pub subject: String,
    pub date: String,
    pub size: String,
    pub unread: bool,
    pub flagged: bool,
    pub answered: bool,
    pub attachment: bool,
    /// Reply depth in the conversation view (0 in the list).
    pub depth: usize,
    /// First message of a conversation (the view draws a separator above it).
    pub thread_start: bool,
    /// The folder's name and link, in search results across folders (empty elsewhere).
    pub folder: String,
    pub folder_url: String,
}

impl MessageRow {
    /// The line of `m`, in `folder`; `now` words the date ("14:02" today, a date before).
    pub fn of(lang: Lang, now: i64, folder: &FolderName, m: &crate::mail::MessageSummary) -> Self {
        MessageRow {
            uid: m.uid.0,
            url: urls::message(folder, m.uid),
            from: AddrView::of(lang, &m.from, LIST_TEXT, true),
            subject: SubjectView::of(lang, &m.subject, 2 * LIST_TEXT).text,
            date: m
                .date
                .map(|d| lang.format_list_date(d, now))
                .unwrap_or_default(),
            size: lang.format_size(m.size as u64),
            unread: !m.flags.seen,
            flagged: m.flags.flagged,
            answered: m.flags.answered,
            attachment: m.has_attachment,
            depth: 0,
            thread_start: false,
            folder: String::new(),
            folder_url: String::new(),
        }
    }
}

/// A list of mailboxes for the message page: the first [`PAGE_RECIPIENTS`], then the rest behind
/// "and N more".
#[derive(Clone, Debug, Default)]
pub struct AddrListView {
    pub shown: Vec<AddrView>,
    pub more: Vec<AddrView>,
    /// "and 4,980 more"
    pub more_label: String,
}

impl AddrListView {
    pub fn of(lang: Lang, addrs: &[Addr], sender: bool) -> Self {
        let mut all = addrs
            .iter()
            .map(|a| AddrView::of(lang, a, PAGE_TEXT, sender));
        let shown: Vec<AddrView> = all.by_ref().take(PAGE_RECIPIENTS).collect();
        let more: Vec<AddrView> = all.collect();
        AddrListView {
            more_label: lang.t_args("addr-more", &[("count", more.len().to_string())]),
            shown,
            more,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }
}

/// A subject as a page shows it: cut to `max` characters with an ellipsis, the whole text kept when
/// it was cut; "(no subject)" when there is none.
#[derive(Clone, Debug)]
pub struct SubjectView {
    pub text: String,
    pub full: Option<String>,
}

impl SubjectView {
    pub fn of(lang: Lang, subject: &str, max: usize) -> Self {
        if subject.trim().is_empty() {
            return SubjectView {
                text: lang.t("no-subject"),
                full: None,
            };
        }
        match display::shorten(subject, max) {
            (short, true) => SubjectView {
                text: format!("{short}…"),
                full: Some(subject.to_owned()),
            },
            (short, false) => SubjectView {
                text: short.to_owned(),
                full: None,
            },
        }
    }
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
fn store_unavailable(lang: Lang, request_id: &str) -> Response {
    tracing::error!(request_id, "the session could not be saved");
    crate::metrics::metrics().session_store_errors.inc();
    let view = ErrorView {
        ctx: PageCtx::public(lang, lang.t("error-title")),
        message: lang.t("error-store-unavailable"),
        status: 503,
    };
    let mut out = render(&view);
    *out.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    out
}

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
    let page = match resp.extensions().get::<ErrorPage>() {
        Some(page) => page.clone(),
        // The session layer answers a failed save of the session with a bare 500: the store did
        // not answer in time. Said as such, with a 503 (try again), not as Courrier's failure.
        None if resp.status() == StatusCode::INTERNAL_SERVER_ERROR => {
            return store_unavailable(lang, &request_id);
        }
        None => return resp,
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
