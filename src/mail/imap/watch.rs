//! Live updates: one watcher per (session, folder) that idles (RFC 2177) on a connection of its own
//! and broadcasts what changed: counts, and sender and subject of new mail. Watchers start with their
//! first subscriber (a browser tab listening) and stop when the last one goes, or when the session
//! ends. After a lost connection (a server restart) a watcher reconnects by itself, backing off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use super::{ImapPool, folder_status, new_arrivals};
use crate::mail::{FolderName, MailEvent};

/// How long one IDLE lasts before the watcher checks whether anyone still listens (RFC 2177 asks
/// clients to re-issue IDLE at least every 29 minutes; this is much shorter so that watchers of
/// closed tabs stop soon).
const IDLE_SLICE: Duration = Duration::from_secs(20);

type Key = (String, FolderName);

/// All running watchers.
#[derive(Clone)]
pub struct Watchers {
    pool: ImapPool,
    running: Arc<Mutex<HashMap<Key, Running>>>,
}

/// A watcher's channel and the last state it announced (for tabs that join later).
struct Running {
    tx: broadcast::Sender<MailEvent>,
    last: Arc<Mutex<Option<MailEvent>>>,
}

impl Watchers {
    pub fn new(pool: ImapPool) -> Self {
        Watchers {
            pool,
            running: Default::default(),
        }
    }

    /// Listens to changes of `folder` for the session `key`, starting a watcher if none runs. Also
    /// returns the last state the watcher announced, if it has one yet (a tab that joins late).
    pub fn subscribe(
        &self,
        key: &str,
        folder: FolderName,
    ) -> (broadcast::Receiver<MailEvent>, Option<MailEvent>) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let k = (key.to_owned(), folder);
        if let Some(r) = running.get(&k) {
            let last = r.last.lock().ok().and_then(|l| l.clone());
            return (r.tx.subscribe(), last);
        }
        let (tx, rx) = broadcast::channel(32);
        let last = Arc::new(Mutex::new(None));
        running.insert(
            k.clone(),
            Running {
                tx: tx.clone(),
                last: last.clone(),
            },
        );
        let me = self.clone();
        tokio::spawn(async move { me.watch(k, tx, last).await });
        (rx, None)
    }

    /// Number of watchers running (each holds one IMAP connection while connected).
    pub fn count(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// True while somebody listens and the session lives; otherwise the watcher is unregistered.
    fn still_wanted(&self, k: &Key, tx: &broadcast::Sender<MailEvent>) -> bool {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if tx.receiver_count() > 0 && self.pool.knows(&k.0) {
            return true;
        }
        if running.get(k).is_some_and(|r| r.tx.same_channel(tx)) {
            running.remove(k);
        }
        false
    }

    async fn watch(
        self,
        k: Key,
        tx: broadcast::Sender<MailEvent>,
        last_sent: Arc<Mutex<Option<MailEvent>>>,
    ) {
        let (key, folder) = (&k.0, &k.1);
        let send = |ev: MailEvent| {
            if let Ok(mut l) = last_sent.lock() {
                *l = Some(MailEvent {
                    arrived: vec![],
                    ..ev.clone()
                });
            }
            let _ = tx.send(ev);
        };
        let mut backoff = Duration::from_millis(500);
        while self.still_wanted(&k, &tx) {
            let mut conn = match self.pool.open_dedicated(key).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::info!(error = %e, "watcher cannot connect; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            let selected = conn.select(folder).await;
            let mut last = match selected.and(folder_status(&mut conn, folder).await) {
                Ok(s) => s,
                Err(e) => {
                    tracing::info!(error = %e, "watcher lost its folder; retrying");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            backoff = Duration::from_millis(500);
            // A reconnection may have missed changes: tell listeners the current state.
            send(MailEvent {
                folder: folder.clone(),
                messages: last.0,
                unseen: last.1,
                arrived: vec![],
            });
            loop {
                if !self.still_wanted(&k, &tx) {
                    conn.logout().await;
                    return;
                }
                // The folder stays selected between slices: the server then reports at the next IDLE
                // whatever changed in between, which a new SELECT would silently absorb.
                let changed = conn.idle(IDLE_SLICE).await;
                let changed = match changed {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::info!(error = %e, "watcher connection lost; reconnecting");
                        break;
                    }
                };
                if !changed {
                    continue;
                }
                let now = match folder_status(&mut conn, folder).await {
                    Ok(s) => s,
                    Err(_) => break,
                };
                let arrived = if now.2 > last.2 {
                    new_arrivals(&mut conn, folder, last.2, 5)
                        .await
                        .unwrap_or_default()
                } else {
                    vec![]
                };
                last = now;
                send(MailEvent {
                    folder: folder.clone(),
                    messages: now.0,
                    unseen: now.1,
                    arrived,
                });
            }
        }
    }
}
