//! The web interface. Each area owns its routes; this module assembles them and the layers around them.

pub mod assets;
pub mod auth;
pub mod compose;
pub mod cookies;
pub mod error;
pub mod events;
pub mod extract;
pub mod folders;
pub mod forms;
pub mod frames;
pub mod health;
pub mod mailbox;
pub mod message;
pub mod pop;
pub mod search;
pub mod security;
pub mod sessions;
pub mod settings;
pub mod throttle;
pub mod urls;
pub mod view;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::{HeaderValue, Request};
use axum::middleware;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::app::AppState;
use error::WebError;

/// Request ids: a per-process random prefix and a counter, enough to find a request in the logs.
#[derive(Clone)]
struct Ids {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl MakeRequestId for Ids {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// All routes with their layers.
pub fn routes(state: AppState) -> Router {
    let sessions = SessionManagerLayer::new(state.sessions.clone())
        .with_name("courrier")
        .with_http_only(true)
        .with_same_site(cookies::SAME_SITE)
        .with_secure(state.config.is_https())
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::try_from(state.config.session_idle)
                .unwrap_or(tower_sessions::cookie::time::Duration::hours(2)),
        ));
    let hsts = state.config.is_https();
    let ids = Ids {
        prefix: auth::random_token()[..8].into(),
        next: Arc::new(AtomicU64::new(1)),
    };
    Router::new()
        .merge(auth::routes())
        .merge(mailbox::routes())
        .merge(message::routes())
        .merge(compose::routes())
        .merge(settings::routes())
        .merge(folders::routes())
        .merge(events::routes())
        .merge(search::routes())
        .merge(pop::routes())
        .merge(health::routes())
        .route("/static/{*path}", axum::routing::get(assets::get))
        .route(
            "/favicon.ico",
            axum::routing::get(|| async { error::redirect("/static/icons/favicon.svg") }),
        )
        // Timed by route pattern: only matched routes (a scan of random paths adds no series).
        .route_layer(middleware::from_fn(timed))
        .fallback(|| async { WebError::NotFound })
        .with_state(state)
        // Layers run outside-in from the bottom: request id first, then tracing, security headers,
        // error pages (which need the request id), and the session closest to the handlers.
        .layer(sessions)
        .layer(middleware::from_fn(view::render_errors))
        .layer(middleware::from_fn(move |req, next| {
            security::headers(hsts, req, next)
        }))
        .layer(middleware::from_fn(server_timing))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(ids))
}

/// The span every log line of a request is written in: its id (the `X-Request-Id` sent back), the
/// method and the path (not the query: a search is the user's business).
fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", id, method = %req.method(), path = req.uri().path())
}

/// Records a request's duration in the metrics, by route pattern, method and status.
async fn timed(
    matched: axum::extract::MatchedPath,
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let route = matched.as_str().to_owned();
    let method = req.method().as_str().to_owned();
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    crate::metrics::metrics()
        .http
        .get_or_create(&crate::metrics::RouteLabels {
            route,
            method,
            status: resp.status().as_u16(),
        })
        .observe(start.elapsed().as_secs_f64());
    resp
}

/// Adds `Server-Timing: app;dur=<ms>`: the time spent in Courrier for this request, which the
/// benchmarks read (and browsers show in their developer tools).
async fn server_timing(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let start = std::time::Instant::now();
    let mut resp = next.run(req).await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        resp.headers_mut().insert("server-timing", v);
    }
    resp
}
