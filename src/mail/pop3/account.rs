//! POP3 accounts at run time: the logged-in sessions (credentials in memory only), each account's
//! local store and download options, and its checks for new mail — at login, on request, and
//! periodically while somebody has a page open, with the result pushed like IMAP's live updates.
//!
//! A POP3 server locks the maildrop while a session lasts, so Courrier runs at most one check per
//! account at a time: a request that arrives during a check waits for it and shares its result.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::client::{self, Pop3};
use super::sync::{SyncOptions, SyncReport, sync_with};
use crate::mail::MailEvent;
use crate::mail::account::{Credentials, Server, TlsSettings};
use crate::mail::backend::SpecialFolders;
use crate::mail::local::backend::Deletions;
use crate::mail::local::{LocalMailbox, LocalStore};
use crate::mail::{FolderName, MailError};

/// The download options of an account, with the defaults of desktop clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PopOptions {
    /// Keep a copy on the server after downloading.
    pub keep_copy: bool,
    /// With `keep_copy`: delete the server copy this many days after the download.
    pub delete_after_days: Option<u32>,
    /// With `keep_copy`: delete the server copy when the message is deleted here.
    pub delete_when_deleted_here: bool,
}

impl Default for PopOptions {
    fn default() -> Self {
        PopOptions {
            keep_copy: true,
            delete_after_days: None,
            delete_when_deleted_here: false,
        }
    }
}

/// Why the last check did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckProblem {
    /// Another program holds the maildrop (`[IN-USE]`); Courrier retries.
    InUse,
    /// The server refused the password (changed since login?).
    AuthFailed,
    /// The server could not be reached or the connection broke.
    Unreachable,
    /// Anything else (local store, protocol).
    Failed,
}

/// What the pages show about an account's downloads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckState {
    pub checking: bool,
    /// When the last check completed (seconds since the epoch).
    pub last_ok: Option<i64>,
    pub problem: Option<CheckProblem>,
    pub last_report: SyncReport,
}

/// One account: its store, options file, ledger, and check state.
pub struct Account {
    pub address: String,
    pub mailbox: LocalMailbox,
    pub specials: Arc<SpecialFolders>,
    dir: PathBuf,
    check_lock: tokio::sync::Mutex<()>,
    state: Mutex<CheckState>,
    tx: broadcast::Sender<MailEvent>,
    polling: AtomicBool,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("address", &self.address)
            .finish()
    }
}

impl Account {
    fn ledger_path(&self) -> PathBuf {
        self.dir.join("pop3-ledger.toml")
    }

    fn options_path(&self) -> PathBuf {
        self.dir.join("pop3-options.toml")
    }

    fn doomed_path(&self) -> PathBuf {
        self.dir.join("pop3-delete-on-server")
    }

    /// The account's download options.
    pub async fn options(&self) -> PopOptions {
        tokio::fs::read_to_string(self.options_path())
            .await
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Saves the download options (atomically).
    pub async fn set_options(&self, opts: &PopOptions) -> Result<(), MailError> {
        let text = toml::to_string(opts).map_err(|e| MailError::Refused(e.to_string()))?;
        write_atomic(&self.options_path(), text.as_bytes()).await
    }

    /// The current check state.
    pub fn state(&self) -> CheckState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut CheckState)) {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Remembers messages deleted here (by their download tags), so that the next check deletes
    /// their server copies, when the options ask for it.
    pub async fn deleted_here(&self, tags: &[String]) -> Result<(), MailError> {
        if tags.is_empty() || !self.options().await.delete_when_deleted_here {
            return Ok(());
        }
        let mut all = self.doomed().await;
        all.extend(tags.iter().filter_map(|t| uidl_of_tag(t)));
        let body: String = all
            .iter()
            .map(|u| format!("{}\n", hex::encode(u)))
            .collect();
        write_atomic(&self.doomed_path(), body.as_bytes()).await
    }

    async fn doomed(&self) -> HashSet<String> {
        tokio::fs::read_to_string(self.doomed_path())
            .await
            .unwrap_or_default()
            .lines()
            .filter_map(uidl_of_tag)
            .collect()
    }

    /// Listens to the account's new-mail events.
    pub fn subscribe(&self) -> broadcast::Receiver<MailEvent> {
        self.tx.subscribe()
    }
}

#[async_trait::async_trait]
impl Deletions for Account {
    async fn deleted_here(&self, tags: &[String]) -> Result<(), MailError> {
        Account::deleted_here(self, tags).await
    }
}

/// Compares secrets without stopping at the first difference.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The UIDL a download tag stands for (tags are the UIDL's bytes in hex).
fn uidl_of_tag(tag: &str) -> Option<String> {
    hex::decode(tag.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MailError> {
    let io = |e: std::io::Error| MailError::Refused(format!("account files: {e}"));
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, path).await.map_err(io)
}

struct Session {
    creds: Credentials,
    server: Server,
    account: Arc<Account>,
    last_used: Instant,
}

struct Inner {
    root: PathBuf,
    tls: TlsSettings,
    timeout: Duration,
    interval: Duration,
    session_ttl: Duration,
    sessions: Mutex<HashMap<String, Session>>,
    accounts: Mutex<HashMap<String, Arc<Account>>>,
}

/// All POP3 accounts and sessions.
#[derive(Clone)]
pub struct PopAccounts {
    inner: Arc<Inner>,
}

/// How long a login waits for its first download before showing the inbox (the download goes on).
const LOGIN_WAIT: Duration = Duration::from_secs(5);

/// Retry delay while another program holds the maildrop.
const IN_USE_RETRY: Duration = Duration::from_secs(15);

impl PopAccounts {
    /// `root`: where accounts live, one directory each (`<root>/<key>/Maildir`, ledger, options).
    pub fn new(
        root: PathBuf,
        tls: TlsSettings,
        timeout: Duration,
        interval: Duration,
        session_ttl: Duration,
    ) -> Self {
        PopAccounts {
            inner: Arc::new(Inner {
                root,
                tls,
                timeout,
                interval,
                session_ttl,
                sessions: Default::default(),
                accounts: Default::default(),
            }),
        }
    }

    fn account(&self, address: &str, dir_key: &str) -> Arc<Account> {
        let mut accounts = self
            .inner
            .accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        accounts
            .entry(address.to_lowercase())
            .or_insert_with(|| {
                let dir = self.inner.root.join(dir_key);
                Arc::new(Account {
                    address: address.to_lowercase(),
                    mailbox: LocalMailbox::new(LocalStore::new(dir.join("Maildir"))),
                    specials: Arc::default(),
                    dir,
                    check_lock: tokio::sync::Mutex::new(()),
                    state: Mutex::new(CheckState::default()),
                    tx: broadcast::channel(32).0,
                    polling: AtomicBool::new(false),
                })
            })
            .clone()
    }

    /// Checks the password with the POP3 server, registers the session under `key`, and starts the
    /// first download, waiting a few seconds for it so that a small maildrop shows at once. The
    /// account's directory is named by `dir_key` (a file-name-safe form of the address).
    pub async fn login(
        &self,
        key: &str,
        dir_key: &str,
        creds: Credentials,
        server: Server,
    ) -> Result<(), MailError> {
        // Another session of this account, logged in with the same password, vouches for it: a
        // second POP3 session would only wait for the lock Courrier itself holds during a check.
        let known = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|s| {
                s.creds.address().eq_ignore_ascii_case(creds.address())
                    && s.server == server
                    && constant_time_eq(s.creds.password(), creds.password())
            });
        let first = if known {
            None
        } else {
            match client::connect(&server, &self.inner.tls, &creds, self.inner.timeout).await {
                Ok(pop) => Some(pop),
                // The password was accepted; only the maildrop is busy: log in and retry later.
                Err(MailError::InUse) => None,
                Err(e) => return Err(e),
            }
        };
        let account = self.account(creds.address(), dir_key);
        account
            .mailbox
            .store
            .folders()
            .await
            .map_err(|e| MailError::Refused(format!("local store: {e}")))?;
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                key.to_owned(),
                Session {
                    creds,
                    server,
                    account: account.clone(),
                    last_used: Instant::now(),
                },
            );
        if first.is_some() || known {
            let me = self.clone();
            let key = key.to_owned();
            let task = tokio::spawn(async move { me.run_check(&key, first).await });
            let _ = tokio::time::timeout(LOGIN_WAIT, task).await;
        } else {
            account.update(|s| s.problem = Some(CheckProblem::InUse));
        }
        Ok(())
    }

    /// Forgets a session (its credentials are wiped when dropped).
    pub fn logout(&self, key: &str) {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// True while the session is known (logged in, not expired).
    pub fn knows(&self, key: &str) -> bool {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
    }

    /// The session's account, marking the session used.
    pub fn account_of(&self, key: &str) -> Option<Arc<Account>> {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let s = sessions.get_mut(key)?;
        s.last_used = Instant::now();
        Some(s.account.clone())
    }

    /// The session's credentials (for sending).
    pub fn credentials(&self, key: &str) -> Option<Credentials> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .map(|s| s.creds.clone())
    }

    /// Drops sessions unused for longer than the session lifetime.
    pub fn reap(&self) {
        let ttl = self.inner.session_ttl;
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, s| s.last_used.elapsed() < ttl);
    }

    /// Downloads new mail now ("Check mail"). If a check of this account is already running, waits
    /// for it instead of opening a second session.
    pub async fn check(&self, key: &str) -> Result<SyncReport, MailError> {
        self.run_check(key, None).await
    }

    async fn run_check(&self, key: &str, first: Option<Pop3>) -> Result<SyncReport, MailError> {
        let (creds, server, account) = {
            let sessions = self
                .inner
                .sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let s = sessions.get(key).ok_or(MailError::AuthFailed)?;
            (s.creds.clone(), s.server.clone(), s.account.clone())
        };
        let _guard = match account.check_lock.try_lock() {
            Ok(g) => g,
            Err(_) => {
                // Somebody else's check is running: its result is ours.
                drop(account.check_lock.lock().await);
                let st = account.state();
                return match st.problem {
                    Some(CheckProblem::InUse) => Err(MailError::InUse),
                    _ => Ok(st.last_report),
                };
            }
        };
        account.update(|s| s.checking = true);
        let before = account
            .mailbox
            .folder_status(&FolderName::inbox())
            .await
            .map(|s| s.2)
            .unwrap_or(1);
        let result = async {
            let pop = match first {
                Some(p) => p,
                None => {
                    client::connect(&server, &self.inner.tls, &creds, self.inner.timeout).await?
                }
            };
            let opts = account.options().await;
            let doomed = account.doomed().await;
            let sync_opts = SyncOptions {
                keep_copy: opts.keep_copy,
                delete_after_days: opts.delete_after_days.filter(|_| opts.keep_copy),
                now: chrono::Utc::now().timestamp(),
            };
            let report = sync_with(
                pop,
                &account.mailbox.store,
                &account.ledger_path(),
                sync_opts,
                &doomed,
            )
            .await?;
            if !doomed.is_empty() {
                let _ = tokio::fs::remove_file(account.doomed_path()).await;
            }
            Ok::<_, MailError>(report)
        }
        .await;
        let now = chrono::Utc::now().timestamp();
        account.update(|s| {
            s.checking = false;
            match &result {
                Ok(r) => {
                    s.last_ok = Some(now);
                    s.problem = None;
                    s.last_report = *r;
                }
                Err(e) => {
                    s.problem = Some(match e {
                        MailError::InUse => CheckProblem::InUse,
                        MailError::AuthFailed => CheckProblem::AuthFailed,
                        MailError::Unreachable(_)
                        | MailError::ConnectionLost(_)
                        | MailError::Timeout
                        | MailError::Tls(_) => CheckProblem::Unreachable,
                        _ => CheckProblem::Failed,
                    })
                }
            }
        });
        match &result {
            Ok(r) => {
                crate::metrics::metrics()
                    .pop3_downloaded
                    .inc_by(r.downloaded as u64);
                tracing::info!(address = %account.address, downloaded = r.downloaded,
                    deleted = r.deleted_on_server, "POP3 check")
            }
            Err(e) => tracing::info!(address = %account.address, error = %e, "POP3 check failed"),
        }
        self.announce(&account, before).await;
        result
    }

    /// Tells the account's open pages the inbox's counts, with what arrived since UID `from`.
    async fn announce(&self, account: &Account, from: u32) {
        if account.tx.receiver_count() == 0 {
            return;
        }
        let inbox = FolderName::inbox();
        let Ok((messages, unseen, _)) = account.mailbox.folder_status(&inbox).await else {
            return;
        };
        let arrived = account
            .mailbox
            .new_arrivals(&inbox, from, 3)
            .await
            .unwrap_or_default();
        let _ = account.tx.send(MailEvent {
            folder: inbox,
            messages,
            unseen,
            arrived,
        });
    }

    /// Listens to the session's account, starting its periodic checks if none run. Checks stop when
    /// no page listens any more or the session ends.
    pub fn subscribe(&self, key: &str) -> Option<broadcast::Receiver<MailEvent>> {
        let account = self.account_of(key)?;
        let rx = account.subscribe();
        if !account.polling.swap(true, Ordering::SeqCst) {
            let me = self.clone();
            let key = key.to_owned();
            tokio::spawn(async move {
                loop {
                    let wait = match account.state().problem {
                        Some(CheckProblem::InUse) => IN_USE_RETRY.min(me.inner.interval),
                        _ => me.inner.interval,
                    };
                    tokio::time::sleep(wait).await;
                    if account.tx.receiver_count() == 0 || !me.knows(&key) {
                        break;
                    }
                    let _ = me.run_check(&key, None).await;
                }
                account.polling.store(false, Ordering::SeqCst);
            });
        }
        Some(rx)
    }
}
