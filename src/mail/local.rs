//! Courrier's own mail store for POP3 accounts: one Maildir++ per account (the inbox at the root,
//! other folders as `.Name` with modified UTF-7 names, as Dovecot and other tools lay them out), so
//! that an administrator can read or migrate it with ordinary tools.
//!
//! Delivery is durable: the message is written to `tmp/`, synced, renamed into `new/`, and the
//! directory synced, before the caller is told it is stored; only then may the server copy go.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;

use super::FolderName;
use super::imap::codec;

/// The Maildir of one account.
#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    /// The directory of a folder: the root for the inbox, `.Name` otherwise (`/` becomes `.`).
    pub fn folder_dir(&self, folder: &FolderName) -> PathBuf {
        if folder.is_inbox() {
            self.root.clone()
        } else {
            let encoded = codec::encode_mutf7(folder.as_str()).replace('/', ".");
            self.root.join(format!(".{encoded}"))
        }
    }

    /// Creates the folder's `tmp`, `new` and `cur` if needed.
    pub async fn ensure_folder(&self, folder: &FolderName) -> std::io::Result<PathBuf> {
        let dir = self.folder_dir(folder);
        for sub in ["tmp", "new", "cur"] {
            tokio::fs::create_dir_all(dir.join(sub)).await?;
        }
        Ok(dir)
    }

    /// Stores a message durably and returns its file name. `tag` (for instance a hash of the POP3
    /// unique id) goes into the name, so that what was stored can be found again after a crash.
    pub async fn deliver(
        &self,
        folder: &FolderName,
        tag: &str,
        message: &[u8],
    ) -> std::io::Result<String> {
        let dir = self.ensure_folder(folder).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let tag: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(160)
            .collect();
        let name = format!(
            "{}.M{}P{}Q{}.{tag}.courrier",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = dir.join("tmp").join(&name);
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(message).await?;
        f.sync_all().await?;
        drop(f);
        tokio::fs::rename(&tmp, dir.join("new").join(&name)).await?;
        sync_dir(&dir.join("new")).await?;
        Ok(name)
    }

    /// Tags of the messages stored in a folder (from their file names).
    pub async fn stored_tags(&self, folder: &FolderName) -> std::io::Result<Vec<String>> {
        let dir = self.folder_dir(folder);
        let mut tags = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(mut rd) = tokio::fs::read_dir(dir.join(sub)).await else {
                continue;
            };
            while let Some(e) = rd.next_entry().await? {
                let name = e.file_name().to_string_lossy().into_owned();
                let base = name.split(':').next().unwrap_or("");
                if let Some(tag) = base
                    .strip_suffix(".courrier")
                    .and_then(|b| b.rsplit('.').next())
                {
                    tags.push(tag.to_owned());
                }
            }
        }
        Ok(tags)
    }

    /// Number of messages of a folder.
    pub async fn count(&self, folder: &FolderName) -> std::io::Result<usize> {
        let dir = self.folder_dir(folder);
        let mut n = 0;
        for sub in ["new", "cur"] {
            let Ok(mut rd) = tokio::fs::read_dir(dir.join(sub)).await else {
                continue;
            };
            while rd.next_entry().await?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Makes a rename in `dir` durable (the directory entry itself is synced).
async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivered_messages_are_in_new_with_their_tag() {
        let root = std::env::temp_dir().join(format!("courrier-maildir-{}", rand::random::<u64>()));
        let store = LocalStore::new(&root);
        let name = store
            .deliver(
                &FolderName::inbox(),
                "abc123",
                b"Subject: x\r\n\r\nbody\r\n",
            )
            .await
            .unwrap();
        let bytes = std::fs::read(root.join("new").join(&name)).unwrap();
        assert_eq!(bytes, b"Subject: x\r\n\r\nbody\r\n");
        assert!(
            std::fs::read_dir(root.join("tmp"))
                .unwrap()
                .next()
                .is_none(),
            "tmp/ left empty"
        );
        assert_eq!(
            store.stored_tags(&FolderName::inbox()).await.unwrap(),
            vec!["abc123"]
        );
        let ete = FolderName::new("Archives/Été").unwrap();
        store.deliver(&ete, "t", b"x").await.unwrap();
        assert!(
            root.join(".Archives.&AMk-t&AOk-").join("new").is_dir(),
            "Maildir++ layout"
        );
        let _ = std::fs::remove_dir_all(root);
    }
}
