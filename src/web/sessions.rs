//! The session store: records in an embedded database file under the data directory (redb, pure
//! Rust, its calls made off the async threads), so that sessions survive a restart; the password a
//! session needs is in its record only sealed (see `store::secret`). Expired records are not loaded
//! and are purged every minute. The file is held by one process: several instances share Redis
//! instead.

use std::path::Path;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");

/// The sessions of this instance, in `sessions.redb`.
#[derive(Clone, Debug)]
pub struct Sessions {
    db: Arc<Database>,
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

impl Sessions {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, redb::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(redb::Error::Io)?;
        }
        let db = Database::create(path)?;
        let w = db.begin_write()?;
        w.open_table(TABLE)?;
        w.commit()?;
        Ok(Sessions { db: Arc::new(db) })
    }

    /// Runs `f` on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, redb::Error> + Send + 'static,
    ) -> session_store::Result<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(backend)?
            .map_err(backend)
    }

    /// Whether the store answers (a read of its table).
    pub async fn ping(&self) -> session_store::Result<()> {
        self.blocking(|db| {
            db.begin_read()?.open_table(TABLE)?;
            Ok(())
        })
        .await
    }

    /// Forgets expired sessions; returns how many.
    pub fn purge(&self) -> usize {
        purge(&self.db).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "purging sessions failed");
            0
        })
    }

    /// Sessions held (expired ones included until the next purge).
    pub fn len(&self) -> usize {
        let count =
            || -> Result<u64, redb::Error> { Ok(self.db.begin_read()?.open_table(TABLE)?.len()?) };
        count().unwrap_or(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Purges every minute, for as long as the store is in use.
    pub fn spawn_purger(&self) {
        let db: Weak<Database> = Arc::downgrade(&self.db);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(db) = db.upgrade() else { break };
                match tokio::task::spawn_blocking(move || purge(&db)).await {
                    Ok(Ok(n)) if n > 0 => tracing::debug!(purged = n, "expired sessions forgotten"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "purging sessions failed"),
                    _ => {}
                }
            }
        });
    }
}

fn expired(bytes: &[u8], now: OffsetDateTime) -> bool {
    serde_json::from_slice::<Record>(bytes).map_or(true, |r| r.expiry_date <= now)
}

fn purge(db: &Database) -> Result<usize, redb::Error> {
    let now = OffsetDateTime::now_utc();
    let w = db.begin_write()?;
    let mut n = 0;
    {
        let mut table = w.open_table(TABLE)?;
        let before = table.len()?;
        table.retain(|_, v| !expired(v, now))?;
        n += (before - table.len()?) as usize;
    }
    w.commit()?;
    Ok(n)
}

fn put(db: &Database, record: &Record, only_new: bool) -> Result<bool, redb::Error> {
    let bytes =
        serde_json::to_vec(record).map_err(|e| redb::Error::Io(std::io::Error::other(e)))?;
    let key = record.id.to_string();
    let w = db.begin_write()?;
    {
        let mut table = w.open_table(TABLE)?;
        if only_new && table.get(key.as_str())?.is_some() {
            return Ok(false);
        }
        table.insert(key.as_str(), bytes.as_slice())?;
    }
    w.commit()?;
    Ok(true)
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let r = record.clone();
            if self.blocking(move |db| put(db, &r, true)).await? {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let r = record.clone();
        self.blocking(move |db| put(db, &r, false).map(|_| ()))
            .await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = id.to_string();
        let bytes = self
            .blocking(move |db| {
                let table = db.begin_read()?.open_table(TABLE)?;
                Ok(table.get(key.as_str())?.map(|v| v.value().to_vec()))
            })
            .await?;
        let now = OffsetDateTime::now_utc();
        Ok(bytes
            .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
            .filter(|r| r.expiry_date > now))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let key = id.to_string();
        self.blocking(move |db| {
            let w = db.begin_write()?;
            w.open_table(TABLE)?.remove(key.as_str())?;
            w.commit()?;
            Ok(())
        })
        .await
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
        let dir = std::env::temp_dir().join(format!("courrier-sessions-{}", rand::random::<u64>()));
        let store = Sessions::open(&dir.join("sessions.redb")).unwrap();
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
        drop(store);
        let again = Sessions::open(&dir.join("sessions.redb")).unwrap();
        let mut kept = record(Duration::minutes(30));
        again.create(&mut kept).await.unwrap();
        drop(again);
        let reopened = Sessions::open(&dir.join("sessions.redb")).unwrap();
        assert_eq!(
            reopened.load(&kept.id).await.unwrap(),
            Some(kept),
            "a session survives a restart"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
