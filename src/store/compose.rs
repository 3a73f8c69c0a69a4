//! Messages being written: each has a *compose id* (random, unguessable) and a directory under
//! `<data_dir>/compose/` holding its uploaded attachments, written to disk as they arrive so that a
//! large file never sits whole in memory, and, for a form posted after the session expired, the
//! fields the user typed until they log in again.
//!
//! A directory records its owner (the login address); only the owner can use it. A form stashed
//! without a session has no owner until it is restored by the browser that holds its cookie.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::StoreError;

/// One uploaded attachment.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredAttachment {
    pub index: u32,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
}

/// The text fields of a compose form, as stashed when the session had expired.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct StashedFields {
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    pub in_reply_to: String,
    pub references: String,
    pub message_id: String,
    /// The compose directory the form came with (its earlier attachments).
    pub compose_id: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct Manifest {
    owner: String,
    next_index: u32,
    attachments: Vec<StoredAttachment>,
    stash: Option<StashedFields>,
}

/// The compose directories.
#[derive(Clone, Debug)]
pub struct ComposeStore {
    root: PathBuf,
    /// Serialises read-modify-write of manifests (two uploads at once must not share an index).
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Message-IDs being sent or already sent, so that a second click or a late autosave does not
    /// send again or leave a draft behind.
    sent: std::sync::Arc<std::sync::Mutex<SentLedger>>,
}

/// A bounded memory of Message-IDs that were (being) sent.
#[derive(Debug, Default)]
struct SentLedger {
    order: std::collections::VecDeque<String>,
    set: std::collections::HashSet<String>,
}

const SENT_MEMORY: usize = 10_000;

/// A file being received; `finish` records it, dropping it without `finish` leaves nothing behind
/// once `abort` is called.
pub struct Upload {
    pub path: PathBuf,
    pub index: u32,
    file: tokio::fs::File,
    pub size: u64,
}

impl Upload {
    /// Appends a chunk.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.file.write_all(chunk).await?;
        self.size += chunk.len() as u64;
        Ok(())
    }
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ComposeStore {
    pub fn new(data_dir: &Path) -> Self {
        ComposeStore {
            root: data_dir.join("compose"),
            lock: Default::default(),
            sent: Default::default(),
        }
    }

    /// Claims the right to send `message_id`: false if it is being sent or was sent already.
    pub fn begin_send(&self, message_id: &str) -> bool {
        let mut l = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if !l.set.insert(message_id.to_owned()) {
            return false;
        }
        l.order.push_back(message_id.to_owned());
        if l.order.len() > SENT_MEMORY
            && let Some(old) = l.order.pop_front()
        {
            l.set.remove(&old);
        }
        true
    }

    /// Gives the claim back after a send that failed, so that the user can try again.
    pub fn send_failed(&self, message_id: &str) {
        let mut l = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        l.set.remove(message_id);
        l.order.retain(|m| m != message_id);
    }

    /// True if `message_id` is being sent or was sent (a draft save for it must be skipped).
    pub fn is_sent(&self, message_id: &str) -> bool {
        let l = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        l.set.contains(message_id)
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    async fn manifest(&self, id: &str) -> Result<Manifest, StoreError> {
        if !valid_id(id) {
            return Err(StoreError::NotFound);
        }
        match tokio::fs::read_to_string(self.dir(id).join("manifest.toml")).await {
            Ok(t) => toml::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    async fn write_manifest(&self, id: &str, m: &Manifest) -> Result<(), StoreError> {
        let text = toml::to_string(m).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let path = self.dir(id).join("manifest.toml");
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, text).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }

    /// A new, empty compose directory for `owner` ("" for a stash awaiting login).
    pub async fn create(&self, owner: &str) -> Result<String, StoreError> {
        let mut b = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
        let id = hex::encode(b);
        tokio::fs::create_dir_all(self.dir(&id)).await?;
        self.write_manifest(
            &id,
            &Manifest {
                owner: owner.to_lowercase(),
                ..Default::default()
            },
        )
        .await?;
        Ok(id)
    }

    /// True if `id` exists and belongs to `owner`.
    pub async fn owns(&self, id: &str, owner: &str) -> bool {
        self.manifest(id)
            .await
            .is_ok_and(|m| !m.owner.is_empty() && m.owner == owner.to_lowercase())
    }

    /// Starts receiving a file.
    pub async fn begin_upload(&self, id: &str) -> Result<Upload, StoreError> {
        let _guard = self.lock.lock().await;
        let mut m = self.manifest(id).await?;
        let index = m.next_index;
        m.next_index += 1;
        self.write_manifest(id, &m).await?;
        let path = self.dir(id).join(format!("{index}.bin"));
        let file = tokio::fs::File::create(&path).await?;
        Ok(Upload {
            path,
            index,
            file,
            size: 0,
        })
    }

    /// Records a received file.
    pub async fn finish_upload(
        &self,
        id: &str,
        mut upload: Upload,
        filename: &str,
        content_type: &str,
    ) -> Result<StoredAttachment, StoreError> {
        upload.file.flush().await?;
        upload.file.sync_all().await?;
        let _guard = self.lock.lock().await;
        let mut m = self.manifest(id).await?;
        let a = StoredAttachment {
            index: upload.index,
            filename: filename.to_owned(),
            content_type: content_type.to_owned(),
            size: upload.size,
        };
        m.attachments.push(a.clone());
        self.write_manifest(id, &m).await?;
        Ok(a)
    }

    /// Discards a partly received file.
    pub async fn abort_upload(&self, upload: Upload) {
        drop(upload.file);
        let _ = tokio::fs::remove_file(&upload.path).await;
    }

    /// Adds a whole file at once (attachments copied from an existing message).
    pub async fn add_bytes(
        &self,
        id: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<StoredAttachment, StoreError> {
        let mut up = self.begin_upload(id).await?;
        up.write(bytes).await?;
        self.finish_upload(id, up, filename, content_type).await
    }

    /// The attachments, in the order they were added.
    pub async fn list(&self, id: &str) -> Result<Vec<StoredAttachment>, StoreError> {
        Ok(self.manifest(id).await?.attachments)
    }

    /// Total size of the attachments.
    pub async fn total_size(&self, id: &str) -> Result<u64, StoreError> {
        Ok(self.list(id).await?.iter().map(|a| a.size).sum())
    }

    /// Removes one attachment.
    pub async fn remove(&self, id: &str, index: u32) -> Result<(), StoreError> {
        let _guard = self.lock.lock().await;
        let mut m = self.manifest(id).await?;
        m.attachments.retain(|a| a.index != index);
        self.write_manifest(id, &m).await?;
        let _ = tokio::fs::remove_file(self.dir(id).join(format!("{index}.bin"))).await;
        Ok(())
    }

    /// Reads one attachment's bytes.
    pub async fn read(&self, id: &str, index: u32) -> Result<Vec<u8>, StoreError> {
        self.manifest(id).await?;
        Ok(tokio::fs::read(self.dir(id).join(format!("{index}.bin"))).await?)
    }

    /// Keeps the typed fields of a form that arrived without a session.
    pub async fn stash(&self, id: &str, fields: StashedFields) -> Result<(), StoreError> {
        let _guard = self.lock.lock().await;
        let mut m = self.manifest(id).await?;
        m.stash = Some(fields);
        self.write_manifest(id, &m).await
    }

    /// Gives a stashed form to the user who just logged in (and only to them afterwards).
    pub async fn claim_stash(&self, id: &str, owner: &str) -> Result<StashedFields, StoreError> {
        let _guard = self.lock.lock().await;
        let mut m = self.manifest(id).await?;
        if !m.owner.is_empty() && m.owner != owner.to_lowercase() {
            return Err(StoreError::NotFound);
        }
        // Kept, so that reloading the restored page shows it again; the directory goes when the
        // message is sent or abandoned.
        let fields = m.stash.clone().ok_or(StoreError::NotFound)?;
        m.owner = owner.to_lowercase();
        self.write_manifest(id, &m).await?;
        Ok(fields)
    }

    /// Deletes compose directories untouched for longer than `age` (messages abandoned mid-way; their
    /// text is in Drafts if it was ever saved). Returns how many were removed.
    pub async fn purge_older_than(&self, age: std::time::Duration) -> usize {
        let Ok(mut entries) = tokio::fs::read_dir(&self.root).await else {
            return 0;
        };
        let mut removed = 0;
        while let Ok(Some(e)) = entries.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            let old = e
                .metadata()
                .await
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|el| el > age);
            if valid_id(&name) && old {
                self.delete(&name).await;
                removed += 1;
            }
        }
        removed
    }

    /// Deletes a compose directory (after sending, or when abandoned).
    pub async fn delete(&self, id: &str) {
        if valid_id(id) {
            let _ = tokio::fs::remove_dir_all(self.dir(id)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn uploads_are_kept_per_owner_and_removable() {
        let dir = std::env::temp_dir().join(format!("courrier-compose-{}", rand::random::<u64>()));
        let store = ComposeStore::new(&dir);
        let id = store.create("Alice@example.org").await.unwrap();
        assert!(store.owns(&id, "alice@example.org").await);
        assert!(!store.owns(&id, "bob@example.org").await);
        assert!(!store.owns("../../etc", "alice@example.org").await);
        let mut up = store.begin_upload(&id).await.unwrap();
        up.write(b"hello ").await.unwrap();
        up.write(b"world").await.unwrap();
        let a = store
            .finish_upload(&id, up, "a.txt", "text/plain")
            .await
            .unwrap();
        assert_eq!(a.size, 11);
        store
            .add_bytes(&id, "b.bin", "application/octet-stream", &[1, 2, 3])
            .await
            .unwrap();
        assert_eq!(store.total_size(&id).await.unwrap(), 14);
        assert_eq!(store.read(&id, a.index).await.unwrap(), b"hello world");
        store.remove(&id, a.index).await.unwrap();
        assert_eq!(store.list(&id).await.unwrap().len(), 1);
        store.delete(&id).await;
        assert!(store.list(&id).await.is_err());
        let kept = store.create("a@example.org").await.unwrap();
        assert_eq!(
            store
                .purge_older_than(std::time::Duration::from_secs(3600))
                .await,
            0
        );
        assert!(
            store.owns(&kept, "a@example.org").await,
            "recent work is kept"
        );
        assert_eq!(store.purge_older_than(std::time::Duration::ZERO).await, 1);
        assert!(!store.owns(&kept, "a@example.org").await);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_stash_belongs_to_whoever_logs_in_with_it_first() {
        let dir = std::env::temp_dir().join(format!("courrier-stash-{}", rand::random::<u64>()));
        let store = ComposeStore::new(&dir);
        let id = store.create("").await.unwrap();
        let fields = StashedFields {
            body: "texte précieux".into(),
            ..Default::default()
        };
        store.stash(&id, fields.clone()).await.unwrap();
        assert!(!store.owns(&id, "").await, "an ownerless stash is nobody's");
        assert_eq!(
            store.claim_stash(&id, "a@example.org").await.unwrap(),
            fields
        );
        assert_eq!(
            store.claim_stash(&id, "a@example.org").await.unwrap(),
            fields,
            "a reload shows it again"
        );
        assert!(
            store.claim_stash(&id, "b@example.org").await.is_err(),
            "nobody else gets it"
        );
        assert!(store.owns(&id, "a@example.org").await);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod ledger_tests {
    use super::*;

    #[test]
    fn a_message_is_sent_once() {
        let store = ComposeStore::new(Path::new("/nonexistent"));
        assert!(store.begin_send("<a@x>"));
        assert!(!store.begin_send("<a@x>"), "double click");
        assert!(store.is_sent("<a@x>"));
        store.send_failed("<a@x>");
        assert!(!store.is_sent("<a@x>"));
        assert!(store.begin_send("<a@x>"), "retry after a failure");
    }
}
