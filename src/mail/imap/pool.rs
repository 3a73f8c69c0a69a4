//! The per-user IMAP connection pool.
//!
//! Each logged-in browser session owns an *account pool*: its credentials (in memory only) and up to
//! `max_per_user` authenticated connections, reused across requests so that a page view costs no LOGIN.
//! A *lease* is exclusive use of one connection for the length of one operation, so two requests of the
//! same user never interleave commands on a connection. Operations run in their own task: if the
//! browser goes away mid-FETCH, the operation still reads its answer to the end and the connection goes
//! back clean (the alternative, aborting, would leave half a response in the socket).
//!
//! A connection that broke (server restart, timeout) is thrown away; read-only operations are then
//! retried once on a fresh connection, so the user sees no error. A total cap bounds the connections
//! of all users together; idle connections are closed by a reaper and reopened on the next request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::conn::Conn;
use super::connect;
use crate::mail::MailError;
use crate::mail::account::{Credentials, Server, TlsSettings};
use crate::mail::backend::SpecialFolders;

/// Limits and timeouts of the pool.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub max_per_user: usize,
    pub max_total: usize,
    /// Idle connections are closed after this long.
    pub idle_timeout: Duration,
    /// Each command must complete within this time.
    pub command_timeout: Duration,
    /// An idle connection older than this is checked with NOOP before it is reused.
    pub check_after: Duration,
    /// The credentials of an account not used for this long are forgotten (its session has expired).
    pub account_ttl: Duration,
}

/// Whether an operation may be run a second time after its connection broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Reads and idempotent flag changes: retried once on a fresh connection.
    Safe,
    /// APPEND, MOVE, EXPUNGE...: the error goes up, the caller decides.
    Never,
}

struct Pooled {
    conn: Conn,
    // Held while the connection is open, idle or not: the total cap counts open connections.
    _global: OwnedSemaphorePermit,
}

struct Account {
    creds: Credentials,
    server: Server,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Pooled>>,
    last_seen: Mutex<Instant>,
    specials: Arc<SpecialFolders>,
}

struct Inner {
    /// Requests waiting for a connection of their account (all its slots in use).
    waiting: std::sync::atomic::AtomicI64,
    cfg: PoolConfig,
    tls: TlsSettings,
    global: Arc<Semaphore>,
    accounts: Mutex<HashMap<String, Arc<Account>>>,
    logins: AtomicU64,
}

/// The pool of all users' IMAP connections. Cheap to clone.
#[derive(Clone)]
pub struct ImapPool {
    inner: Arc<Inner>,
}

/// The operation run on a leased connection.
pub trait Op<T>:
    for<'c> Fn(&'c mut Conn) -> BoxFuture<'c, Result<T, MailError>> + Send + Sync
{
}
impl<T, F> Op<T> for F where
    F: for<'c> Fn(&'c mut Conn) -> BoxFuture<'c, Result<T, MailError>> + Send + Sync
{
}

impl ImapPool {
    pub fn new(cfg: PoolConfig, tls: TlsSettings) -> Self {
        let global = Arc::new(Semaphore::new(cfg.max_total));
        ImapPool {
            inner: Arc::new(Inner {
                waiting: Default::default(),
                cfg,
                tls,
                global,
                accounts: Mutex::new(HashMap::new()),
                logins: AtomicU64::new(0),
            }),
        }
    }

    /// Checks the credentials by opening a first connection, and registers the account under `key`
    /// (a secret bound to the browser session). The connection stays in the pool for the next page.
    pub async fn login(
        &self,
        key: &str,
        creds: Credentials,
        server: Server,
    ) -> Result<(), MailError> {
        let global = self.global_permit().await?;
        let conn = self.open(&server, &creds).await?;
        let account = Arc::new(Account {
            creds,
            server,
            slots: Arc::new(Semaphore::new(self.inner.cfg.max_per_user)),
            idle: Mutex::new(vec![Pooled {
                conn,
                _global: global,
            }]),
            last_seen: Mutex::new(Instant::now()),
            specials: Arc::default(),
        });
        let old = lock(&self.inner.accounts).insert(key.to_owned(), account);
        if let Some(old) = old {
            close_all(&old);
        }
        Ok(())
    }

    /// Forgets the account and logs its connections out.
    pub fn logout(&self, key: &str) {
        if let Some(account) = lock(&self.inner.accounts).remove(key) {
            close_all(&account);
        }
    }

    /// Connections open (idle or in use), idle, and requests waiting for one: for the metrics.
    pub fn stats(&self) -> (i64, i64, i64) {
        let open = self
            .inner
            .cfg
            .max_total
            .saturating_sub(self.inner.global.available_permits());
        let idle: usize = lock(&self.inner.accounts)
            .values()
            .map(|a| lock(&a.idle).len())
            .sum();
        let waiting = self.inner.waiting.load(Ordering::Relaxed);
        (open as i64, idle as i64, waiting)
    }

    /// Logs out every idle connection (at shutdown), each within its own short deadline. The
    /// accounts stay known: a request still running keeps its connection.
    pub async fn log_out_idle(&self) -> usize {
        let accounts: Vec<Arc<Account>> = lock(&self.inner.accounts).values().cloned().collect();
        let conns: Vec<Pooled> = accounts
            .iter()
            .flat_map(|a| lock(&a.idle).drain(..).collect::<Vec<_>>())
            .collect();
        let n = conns.len();
        futures::future::join_all(conns.into_iter().map(|p| p.conn.logout())).await;
        n
    }

    /// True if the pool knows this session's account (its credentials are still in memory).
    pub fn knows(&self, key: &str) -> bool {
        lock(&self.inner.accounts).contains_key(key)
    }

    /// The credentials of a session's account (for SMTP, which authenticates with the same ones).
    pub fn credentials(&self, key: &str) -> Option<Credentials> {
        lock(&self.inner.accounts).get(key).map(|a| a.creds.clone())
    }

    /// The special folders found for a session's account.
    pub fn specials(&self, key: &str) -> Option<Arc<SpecialFolders>> {
        lock(&self.inner.accounts)
            .get(key)
            .map(|a| a.specials.clone())
    }

    /// A connection of this account's own, outside the pool: for the watcher that idles on a folder,
    /// so that waiting for news never takes a connection that page requests need.
    pub async fn open_dedicated(&self, key: &str) -> Result<Conn, MailError> {
        let account = lock(&self.inner.accounts)
            .get(key)
            .cloned()
            .ok_or(MailError::AuthFailed)?;
        self.open(&account.server, &account.creds).await
    }

    /// Number of IMAP logins done since start (for tests and metrics).
    pub fn login_count(&self) -> u64 {
        self.inner.logins.load(Ordering::Relaxed)
    }

    /// Runs `op` on one of the account's connections. `Err(MailError::AuthFailed)` means the stored
    /// credentials no longer work (or the account is unknown): the user must log in again.
    pub async fn run<T, F>(&self, key: &str, retry: Retry, op: F) -> Result<T, MailError>
    where
        T: Send + 'static,
        F: Op<T> + 'static,
    {
        let account = lock(&self.inner.accounts)
            .get(key)
            .cloned()
            .ok_or(MailError::AuthFailed)?;
        *lock(&account.last_seen) = Instant::now();
        let pool = self.clone();
        let task = tokio::spawn(async move {
            let mut attempt = 0;
            loop {
                // An operation that is never retried gets a connection checked just before.
                let mut lease = pool.lease(&account, retry == Retry::Never).await?;
                let Some(pooled) = lease.pooled.as_mut() else {
                    // A lease holds its connection until it is dropped.
                    return Err(MailError::ConnectionLost(
                        "lease without a connection".into(),
                    ));
                };
                let result = op(&mut pooled.conn).await;
                let broken = lease.pooled.as_ref().is_none_or(|p| p.conn.is_broken());
                match result {
                    Err(e) if broken && retry == Retry::Safe && attempt == 0 => {
                        tracing::info!(error = %e, "IMAP connection lost; retrying on a new one");
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        });
        task.await
            .map_err(|e| MailError::ConnectionLost(format!("operation task failed: {e}")))?
    }

    /// Closes idle connections past their time and forgets accounts whose session has expired.
    pub fn reap(&self) {
        let now = Instant::now();
        let cfg = &self.inner.cfg;
        let mut accounts = lock(&self.inner.accounts);
        accounts.retain(|_, account| {
            let alive = now.duration_since(*lock(&account.last_seen)) < cfg.account_ttl;
            let mut idle = lock(&account.idle);
            let (keep, close): (Vec<_>, Vec<_>) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|p| alive && now.duration_since(p.conn.last_used) < cfg.idle_timeout);
            *idle = keep;
            for p in close {
                tokio::spawn(p.conn.logout());
            }
            alive
        });
    }

    /// Starts the background reaper; it stops when the pool is dropped.
    pub fn spawn_reaper(&self) {
        let weak = Arc::downgrade(&self.inner);
        let period = (self.inner.cfg.idle_timeout / 4)
            .clamp(Duration::from_millis(200), Duration::from_secs(30));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                ImapPool { inner }.reap();
            }
        });
    }

    async fn lease(&self, account: &Arc<Account>, always_check: bool) -> Result<Lease, MailError> {
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
        let slot = tokio::time::timeout(
            self.inner.cfg.command_timeout,
            account.slots.clone().acquire_owned(),
        )
        .await;
        self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
        let slot = slot
            .map_err(|_| MailError::Busy)?
            .map_err(|_| MailError::Busy)?;
        let cached = lock(&account.idle).pop();
        if let Some(mut pooled) = cached {
            let fresh =
                !always_check && pooled.conn.last_used.elapsed() < self.inner.cfg.check_after;
            if fresh || pooled.conn.check_alive().await.is_ok() {
                return Ok(Lease::new(account, pooled, slot));
            }
            tracing::info!("idle IMAP connection was dead; opening a new one");
        }
        let global = self.global_permit().await?;
        let conn = self.open(&account.server, &account.creds).await?;
        Ok(Lease::new(
            account,
            Pooled {
                conn,
                _global: global,
            },
            slot,
        ))
    }

    async fn open(&self, server: &Server, creds: &Credentials) -> Result<Conn, MailError> {
        let conn = connect::connect(
            server,
            &self.inner.tls,
            creds,
            self.inner.cfg.command_timeout,
        )
        .await?;
        self.inner.logins.fetch_add(1, Ordering::Relaxed);
        Ok(conn)
    }

    /// A permit to open one more connection; when all are taken, the longest-idle connection of any
    /// user is closed to make room.
    async fn global_permit(&self) -> Result<OwnedSemaphorePermit, MailError> {
        if let Ok(p) = self.inner.global.clone().try_acquire_owned() {
            return Ok(p);
        }
        self.evict_oldest_idle();
        tokio::time::timeout(
            self.inner.cfg.command_timeout,
            self.inner.global.clone().acquire_owned(),
        )
        .await
        .map_err(|_| MailError::Busy)?
        .map_err(|_| MailError::Busy)
    }

    fn evict_oldest_idle(&self) {
        let accounts = lock(&self.inner.accounts);
        let oldest = accounts
            .values()
            .filter_map(|a| {
                let idle = lock(&a.idle);
                idle.iter()
                    .enumerate()
                    .min_by_key(|(_, p)| p.conn.last_used)
                    .map(|(i, p)| (p.conn.last_used, a.clone(), i))
            })
            .min_by_key(|(t, _, _)| *t);
        if let Some((_, account, i)) = oldest {
            let mut idle = lock(&account.idle);
            if i < idle.len() {
                let p = idle.swap_remove(i);
                tokio::spawn(p.conn.logout());
            }
        }
    }
}

/// Exclusive use of one connection; gives it back to the account's idle list when dropped, unless it
/// broke.
struct Lease {
    account: Arc<Account>,
    pooled: Option<Pooled>,
    _slot: OwnedSemaphorePermit,
}

impl Lease {
    fn new(account: &Arc<Account>, pooled: Pooled, slot: OwnedSemaphorePermit) -> Self {
        Lease {
            account: account.clone(),
            pooled: Some(pooled),
            _slot: slot,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(p) = self.pooled.take()
            && !p.conn.is_broken()
        {
            lock(&self.account.idle).push(p);
        }
    }
}

fn close_all(account: &Account) {
    for p in lock(&account.idle).drain(..) {
        tokio::spawn(p.conn.logout());
    }
}

/// Locks a std mutex; a poisoned lock only means another thread panicked while holding it, and the
/// data (lists of connections) is still consistent, so the poison is ignored.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
