//! The application: shared state, the router, and serving it until shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::FromRef;
use tokio::net::TcpListener;

use crate::config::{Config, SessionBackend};
use crate::mail::MailError;
use crate::mail::account::{Credentials, Protocol, Servers};
use crate::mail::imap::ImapPool;
use crate::mail::imap::watch::Watchers;
use crate::mail::pop3::account::PopAccounts;
use crate::metrics::{Metrics, StateLabels, metrics};
use crate::store::compose::ComposeStore;
use crate::store::secret::{SecretError, SecretKey};
use crate::store::settings::SettingsStore;
use crate::web::sessions::{Embedded, RedisSessions, Sessions};
use crate::web::throttle::Throttle;

/// State shared by all handlers.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: ImapPool,
    pub settings: SettingsStore,
    pub compose: ComposeStore,
    pub watchers: Watchers,
    pub pops: PopAccounts,
    /// Browser sessions (purged of expired ones every minute).
    pub sessions: Sessions,
    /// Turns true when the process is asked to stop: event streams end with a retry hint.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// Seals the password each session needs, in its record.
    pub secret: Arc<SecretKey>,
    /// One reopening at a time per session (see `web::extract`).
    pub reopening: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    pub throttle: Throttle,
    /// Message bodies just rendered, for the frames that show them.
    pub frames: crate::web::frames::Frames,
}

/// Why Courrier could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("session store: {0}")]
    Sessions(String),
}

impl AppState {
    /// Logs in to the user's mail and keeps the session's connections (IMAP) or account (POP3)
    /// under `pool_key`; the password in clear stays in memory there (the session store holds it
    /// only sealed, see `store::secret`).
    pub async fn start_mail_session(
        &self,
        pool_key: &str,
        protocol: Protocol,
        creds: Credentials,
        servers: Servers,
    ) -> Result<(), MailError> {
        let result = match protocol {
            Protocol::Imap => self.pool.login(pool_key, creds, servers.imap).await,
            Protocol::Pop3 => {
                let dir = crate::store::file_key(creds.address());
                self.pops.login(pool_key, &dir, creds, servers.pop3).await
            }
        };
        Metrics::outcome(&metrics().logins, result.is_ok());
        result
    }

    /// Drops what a session holds of a user's mail: its pooled IMAP connections, or its POP3
    /// account (checks stop), and with them the password. At logout, and when a session outlives
    /// its lifetime.
    pub fn end_mail_session(&self, pool_key: &str) {
        self.pool.logout(pool_key);
        self.pops.logout(pool_key);
    }

    /// Builds the state and starts the pool's reaper; fails when the secret key or the session
    /// store cannot be opened.
    pub fn new(config: Config) -> Result<Self, StartError> {
        let secret = match &config.secret_key_file {
            Some(path) => SecretKey::load(path, false)?,
            None => SecretKey::load(&config.data_dir.join("secret.key"), true)?,
        };
        let sessions = match &config.session_store {
            SessionBackend::Embedded => Sessions::Embedded(
                Embedded::open(&config.data_dir.join("sessions.redb"))
                    .map_err(|e| StartError::Sessions(e.to_string()))?,
            ),
            SessionBackend::Redis(url) => Sessions::Redis(
                RedisSessions::new(url).map_err(|e| StartError::Sessions(e.to_string()))?,
            ),
        };
        let pool = ImapPool::new(config.pool.clone(), config.tls.clone());
        pool.spawn_reaper();
        let compose = ComposeStore::new(&config.data_dir);
        let janitor = compose.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                tick.tick().await;
                let n = janitor
                    .purge_older_than(std::time::Duration::from_secs(7 * 24 * 3600))
                    .await;
                if n > 0 {
                    tracing::info!(removed = n, "abandoned compose directories removed");
                }
            }
        });
        let pops = PopAccounts::new(
            config.data_dir.join("accounts"),
            config.tls.clone(),
            config.pool.command_timeout,
            config.pop3_check_interval,
            config.session_idle,
        );
        let reaped = pops.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                reaped.reap();
            }
        });
        sessions.spawn_purger();
        Ok(AppState {
            secret: Arc::new(secret),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
            reopening: Default::default(),
            sessions,
            throttle: Throttle::default(),
            frames: Default::default(),
            pops,
            settings: SettingsStore::new(&config.data_dir),
            compose,
            watchers: Watchers::new(pool.clone()),
            config: Arc::new(config),
            pool,
        })
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    crate::web::routes(state)
}

/// How long requests in flight may take to finish once the process is asked to stop.
pub const STOP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Serves until `shutdown` completes, then stops gracefully: no new connection is accepted, event
/// streams end (telling browsers when to reconnect, to another instance or this one restarted),
/// requests in flight finish within [`STOP_DEADLINE`] (a send in flight completes and is filed, or
/// is kept as a draft), and idle IMAP connections are logged out.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = state.stopping.clone();
    let pool = state.pool.clone();
    let (asked_tx, asked_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("stopping: finishing requests in flight");
        stopping.send_replace(true);
        let _ = asked_tx.send(());
    };
    // The peer's address reaches the handlers (login throttling counts per client).
    let server = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let deadline = async move {
        if asked_rx.await.is_ok() {
            tokio::time::sleep(STOP_DEADLINE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        r = server => r,
        () = deadline => {
            tracing::warn!("stopping: requests still running after the deadline are cut");
            Ok(())
        }
    };
    let n = pool.log_out_idle().await;
    tracing::info!(imap_connections = n, "stopped");
    result
}

/// The metrics listener's routes (`GET /metrics`), apart from the users' ones so that it can
/// listen where only the monitoring reaches (`server.metrics_listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let pool = state.pool.clone();
            async move {
                let m = metrics();
                let (open, idle, waiting) = pool.stats();
                for (state, n) in [("open", open), ("idle", idle), ("waiting", waiting)] {
                    m.imap_connections
                        .get_or_create(&StateLabels { state })
                        .set(n);
                }
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    m.encode(),
                )
            }
        }),
    )
}
