//! Writing mail: `GET /compose` (new, reply, reply-all, forward, forward as attachment, a draft
//! resumed, a form given back after logging in again) and `POST /compose`, one multipart form whose
//! `action` is `send`, `save` (draft), `autosave` (the script, every 30 s), `attach` or `remove:N`.
//!
//! Whatever happens, what the user typed comes back: an invalid address re-renders the form with the
//! field pointed out, a failed send re-renders it with the reason and saves it to Drafts, and a post
//! that arrives after the session expired is stashed on disk and handed back after the next login.

use askama::Template;
use axum::Router;
use axum::extract::multipart::Field;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::app::AppState;
use crate::i18n::Lang;
use crate::mail::compose::{self, Outgoing, OutgoingAttachment};

use crate::mail::outbox::{self, Answer, Original, Outcome, SendFailure};
use crate::mail::smtp::SendError;
use crate::mail::{FolderName, Uid, prefill};
use crate::store::compose::{ComposeStore, StashedFields};
use crate::web::cookies;
use crate::web::error::{WebError, redirect};
use crate::web::extract::CurrentUser;
use crate::web::forms::{Params, same_token};
use crate::web::urls;
use crate::web::view::{PageCtx, render};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        urls::COMPOSE,
        // Uploads are limited by the attachment limit as they are read, not by axum's 2 MB default.
        get(compose_get)
            .post(compose_post)
            .layer(DefaultBodyLimit::disable()),
    )
}

/// Cookie naming a stashed form, so that only the browser that posted it gets it back.
const STASH_COOKIE: &str = "courrier_stash";

/// Largest text field accepted (the body included).
const MAX_TEXT_FIELD: usize = 2 * 1024 * 1024;

/// The fields of the compose form.
#[derive(Clone, Debug, Default)]
struct Fields {
    compose_id: String,
    message_id: String,
    to: String,
    cc: String,
    bcc: String,
    subject: String,
    body: String,
    in_reply_to: String,
    references: String,
    original_folder: String,
    original_uid: String,
    original_flag: String,
}

struct AttachmentRow {
    index: u32,
    name: String,
    size: String,
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage {
    ctx: PageCtx,
    f: Fields,
    attachments: Vec<AttachmentRow>,
    limit_label: String,
    autosave_secs: u32,
    errors: Vec<String>,
    notices: Vec<String>,
    to_error: Option<String>,
    cc_error: Option<String>,
    bcc_error: Option<String>,
}

impl ComposePage {
    fn new(ctx: PageCtx, f: Fields) -> Self {
        ComposePage {
            ctx,
            f,
            attachments: vec![],
            limit_label: String::new(),
            autosave_secs: 30,
            errors: vec![],
            notices: vec![],
            to_error: None,
            cc_error: None,
            bcc_error: None,
        }
    }
}

#[derive(Deserialize, Default)]
struct ComposeQuery {
    mode: Option<String>,
    folder: Option<String>,
    uid: Option<u32>,
    draft: Option<u32>,
    restore: Option<String>,
    to: Option<String>,
}

async fn compose_get(
    user: CurrentUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(q): Params<ComposeQuery>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let address = user.user.address.clone();
    let restore = q
        .restore
        .as_deref()
        .filter(|id| cookies::get(&headers, STASH_COOKIE) == Some(*id));
    let mut notices = vec![];
    let f = if let Some(id) = restore {
        notices.push(lang.t("compose-restored"));
        restored(&state, &address, id).await?
    } else {
        let mut f = Fields {
            message_id: compose::new_message_id(&address),
            compose_id: state.compose.create(&address).await.map_err(store_err)?,
            ..Default::default()
        };
        let settings = state.settings.load(&address).await.unwrap_or_default();
        let signature = match settings.signature.trim() {
            "" => String::new(),
            _ => format!("\n\n-- \n{}", settings.signature.trim_end()),
        };
        if let Some(uid) = q.draft {
            resume_draft(&user, &state, &mut f, Uid(uid)).await?;
        } else if let (Some(mode), Some(folder), Some(uid)) = (q.mode.as_deref(), &q.folder, q.uid)
        {
            let folder = FolderName::new(folder).ok_or(WebError::FolderNotFound)?;
            from_original(&user, &state, &mut f, mode, folder, Uid(uid), &signature).await?;
        } else {
            f.to = q.to.map(|t| compose::one_line(&t)).unwrap_or_default();
            f.body = signature;
        }
        f
    };
    let title = match (q.mode.as_deref(), q.draft) {
        (_, Some(_)) => lang.t("compose-edit-draft"),
        (Some("reply"), _) => lang.t("reply"),
        (Some("reply-all"), _) => lang.t("reply-all"),
        (Some("forward" | "forward-attached"), _) => lang.t("forward"),
        _ => lang.t("compose-title"),
    };
    let mut page = ComposePage::new(PageCtx::user(&user, title), f);
    page.notices = notices;
    finish(&state, &user, page).await
}

/// The form a user was writing when their session ended, kept on disk by [`stash_and_login`].
async fn restored(state: &AppState, address: &str, id: &str) -> Result<Fields, WebError> {
    let stash = state
        .compose
        .claim_stash(id, address)
        .await
        .map_err(|_| WebError::NotFound)?;
    copy_attachments(&state.compose, &stash.compose_id, id, address).await;
    Ok(Fields {
        compose_id: id.to_owned(),
        message_id: if stash.message_id.is_empty() {
            compose::new_message_id(address)
        } else {
            stash.message_id
        },
        to: stash.to,
        cc: stash.cc,
        bcc: stash.bcc,
        subject: stash.subject,
        body: stash.body,
        in_reply_to: stash.in_reply_to,
        references: stash.references,
        ..Default::default()
    })
}

/// Fills the form from the message answered or forwarded.
async fn from_original(
    user: &CurrentUser,
    state: &AppState,
    f: &mut Fields,
    mode: &str,
    folder: FolderName,
    uid: Uid,
    signature: &str,
) -> Result<(), WebError> {
    let mode = prefill::Mode::from_form(mode)
        .ok_or_else(|| WebError::BadRequest(format!("unknown compose mode {mode:?}")))?;
    let raw = user.mail.raw(&folder, uid).await?;
    let p = prefill::answer(&raw, mode, &user.user.address, signature, &user.lang);
    f.original_folder = urls::folder_key(&folder);
    f.original_uid = uid.to_string();
    fill(state, f, p).await
}

/// Fills the form from a draft in the Drafts folder; saving or sending replaces that draft.
async fn resume_draft(
    user: &CurrentUser,
    state: &AppState,
    f: &mut Fields,
    uid: Uid,
) -> Result<(), WebError> {
    let raw = user.mail.draft(uid).await?;
    fill(state, f, prefill::resume(&raw)).await
}

/// Puts a prefilled message into the form, its attachments into the compose store.
async fn fill(state: &AppState, f: &mut Fields, p: prefill::Prefill) -> Result<(), WebError> {
    f.to = p.to;
    f.cc = p.cc;
    f.bcc = p.bcc;
    f.subject = p.subject;
    f.body = p.body;
    f.in_reply_to = p.in_reply_to;
    f.references = p.references;
    if let Some(id) = p.message_id {
        f.message_id = id;
    }
    if let Some(answer) = p.answer {
        f.original_flag = answer.form_value().into();
    }
    keep_attachments(&state.compose, &f.compose_id, &p.attachments).await
}

impl prefill::Wording for Lang {
    fn date(&self, timestamp: i64) -> String {
        self.format_full_date(timestamp)
    }

    fn attribution(&self, date: &str, name: &str) -> String {
        self.t_args(
            "reply-attribution",
            &[("date", date.to_owned()), ("name", name.to_owned())],
        )
    }

    fn forward_header(&self) -> String {
        self.t("forward-header")
    }

    fn forward_labels(&self) -> [String; 4] {
        ["msg-from", "msg-date", "compose-subject", "msg-to"].map(|k| self.t(k))
    }
}

/// Puts the attachments of a message (forwarded, or a draft resumed) into the compose directory.
async fn keep_attachments(
    store: &ComposeStore,
    compose_id: &str,
    attachments: &[(String, String, Vec<u8>)],
) -> Result<(), WebError> {
    for (name, ct, bytes) in attachments {
        store
            .add_bytes(compose_id, name, ct, bytes)
            .await
            .map_err(store_err)?;
    }
    Ok(())
}

/// Attachments of a compose directory the user owned before their session expired.
async fn copy_attachments(store: &ComposeStore, from: &str, to: &str, owner: &str) {
    if from.is_empty() || !store.owns(from, owner).await {
        return;
    }
    for a in store.list(from).await.unwrap_or_default() {
        if let Ok(bytes) = store.read(from, a.index).await {
            let _ = store
                .add_bytes(to, &a.filename, &a.content_type, &bytes)
                .await;
        }
    }
    store.delete(from).await;
}

async fn compose_post(
    user: Result<CurrentUser, WebError>,
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let limit = state.config.max_attachment_bytes();
    let user = match user {
        Ok(u) => u,
        Err(WebError::NotLoggedIn { .. } | WebError::SessionExpired) => {
            return stash_and_login(&state, &headers, multipart).await;
        }
        Err(e) => return Err(e),
    };
    let lang = user.lang;
    let address = user.user.address.clone();
    let mut form = read_form(multipart, &state.compose, Some(&address), limit).await?;
    let mut page = ComposePage::new(
        PageCtx::user(&user, lang.t("compose-title")),
        form.fields.clone(),
    );
    if !same_token(&form.csrf, &user.user.csrf) {
        // Typically a form from before logging in again in another tab: nothing is done, the text
        // comes back with the current token, to be submitted again.
        if form.action == "autosave" {
            return Ok(StatusCode::CONFLICT.into_response());
        }
        page.errors.push(lang.t("compose-token-refreshed"));
        return finish(&state, &user, page).await;
    }
    page.errors.extend(form.problems(lang, limit));
    let action = form.action.clone();
    if let Some(index) = action.strip_prefix("remove:").and_then(|i| i.parse().ok()) {
        state
            .compose
            .remove(&form.fields.compose_id, index)
            .await
            .map_err(store_err)?;
        return finish(&state, &user, page).await;
    }
    match action.as_str() {
        // A file that could not be attached must not silently go missing from a sent message.
        "send" if !form.too_big.is_empty() || form.cut_short => finish(&state, &user, page).await,
        "send" => send(&state, &user, &mut form.fields, page).await,
        // A draft cut short must not replace a whole one; the autosave script tries again.
        "autosave" if form.cut_short => Ok(StatusCode::BAD_REQUEST.into_response()),
        "save" if form.cut_short => finish(&state, &user, page).await,
        "save" | "autosave" if state.compose.is_sent(&form.fields.message_id) => {
            // A late autosave of a message already sent: nothing to keep.
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        "save" | "autosave" => save(&state, &user, &form.fields, action == "autosave", page).await,
        // "attach" and anything else: show the form again with the new attachments.
        _ => finish(&state, &user, page).await,
    }
}

/// Saves the form as a draft: for the autosave script, a status; for the Save button, the form
/// again with what happened.
async fn save(
    state: &AppState,
    user: &CurrentUser,
    fields: &Fields,
    autosave: bool,
    mut page: ComposePage,
) -> Result<Response, WebError> {
    let saved = match outgoing(state, user, fields, false).await {
        Ok(o) => outbox::save_draft(&user.mail, &o)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if autosave {
        // The script only needs to know whether it worked.
        return Ok(match saved {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(_) => StatusCode::BAD_GATEWAY.into_response(),
        });
    }
    let lang = user.lang;
    match saved {
        Ok(()) => page.notices.push(lang.t_args(
            "compose-draft-saved",
            &[("time", chrono::Local::now().format("%H:%M").to_string())],
        )),
        Err(e) => {
            tracing::warn!(error = %e, "saving a draft failed");
            page.errors.push(lang.t("compose-draft-failed"));
        }
    }
    finish(state, user, page).await
}

/// Validates recipients, sends, and either leaves for the folder or comes back with the reason.
async fn send(
    state: &AppState,
    user: &CurrentUser,
    fields: &mut Fields,
    mut page: ComposePage,
) -> Result<Response, WebError> {
    let lang = user.lang;
    if !recipients_ok(lang, fields, &mut page) {
        return finish(state, user, page).await;
    }
    let outgoing = match outgoing(state, user, fields, true).await {
        Ok(o) => o,
        Err(e) => {
            page.errors.push(e);
            return finish(state, user, page).await;
        }
    };
    if outgoing.to.is_empty() && outgoing.cc.is_empty() && outgoing.bcc.is_empty() {
        page.to_error = Some(lang.t("compose-no-recipient"));
        return finish(state, user, page).await;
    }
    let original = original_of(fields);
    let smtp = state
        .config
        .servers_for(&user.user.address)
        .map_err(|_| WebError::Internal("no servers for a logged-in address".into()))?
        .smtp;
    let message_id = outgoing.message_id.clone();
    if !state.compose.begin_send(&message_id) {
        // A second click while the first send runs, or a resubmitted page: never send twice.
        let back = original.map(|o| o.folder).unwrap_or_else(FolderName::inbox);
        return Ok(redirect(&urls::folder(&back)));
    }
    // In its own task: a browser that goes away mid-send must not leave it sent but not filed.
    let (mail, tls, orig) = (
        user.mail.clone(),
        state.config.tls.clone(),
        original.clone(),
    );
    let outcome =
        tokio::spawn(async move { outbox::send(&mail, &smtp, &tls, outgoing, orig).await })
            .await
            .map_err(|e| WebError::Internal(format!("send task: {e}")))?;
    if matches!(outcome, Outcome::NotSent { .. }) {
        state.compose.send_failed(&message_id);
    }
    if let Outcome::Sent { .. } = outcome {
        state.compose.delete(&fields.compose_id).await;
    }
    answer_send(user, original, outcome, page, state).await
}

/// Checks each recipient field; the ones that do not parse say so beside the field.
fn recipients_ok(lang: Lang, fields: &Fields, page: &mut ComposePage) -> bool {
    let mut ok = true;
    for (value, slot) in [
        (&fields.to, &mut page.to_error),
        (&fields.cc, &mut page.cc_error),
        (&fields.bcc, &mut page.bcc_error),
    ] {
        if let Err(bad) = compose::parse_recipients(value) {
            *slot = Some(lang.t_args("compose-invalid-addresses", &[("list", bad.join(", "))]));
            ok = false;
        }
    }
    ok
}

/// What the user sees of a send: the folder with "Message sent", or the form again with why not
/// and where the text is kept.
async fn answer_send(
    user: &CurrentUser,
    original: Option<Original>,
    outcome: Outcome,
    mut page: ComposePage,
    state: &AppState,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let sent = matches!(outcome, Outcome::Sent { .. });
    crate::metrics::Metrics::outcome(&crate::metrics::metrics().sends, sent);
    match outcome {
        Outcome::Sent { filing_error } => {
            let notice = match filing_error {
                None => lang.t("compose-sent"),
                Some(e) => {
                    tracing::warn!(error = %e, "message sent but not filed");
                    lang.t("compose-sent-not-filed")
                }
            };
            user.set_flash(notice).await;
            let back = original.map(|o| o.folder).unwrap_or_else(FolderName::inbox);
            Ok(redirect(&urls::folder(&back)))
        }
        Outcome::NotSent { error, draft_saved } => {
            tracing::info!(error = %error, "message not sent");
            page.errors
                .push(lang.t_args("compose-not-sent", &[("reason", reason(lang, &error))]));
            match draft_saved {
                Ok(()) => page.notices.push(lang.t("compose-saved-in-drafts")),
                Err(e) => {
                    tracing::warn!(error = %e, "saving the unsent message as a draft failed");
                    page.errors.push(lang.t("compose-draft-failed"));
                }
            }
            finish(state, user, page).await
        }
    }
}

fn original_of(f: &Fields) -> Option<Original> {
    let folder = urls::folder_from_key(&f.original_folder)?;
    let uid = f.original_uid.parse().ok().filter(|u| *u > 0)?;
    Some(Original {
        folder,
        uid: Uid(uid),
        answer: Answer::from_form(&f.original_flag)?,
    })
}

/// The reason a send failed, in the user's words.
fn reason(lang: Lang, e: &SendFailure) -> String {
    let detail = |d: &str| vec![("detail", d.chars().take(200).collect::<String>())];
    match e {
        SendFailure::Smtp(SendError::AuthFailed) | SendFailure::NoCredentials => {
            lang.t("send-error-auth")
        }
        SendFailure::Smtp(SendError::Unreachable(_)) => lang.t("send-error-unreachable"),
        SendFailure::Smtp(SendError::Tls(_)) => lang.t("send-error-tls"),
        SendFailure::Smtp(SendError::RecipientRejected(d)) => {
            lang.t_args("send-error-recipient", &detail(d))
        }
        SendFailure::Smtp(SendError::TooBig(_)) => lang.t("send-error-too-big"),
        SendFailure::Smtp(SendError::Rejected(d)) => lang.t_args("send-error-rejected", &detail(d)),
        SendFailure::Smtp(SendError::Temporary(_)) => lang.t("send-error-temporary"),
        SendFailure::Smtp(SendError::Timeout) => lang.t("send-error-timeout"),
        SendFailure::Compose(_) => lang.t("send-error-other"),
    }
}

/// The message as it would leave: recipients parsed (leniently for drafts), attachments read.
async fn outgoing(
    state: &AppState,
    user: &CurrentUser,
    f: &Fields,
    strict: bool,
) -> Result<Outgoing, String> {
    let settings = state
        .settings
        .load(&user.user.address)
        .await
        .unwrap_or_default();
    let parse = |v: &str| match compose::parse_recipients(v) {
        Ok(list) => Ok(list),
        // A draft keeps what parses; the rest is still in the form the user sees.
        Err(_) if !strict => Ok(v
            .split([',', ';'])
            .filter_map(|p| compose::parse_recipients(p).ok())
            .flatten()
            .collect()),
        Err(bad) => Err(bad.join(", ")),
    };
    let mut attachments = Vec::new();
    for a in state.compose.list(&f.compose_id).await.unwrap_or_default() {
        let bytes = state
            .compose
            .read(&f.compose_id, a.index)
            .await
            .map_err(|e| e.to_string())?;
        attachments.push(OutgoingAttachment {
            filename: a.filename,
            content_type: a.content_type,
            bytes,
        });
    }
    let message_id = compose::clean_message_ids(&f.message_id)
        .pop()
        .unwrap_or_else(|| compose::new_message_id(&user.user.address));
    Ok(Outgoing {
        from_address: user.user.address.clone(),
        from_name: settings.display_name,
        to: parse(&f.to)?,
        cc: parse(&f.cc)?,
        bcc: parse(&f.bcc)?,
        subject: f.subject.clone(),
        body: f.body.clone(),
        in_reply_to: Some(f.in_reply_to.clone()).filter(|s| !s.is_empty()),
        references: vec![f.references.clone()],
        attachments,
        message_id,
    })
}

/// Renders the form with its current attachments.
async fn finish(
    state: &AppState,
    user: &CurrentUser,
    mut page: ComposePage,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let id = page.f.compose_id.clone();
    page.attachments = state
        .compose
        .list(&id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|a| AttachmentRow {
            index: a.index,
            name: a.filename,
            size: lang.format_size(a.size),
        })
        .collect();
    page.autosave_secs = state.config.autosave_secs;
    page.limit_label = lang.t_args(
        "compose-limit",
        &[(
            "size",
            lang.format_size(state.config.max_attachment_bytes()),
        )],
    );
    let mut resp = render(&page);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The form as posted: its fields, which files were too big, and the button pressed.
struct PostedForm {
    csrf: String,
    action: String,
    fields: Fields,
    too_big: Vec<String>,
    /// The form did not arrive whole (the connection dropped, or the body was not valid multipart).
    cut_short: bool,
    /// The compose id the form carried, when it was not usable and a new one was made.
    previous_compose_id: String,
}

impl PostedForm {
    /// What did not arrive: files over the limit, the end of a form cut short.
    fn problems(&self, lang: Lang, limit: u64) -> Vec<String> {
        let mut out: Vec<String> = self
            .too_big
            .iter()
            .map(|name| {
                lang.t_args(
                    "compose-too-big",
                    &[("name", name.clone()), ("size", lang.format_size(limit))],
                )
            })
            .collect();
        if self.cut_short {
            out.push(lang.t("compose-cut-short"));
        }
        out
    }
}

/// Reads the multipart form, streaming files into the compose directory (created if the form's is
/// not the user's). Files beyond the attachment limit are dropped and named in `too_big`; text fields
/// are always kept, so nothing typed is lost.
async fn read_form(
    mut multipart: Multipart,
    store: &ComposeStore,
    owner: Option<&str>,
    limit: u64,
) -> Result<PostedForm, WebError> {
    let mut form = PostedForm {
        csrf: String::new(),
        action: String::new(),
        fields: Fields::default(),
        too_big: vec![],
        cut_short: false,
        previous_compose_id: String::new(),
    };
    let mut dir: Option<String> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                // The browser went away or sent garbage: keep what arrived, send nothing.
                tracing::info!(error = %e, "compose form cut short");
                form.cut_short = true;
                break;
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        if name == "files" {
            let filename = compose::clean_filename(field.file_name().unwrap_or(""));
            if field.file_name().is_none_or(str::is_empty) {
                continue;
            }
            let id = match &dir {
                Some(d) => d.clone(),
                None => {
                    let d = compose_dir(store, &form.fields.compose_id, owner).await?;
                    if d != form.fields.compose_id {
                        form.previous_compose_id = std::mem::take(&mut form.fields.compose_id);
                    }
                    form.fields.compose_id = d.clone();
                    dir = Some(d.clone());
                    d
                }
            };
            let content_type = field
                .content_type()
                .filter(|c| c.contains('/') && c.is_ascii() && !c.contains(['\r', '\n']))
                .unwrap_or("application/octet-stream")
                .to_owned();
            let used = store.total_size(&id).await.unwrap_or(0);
            let room = limit.saturating_sub(used);
            match receive_file(store, &id, field, &filename, &content_type, room).await {
                Ok(true) => {}
                Ok(false) => form.too_big.push(filename),
                Err(e) => {
                    // A full disk and the like: that file is not attached, the text is still read.
                    tracing::error!(error = ?e, "storing an upload failed");
                    form.too_big.push(filename);
                }
            }
            continue;
        }
        let value = read_text(field).await;
        let f = &mut form.fields;
        match name.as_str() {
            "csrf" => form.csrf = value,
            "action" => form.action = value,
            // Once files went to a checked directory, a later compose_id cannot redirect the rest.
            "compose_id" if dir.is_none() => f.compose_id = value,
            "compose_id" => {}
            "message_id" => f.message_id = value,
            "to" => f.to = value,
            "cc" => f.cc = value,
            "bcc" => f.bcc = value,
            "subject" => f.subject = value,
            "body" => f.body = value,
            "in_reply_to" => f.in_reply_to = value,
            "references" => f.references = value,
            "original_folder" => f.original_folder = value,
            "original_uid" => f.original_uid = value,
            "original_flag" => f.original_flag = value,
            _ => {}
        }
    }
    if dir.is_none() {
        let d = compose_dir(store, &form.fields.compose_id, owner).await?;
        if d != form.fields.compose_id {
            form.previous_compose_id = std::mem::take(&mut form.fields.compose_id);
        }
        form.fields.compose_id = d;
    }
    Ok(form)
}

/// The form's compose directory if it is the user's, else a new one.
async fn compose_dir(
    store: &ComposeStore,
    id: &str,
    owner: Option<&str>,
) -> Result<String, WebError> {
    match owner {
        Some(o) if store.owns(id, o).await => Ok(id.to_owned()),
        Some(o) => store.create(o).await.map_err(store_err),
        None => store.create("").await.map_err(store_err),
    }
}

async fn read_text(mut field: Field<'_>) -> String {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = field.chunk().await {
        if buf.len() + chunk.len() > MAX_TEXT_FIELD {
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Streams one file to disk; false (and nothing kept) if it would exceed `room` bytes.
async fn receive_file(
    store: &ComposeStore,
    id: &str,
    mut field: Field<'_>,
    filename: &str,
    content_type: &str,
    room: u64,
) -> Result<bool, WebError> {
    let mut upload = store.begin_upload(id).await.map_err(store_err)?;
    let mut over = false;
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if over || upload.size + chunk.len() as u64 > room {
                    // Keep reading so the browser gets our page rather than a reset connection.
                    over = true;
                    continue;
                }
                upload.write(&chunk).await.map_err(store_err)?;
            }
            Ok(None) => break,
            Err(_) => {
                over = true;
                break;
            }
        }
    }
    if over {
        store.abort_upload(upload).await;
        return Ok(false);
    }
    store
        .finish_upload(id, upload, filename, content_type)
        .await
        .map_err(store_err)?;
    Ok(true)
}

/// A post without a session: keep what was typed on disk, send the browser to the login page with a
/// cookie naming the stash, and give it back after login.
async fn stash_and_login(
    state: &AppState,
    headers: &HeaderMap,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return Err(WebError::BadRequest("cross-site compose post".into()));
    }
    // Files of this very post are not kept (anyone may post here; only text is stored, and only
    // from our own pages); attachments added before the session expired come back at restore.
    let form = read_form(multipart, &state.compose, None, 0).await?;
    if form.action == "autosave" {
        // The script keeps the text and says it is not saved; a stash would claim otherwise.
        state.compose.delete(&form.fields.compose_id).await;
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    }
    // A new, ownerless directory holds this post's files; the attachments of the directory the form
    // came with are copied over at restore if the user who logs in owns it.
    let id = form.fields.compose_id.clone();
    let f = form.fields;
    state
        .compose
        .stash(
            &id,
            StashedFields {
                to: f.to,
                cc: f.cc,
                bcc: f.bcc,
                subject: f.subject,
                body: f.body,
                in_reply_to: f.in_reply_to,
                references: f.references,
                message_id: f.message_id,
                compose_id: form.previous_compose_id,
            },
        )
        .await
        .map_err(store_err)?;
    let mut resp = redirect(&urls::login_expired_then(&urls::compose_restore(&id)));
    resp.headers_mut().insert(
        header::SET_COOKIE,
        cookies::set(STASH_COOKIE, &id, 86_400, state.config.is_https()),
    );
    Ok(resp)
}

fn store_err(e: crate::store::StoreError) -> WebError {
    WebError::Internal(format!("compose storage: {e}"))
}
