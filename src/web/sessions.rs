//! The session store, one of two behind `session.store`:
//! - `embedded` (the default): records in a database file under the data directory (redb, pure
//!   Rust, its calls made off the async threads), so that sessions survive a restart. Expired
//!   records are not loaded and are purged every minute. The file is held by one process.
//! - `redis`: for several instances, which then serve any session. Keys under a prefix, expiring
//!   with the session; a `ConnectionManager` that reconnects by itself, with short timeouts, so
//!   that a store that is down fails requests fast (the web layer shows a "try again" page) and
//!   service resumes when it is back.
//!
//! Either way the password a session needs is in its record only sealed (see `store::secret`).

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");

/// The session store.
#[derive(Clone, Debug)]
pub enum Sessions {
    Embedded(Embedded),
    Redis(RedisSessions),
}

impl Sessions {
    /// Whether the store answers.
    pub async fn ping(&self) -> session_store::Result<()> {
        match self {
            Sessions::Embedded(s) => s.ping().await,
            Sessions::Redis(s) => s.ping().await,
        }
    }

    /// Forgets expired sessions (Redis expires them itself); returns how many.
    pub fn purge(&self) -> usize {
        match self {
            Sessions::Embedded(s) => s.purge(),
            Sessions::Redis(_) => 0,
        }
    }

    /// Sessions held in the embedded store (expired ones included until the next purge).
    pub fn len(&self) -> usize {
        match self {
            Sessions::Embedded(s) => s.len(),
            Sessions::Redis(_) => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts the embedded store's purger.
    pub fn spawn_purger(&self) {
        if let Sessions::Embedded(s) = self {
            s.spawn_purger();
        }
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Sessions::Embedded(s) => s.create(record).await,
            Sessions::Redis(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Sessions::Embedded(s) => s.save(record).await,
            Sessions::Redis(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Sessions::Embedded(s) => s.load(id).await,
            Sessions::Redis(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Sessions::Embedded(s) => s.delete(id).await,
            Sessions::Redis(s) => s.delete(id).await,
        }
    }
}

/// The sessions of this instance, in `sessions.redb`.
#[derive(Clone, Debug)]
pub struct Embedded {
    db: Arc<Database>,
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

impl Embedded {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, redb::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(redb::Error::Io)?;
        }
        let db = Database::create(path)?;
        let w = db.begin_write()?;
        w.open_table(TABLE)?;
        w.commit()?;
        Ok(Embedded { db: Arc::new(db) })
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
impl SessionStore for Embedded {
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

/// Sessions in Redis, shared by every instance.
#[derive(Clone)]
pub struct RedisSessions {
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisSessions")
    }
}

/// Keys of Courrier's sessions, so that a Redis shared with other programs stays readable.
const PREFIX: &str = "courrier:session:";

impl RedisSessions {
    /// A store at `url` (`redis://host:port/db`). Connects on first use, and again by itself
    /// after a loss; a command waits at most a second.
    pub fn new(url: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        Ok(RedisSessions {
            conn: ConnectionManager::new_lazy_with_config(client, config)?,
        })
    }

    fn key(id: &Id) -> String {
        format!("{PREFIX}{id}")
    }

    async fn ping(&self) -> session_store::Result<()> {
        let mut c = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .map(|_| ())
            .map_err(backend)
    }

    /// SET with the record's expiry; `only_new`: NX. True when it was stored.
    async fn put(&self, record: &Record, only_new: bool) -> session_store::Result<bool> {
        let bytes = serde_json::to_vec(record).map_err(backend)?;
        let at = record.expiry_date.unix_timestamp().max(1);
        let mut cmd = redis::cmd("SET");
        cmd.arg(Self::key(&record.id)).arg(bytes);
        if only_new {
            cmd.arg("NX");
        }
        cmd.arg("EXAT").arg(at);
        let mut c = self.conn.clone();
        let done: Option<String> = cmd.query_async(&mut c).await.map_err(backend)?;
        Ok(done.is_some())
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while !self.put(record, true).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.put(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let mut c = self.conn.clone();
        let bytes: Option<Vec<u8>> = redis::cmd("GET")
            .arg(Self::key(id))
            .query_async(&mut c)
            .await
            .map_err(backend)?;
        let now = OffsetDateTime::now_utc();
        Ok(bytes
            .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
            .filter(|r| r.expiry_date > now))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let mut c = self.conn.clone();
        redis::cmd("DEL")
            .arg(Self::key(id))
            .query_async::<i64>(&mut c)
            .await
            .map(|_| ())
            .map_err(backend)
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
        let store = Embedded::open(&dir.join("sessions.redb")).unwrap();
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
        let again = Embedded::open(&dir.join("sessions.redb")).unwrap();
        let mut kept = record(Duration::minutes(30));
        again.create(&mut kept).await.unwrap();
        drop(again);
        let reopened = Embedded::open(&dir.join("sessions.redb")).unwrap();
        assert_eq!(
            reopened.load(&kept.id).await.unwrap(),
            Some(kept),
            "a session survives a restart"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
