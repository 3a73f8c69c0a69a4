//! `/healthz` and `/readyz`, for load balancers and orchestrators: unauthenticated, plain text, no
//! cookie. `/healthz` says the process answers. `/readyz` says whether it can serve users: the
//! session store answers, and the default IMAP and SMTP servers greet within a deadline (a TCP
//! connection and one line each, no login).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;
use crate::mail::net::greets;
use crate::web::urls;

/// How long a server may take to greet before the instance is reported not ready.
const DEADLINE: Duration = Duration::from_secs(2);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(urls::HEALTHZ, get(healthz))
        .route(urls::READYZ, get(readyz))
}

async fn healthz() -> Response {
    plain(StatusCode::OK, "ok\n".into())
}

async fn readyz(State(state): State<AppState>) -> Response {
    let servers = &state.config.default_servers;
    let tls = &state.config.tls;
    let (store, imap, smtp) = tokio::join!(
        tokio::time::timeout(DEADLINE, state.sessions.ping()),
        greets(&servers.imap, tls, "* OK", DEADLINE),
        greets(&servers.smtp, tls, "220", DEADLINE),
    );
    let store = match store {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    };
    let checks = [
        ("session store".to_owned(), store),
        (
            format!("imap {}:{}", servers.imap.host, servers.imap.port),
            imap.map_err(|e| e.to_string()),
        ),
        (
            format!("smtp {}:{}", servers.smtp.host, servers.smtp.port),
            smtp.map_err(|e| e.to_string()),
        ),
    ];
    let ready = checks.iter().all(|(_, r)| r.is_ok());
    let body: String = checks
        .iter()
        .map(|(what, r)| match r {
            Ok(()) => format!("{what}: ok\n"),
            Err(e) => format!("{what}: {e}\n"),
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        tracing::warn!(checks = %body.trim_end().replace('\n', "; "), "not ready");
        StatusCode::SERVICE_UNAVAILABLE
    };
    plain(status, body)
}

fn plain(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
