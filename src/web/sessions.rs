//! The session store: records in memory with their expiry, purged every minute. (tower-sessions'
//! `MemoryStore` never forgets an expired session: its memory would only grow.) A restart of
//! Courrier ends every session, which is also when the passwords kept in memory are gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// The sessions of this process.
#[derive(Clone, Debug, Default)]
pub struct Sessions {
    records: Arc<Mutex<HashMap<Id, Record>>>,
}

impl Sessions {
    /// Forgets expired sessions; returns how many.
    pub fn purge(&self) -> usize {
        let now = OffsetDateTime::now_utc();
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let before = records.len();
        records.retain(|_, r| r.expiry_date > now);
        before - records.len()
    }

    /// Sessions held (expired ones included until the next purge).
    pub fn len(&self) -> usize {
        self.records.lock().map(|r| r.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Purges every minute, for the life of the process.
    pub fn spawn_purger(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let n = me.purge();
                if n > 0 {
                    tracing::debug!(purged = n, "expired sessions forgotten");
                }
            }
        });
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        while records.contains_key(&record.id) {
            record.id = Id::default();
        }
        records.insert(record.id, record.clone());
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(record.id, record.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc();
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .filter(|r| r.expiry_date > now)
            .cloned())
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::cookie::time::Duration;

    fn record(expires_in: Duration) -> Record {
        Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: OffsetDateTime::now_utc() + expires_in,
        }
    }

    #[tokio::test]
    async fn expired_sessions_are_not_loaded_and_are_purged() {
        let store = Sessions::default();
        let mut live = record(Duration::minutes(30));
        let mut dead = record(Duration::seconds(-1));
        store.create(&mut live).await.unwrap();
        store.create(&mut dead).await.unwrap();
        assert_eq!(store.load(&live.id).await.unwrap(), Some(live.clone()));
        assert_eq!(store.load(&dead.id).await.unwrap(), None, "expired");
        assert_eq!(store.len(), 2);
        assert_eq!(store.purge(), 1);
        assert_eq!(store.len(), 1);
        store.delete(&live.id).await.unwrap();
        assert!(store.is_empty());
    }
}
