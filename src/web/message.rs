//! One message: the page with its headers and attachments (`GET /mail/{folder}/{uid}`), its HTML body in
//! a sandboxed frame with its own strict CSP (`/body`), one part downloaded (`/part/{section}`), and the
//! original (`/raw`).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use serde::Deserialize;

use crate::app::AppState;
use crate::mail::parse::{MessageView, parse_message};
use crate::mail::sanitize::{DeceptiveLink, SafeCss, SafeHtml};
use crate::mail::shown::{self, Shown};
use crate::mail::{FolderName, Overview, Uid};
use crate::web::error::WebError;
use crate::web::extract::{CurrentUser, MessagePath, PartPath};
use crate::web::forms::Params;
use crate::web::frames::Rendered;
use crate::web::urls;
use crate::web::view::{
    AddrListView, FolderKind, PAGE_TEXT, PageCtx, Sidebar, SubjectView, folder_title, move_targets,
    render, role_of, sidebar,
};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mail/{folder}/{uid}", get(message_get))
        .route("/mail/{folder}/{uid}/body", get(body_get))
        .route("/mail/{folder}/{uid}/part/{section}", get(part_get))
        .route("/mail/{folder}/{uid}/raw", get(raw_get))
}

enum BodyView {
    /// Sanitised HTML, shown through the sandboxed frame at this URL.
    Frame(String),
    Text(SafeHtml),
    Empty,
}

struct AttachmentRow {
    url: String,
    name: String,
    content_type: String,
    size: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    ctx: PageCtx,
    sidebar: Sidebar,
    folder_url: String,
    back_label: String,
    subject: SubjectView,
    from: AddrListView,
    sender_header: AddrListView,
    to: AddrListView,
    cc: AddrListView,
    reply_to: AddrListView,
    date: String,
    body: BodyView,
    attachments: Vec<AttachmentRow>,
    remote_blocked: bool,
    show_remote_url: String,
    /// The sender's address, for "always show remote content from this sender".
    sender: String,
    /// The same as the button shows it (a look-alike domain in punycode).
    sender_shown: String,
    trust_url: &'static str,
    this_url: String,
    malformed: bool,
    /// The HTML body could not be rendered in bounded time: its text is shown instead.
    too_complex: bool,
    truncated: bool,
    /// Links that show one address and go to another host, listed outside the frame where the
    /// message's own styles cannot hide them.
    deceptive: Vec<DeceptiveLink>,
    raw_url: String,
    reply_url: String,
    reply_all_url: String,
    forward_url: String,
    forward_attached_url: String,
    /// For a message in Drafts: open it in the compose form.
    edit_draft_url: Option<String>,
    actions_url: String,
    uid: u32,
    in_trash: bool,
    in_junk: bool,
    in_archive: bool,
    move_targets: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "message_body.html")]
struct BodyFrame {
    html: SafeHtml,
    css: SafeCss,
}

#[derive(Deserialize)]
struct RemoteQuery {
    remote: Option<String>,
    /// The rendering the page kept for its frame.
    r: Option<String>,
}

/// The sender's address, when the user chose to always show remote content from it.
async fn trusted_sender(state: &AppState, user: &CurrentUser, msg: &MessageView) -> bool {
    let Some(sender) = msg.from.first().and_then(|a| a.addr_spec()) else {
        return false;
    };
    state
        .settings
        .load(&user.user.address)
        .await
        .is_ok_and(|s| s.trusts_remote(sender))
}

async fn message_get(
    user: CurrentUser,
    State(state): State<AppState>,
    MessagePath(folder, uid): MessagePath,
    Params(q): Params<RemoteQuery>,
) -> Result<Response, WebError> {
    let overview = user.mail.overview().await?;
    let fetched = user.mail.message(&folder, uid, true).await?;
    let msg = parse_message(&fetched.raw);
    let allow_remote = q.remote.is_some() || trusted_sender(&state, &user, &msg).await;
    let lang = user.lang;
    let shown = shown::body(&msg, allow_remote, lang.t("msg-link-goes-to")).await;
    // The frame shows what was rendered here, by a token only this session can use.
    let keep = |r: Rendered| state.frames.keep(&user.user.pool_key, r);
    let body = ShownBody::of(shown, allow_remote, keep, &folder, uid);
    let mut ctx = PageCtx::user(&user, SubjectView::of(lang, &msg.subject, 100).text);
    ctx.live_folder = Some(urls::folder_key(&folder));
    let at = (&folder, uid);
    Ok(render(&MessagePage::new(
        ctx,
        &overview,
        at,
        &msg,
        fetched.truncated(),
        body,
    )))
}

/// A body as the message page shows it.
struct ShownBody {
    view: BodyView,
    too_complex: bool,
    deceptive: Vec<DeceptiveLink>,
    /// Remote images were left out (the user may ask for them).
    remote_blocked: bool,
}

impl ShownBody {
    fn of(
        shown: Shown,
        allow_remote: bool,
        keep: impl FnOnce(Rendered) -> String,
        folder: &FolderName,
        uid: Uid,
    ) -> Self {
        match shown {
            Shown::Html(s) => {
                let token = keep(Rendered {
                    html: s.html,
                    css: s.css,
                    remote: allow_remote,
                });
                ShownBody {
                    view: BodyView::Frame(urls::body_kept(folder, uid, allow_remote, &token)),
                    too_complex: false,
                    deceptive: s.deceptive,
                    remote_blocked: s.had_remote && !allow_remote,
                }
            }
            Shown::Text { html, too_complex } => ShownBody {
                view: BodyView::Text(html),
                too_complex,
                deceptive: vec![],
                remote_blocked: false,
            },
            Shown::Empty => ShownBody {
                view: BodyView::Empty,
                too_complex: false,
                deceptive: vec![],
                remote_blocked: false,
            },
        }
    }
}

impl MessagePage {
    fn new(
        ctx: PageCtx,
        overview: &Overview,
        (folder, uid): (&FolderName, Uid),
        msg: &MessageView,
        truncated: bool,
        body: ShownBody,
    ) -> Self {
        let lang = ctx.lang;
        let folders = &overview.folders;
        let title = folder_title(lang, folders, folder);
        let in_drafts = role_of(folders, folder) == Some(crate::mail::SpecialUse::Drafts);
        let kind = FolderKind::of(folders, folder);
        MessagePage {
            ctx,
            sidebar: sidebar(lang, overview, folder),
            folder_url: urls::folder(folder),
            back_label: lang.t_args("back-to-folder", &[("folder", title)]),
            subject: SubjectView::of(lang, &msg.subject, PAGE_TEXT),
            from: AddrListView::of(lang, &msg.from, true),
            sender_header: AddrListView::of(lang, &other_sender(msg), true),
            to: AddrListView::of(lang, &msg.to, false),
            cc: AddrListView::of(lang, &msg.cc, false),
            reply_to: AddrListView::of(lang, &msg.reply_to, true),
            date: msg
                .date
                .map(|d| lang.format_full_date(d))
                .unwrap_or_default(),
            body: body.view,
            attachments: msg
                .attachments
                .iter()
                .map(|a| AttachmentRow {
                    url: urls::part(folder, uid, &a.section),
                    name: a.filename.clone(),
                    content_type: a.content_type.clone(),
                    size: lang.format_size(a.size as u64),
                })
                .collect(),
            remote_blocked: body.remote_blocked,
            show_remote_url: urls::message_with_remote(folder, uid),
            sender: msg
                .from
                .first()
                .and_then(|a| a.addr_spec())
                .unwrap_or_default()
                .to_owned(),
            sender_shown: msg
                .from
                .first()
                .filter(|a| a.valid)
                .map(|a| a.shown_address())
                .unwrap_or_default(),
            trust_url: urls::TRUST_SENDER,
            this_url: urls::message(folder, uid),
            malformed: msg.malformed,
            too_complex: body.too_complex,
            deceptive: body.deceptive,
            truncated,
            raw_url: urls::raw(folder, uid),
            reply_url: urls::compose_from("reply", folder, uid),
            reply_all_url: urls::compose_from("reply-all", folder, uid),
            forward_url: urls::compose_from("forward", folder, uid),
            forward_attached_url: urls::compose_from("forward-attached", folder, uid),
            edit_draft_url: in_drafts.then(|| urls::compose_draft(uid)),
            actions_url: urls::actions(folder),
            uid: uid.0,
            in_trash: kind.in_trash,
            in_junk: kind.in_junk,
            in_archive: kind.in_archive,
            move_targets: move_targets(lang, folders, folder),
        }
    }
}

/// The Sender header's mailboxes, when they are not the author's own: someone sending on another's
/// behalf (a list, an assistant, or an impostor using a real From) is shown, as desktop clients do.
fn other_sender(msg: &MessageView) -> Vec<crate::mail::address::Addr> {
    msg.sender
        .iter()
        .filter(|s| {
            !msg.from
                .iter()
                .any(|f| f.valid && s.valid && f.address.eq_ignore_ascii_case(&s.address))
        })
        .cloned()
        .collect()
}

async fn body_get(
    user: CurrentUser,
    State(state): State<AppState>,
    MessagePath(folder, uid): MessagePath,
    Params(q): Params<RemoteQuery>,
) -> Result<Response, WebError> {
    let kept =
        q.r.as_deref()
            .and_then(|t| state.frames.get(&user.user.pool_key, t))
            .filter(|k| k.remote == q.remote.is_some());
    if let Some(k) = kept {
        return Ok(frame_response(k.html.clone(), k.css.clone(), k.remote));
    }
    let fetched = user.mail.message(&folder, uid, false).await?;
    let msg = parse_message(&fetched.raw);
    let allow_remote = q.remote.is_some() || trusted_sender(&state, &user, &msg).await;
    let (html, css) = shown::body(&msg, allow_remote, user.lang.t("msg-link-goes-to"))
        .await
        .into_frame();
    Ok(frame_response(html, css, allow_remote))
}

/// The body frame's page, under its own policy: nothing may load but the images inside the message
/// (data: URIs), and remote images only when the user asked. No script at all, no forms, no
/// plugins, no base URL.
fn frame_response(html: SafeHtml, css: SafeCss, allow_remote: bool) -> Response {
    let img = if allow_remote {
        "img-src data: https: http:"
    } else {
        "img-src data:"
    };
    let csp = format!(
        "default-src 'none'; {img}; style-src 'unsafe-inline'; font-src data:; \
         form-action 'none'; base-uri 'none'; frame-ancestors 'self'; \
         sandbox allow-popups allow-popups-to-escape-sandbox"
    );
    (
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN".to_owned()),
            (header::REFERRER_POLICY, "no-referrer".to_owned()),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        render(&BodyFrame { html, css }),
    )
        .into_response()
}

async fn part_get(
    user: CurrentUser,
    PartPath(folder, uid, section): PartPath,
) -> Result<Response, WebError> {
    let part = user.mail.part(&folder, uid, &section).await?;
    // Made safe by `display::filename` when the part was decoded, as the page showed it.
    let filename = part.filename.unwrap_or_else(|| "attachment".to_owned());
    Ok(download(part.bytes, &part.content_type, &filename))
}

async fn raw_get(
    user: CurrentUser,
    MessagePath(folder, uid): MessagePath,
) -> Result<Response, WebError> {
    let raw = user.mail.raw(&folder, uid).await?;
    Ok(download(
        raw,
        "message/rfc822",
        &format!("message-{uid}.eml"),
    ))
}

/// A download: always `attachment` (never rendered on our origin, whatever its type), the declared type
/// when it is a well-formed MIME type, `nosniff`, and a CSP that forbids everything should a browser
/// render it anyway.
fn download(bytes: Vec<u8>, content_type: &str, filename: &str) -> Response {
    let ct = if is_mime_type(content_type) {
        content_type
    } else {
        "application/octet-stream"
    };
    (
        [
            (header::CONTENT_TYPE, ct.to_owned()),
            (header::CONTENT_DISPOSITION, content_disposition(filename)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

fn is_mime_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    matches!(s.split_once('/'), Some((a, b)) if token(a) && token(b))
}

/// RFC 6266: an ASCII fallback `filename` and the exact name in `filename*` (RFC 8187).
fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_is_ascii_with_utf8_name() {
        let h = content_disposition("résumé été.pdf");
        assert!(
            h.starts_with("attachment; filename=\"r_sum_ _t_.pdf\""),
            "{h}"
        );
        assert!(
            h.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%A9t%C3%A9%2Epdf"),
            "{h}"
        );
        assert!(h.is_ascii());
    }

    #[test]
    fn only_well_formed_mime_types_are_sent() {
        assert!(is_mime_type("application/pdf"));
        assert!(!is_mime_type("text/html\r\nX-Evil: 1"));
        assert!(!is_mime_type("nonsense"));
    }
}
