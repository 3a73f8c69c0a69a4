//! `GET /events?folder=F`: Server-Sent Events for an open page. Each tab listens to the inbox (for the
//! unread count in its title and new-mail notifications) and to the folder it shows; the watchers
//! behind them are shared by all the tabs of a session (see `mail::imap::watch`).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::i18n::Lang;
use crate::mail::MailEvent;
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::forms::Params;
use crate::web::urls;
use crate::web::view::{AddrView, LIST_TEXT, SubjectView};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/events", get(events_get))
}

#[derive(Deserialize)]
struct EventsQuery {
    folder: Option<String>,
}

async fn events_get(
    user: CurrentUser,
    State(state): State<AppState>,
    Params(q): Params<EventsQuery>,
) -> Result<Response, WebError> {
    let folder = q.folder.as_deref().and_then(urls::folder_from_key);
    let (receivers, known) = user.mail.listen(folder);
    // A tab joining running watchers first gets their current state.
    let lang = user.lang;
    let first = futures::stream::iter(known.into_iter().map(move |ev| Ok(to_sse(lang, &ev))));
    // When the process stops, the stream ends with a hint: reconnect in two seconds (to another
    // instance, or to this one restarted), so that a tab never hangs on a dead connection.
    let mut stopping = state.stopping.subscribe();
    let stopped = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let open = OpenStream::new();
    let stream = first
        .chain(events(lang, receivers))
        .map(move |e| {
            let _counted = &open;
            e
        })
        .take_until(stopped)
        .chain(futures::stream::once(async {
            Ok(Event::default()
                .retry(Duration::from_secs(2))
                .comment("bye"))
        }));
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// Counts an open stream for the metrics, as long as the stream lives.
struct OpenStream;

impl OpenStream {
    fn new() -> Self {
        crate::metrics::metrics().event_streams.inc();
        OpenStream
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        crate::metrics::metrics().event_streams.dec();
    }
}

/// The events of all the receivers, as they come, until every watcher has stopped.
fn events(
    lang: Lang,
    receivers: Vec<tokio::sync::broadcast::Receiver<MailEvent>>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(receivers, move |mut receivers| async move {
        loop {
            if receivers.is_empty() {
                return None;
            }
            let (result, index, _) =
                futures::future::select_all(receivers.iter_mut().map(|r| Box::pin(r.recv()))).await;
            match result {
                Ok(ev) => return Some((Ok(to_sse(lang, &ev)), receivers)),
                // A slow tab missed some events: the next one carries the current counts anyway.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => {
                    receivers.remove(index);
                }
            }
        }
    })
}

/// One event as the page's script reads it. What becomes a desktop notification is worded here, as
/// the list shows it: a sender whose name shows another address carries the real one.
fn to_sse(lang: Lang, ev: &MailEvent) -> Event {
    let arrived: Vec<serde_json::Value> = ev
        .arrived
        .iter()
        .map(|m| {
            serde_json::json!({
                "from": AddrView::of(lang, &m.from, LIST_TEXT, true).plain(),
                "subject": SubjectView::of(lang, &m.subject, 2 * LIST_TEXT).text,
                "url": urls::message(&ev.folder, m.uid),
            })
        })
        .collect();
    let data = serde_json::json!({
        "folder": urls::folder_key(&ev.folder),
        "url": urls::folder(&ev.folder),
        "messages": ev.messages,
        "unseen": ev.unseen,
        "arrived": arrived,
    });
    Event::default().event("mail").data(data.to_string())
}
