//! Courrier's own mail store for POP3 accounts: one Maildir++ per account (the inbox at the root,
//! other folders as `.Name` with modified UTF-7 names, as Dovecot and other tools lay them out), so
//! that an administrator can read or migrate it with ordinary tools.
//!
//! Delivery is durable: the message is written to `tmp/`, synced, renamed into `new/`, and the
//! directory synced, before the caller is told it is stored; only then may the server copy go.
//!
//! This file is the Maildir itself (delivery, listing, flags in file names, moves). `folders.rs`
//! manages its folders; `mailbox.rs` is [`LocalMailbox`], the store with its header index and cached
//! listings, which the pages use; `list.rs` (folders, pages, conversations, searches), `fetch.rs`
//! (one message) and `change.rs` (flags, moves, removal, appends) are its operations, and use
//! `mailbox`, never each other; `backend.rs` puts it behind the `Backend` trait.

pub mod backend;
mod change;
mod fetch;
pub mod folders;
mod list;
mod mailbox;

pub use mailbox::LocalMailbox;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;

use super::imap::codec;
use super::{Flags, FolderName, Uid};

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
        if ["tmp", "new", "cur"]
            .iter()
            .all(|sub| dir.join(sub).is_dir())
        {
            return Ok(dir);
        }
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
        // Fixed-width numbers: names sort in delivery order as text too (other tools rely on that).
        let name = format!(
            "{}.M{:06}P{}Q{:010}.{tag}.courrier",
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

/// A message file of a local folder, with the UID the folder's uidlist gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMessage {
    pub uid: Uid,
    /// Path of the file (in `new/` or `cur/`).
    pub path: PathBuf,
    pub flags: Flags,
}

/// The part of a Maildir file name before the `:2,` flags.
fn base_name(file: &str) -> &str {
    file.split(":2,").next().unwrap_or(file)
}

/// Sort key of a Maildir base name: `secs.M<micros>P<pid>Q<seq>...` as numbers when it has that
/// shape (other tools' names start with the time too), then the name itself.
fn arrival_key(base: &str) -> (u64, u64, u64, String) {
    let (secs, rest) = base.split_once('.').unwrap_or((base, ""));
    let number_after = |marker: char| -> u64 {
        rest.split('.')
            .next()
            .and_then(|part| part.split_once(marker))
            .map(|(_, tail)| {
                tail.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|d| d.parse().ok())
            .unwrap_or(0)
    };
    (
        secs.parse().unwrap_or(u64::MAX),
        number_after('M'),
        number_after('Q'),
        base.to_owned(),
    )
}

/// Flags from a Maildir info suffix (`:2,FRS`): F flagged, R replied, S seen, D draft.
fn flags_of(file: &str) -> Flags {
    let info = file.split_once(":2,").map(|(_, i)| i).unwrap_or("");
    Flags {
        seen: info.contains('S'),
        flagged: info.contains('F'),
        answered: info.contains('R'),
        draft: info.contains('D'),
    }
}

fn info_of(flags: Flags) -> String {
    // Letters in ASCII order, as the Maildir specification asks.
    let mut s = String::from(":2,");
    for (on, c) in [
        (flags.draft, 'D'),
        (flags.flagged, 'F'),
        (flags.answered, 'R'),
        (flags.seen, 'S'),
    ] {
        if on {
            s.push(c);
        }
    }
    s
}

impl LocalStore {
    /// The messages of a folder in arrival order, each with a stable UID. UIDs live in the folder's
    /// `courrier-uidlist` (`next` on the first line, then `uid base-name` lines), as Dovecot keeps its
    /// own: a file seen for the first time gets the next UID, and a UID is never reused.
    pub async fn messages(&self, folder: &FolderName) -> std::io::Result<Vec<LocalMessage>> {
        let dir = self.ensure_folder(folder).await?;
        // One blocking task for the whole directory: tokio's read_dir costs a thread hop per few
        // entries, which dominates for thousands of messages.
        tokio::task::spawn_blocking(move || list_folder(&dir))
            .await
            .map_err(std::io::Error::other)?
    }

    /// One message by UID.
    pub async fn message(
        &self,
        folder: &FolderName,
        uid: Uid,
    ) -> std::io::Result<Option<LocalMessage>> {
        Ok(self
            .messages(folder)
            .await?
            .into_iter()
            .find(|m| m.uid == uid))
    }

    /// Replaces a message's flags (a rename into `cur/` with the new info suffix).
    pub async fn set_flags(&self, msg: &LocalMessage, flags: Flags) -> std::io::Result<PathBuf> {
        let name = msg
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = msg
            .path
            .parent()
            .and_then(|p| p.parent())
            .ok_or_else(|| std::io::Error::other("message outside a Maildir"))?;
        let target = dir
            .join("cur")
            .join(format!("{}{}", base_name(&name), info_of(flags)));
        tokio::fs::rename(&msg.path, &target).await?;
        Ok(target)
    }

    /// Moves a message to another folder, keeping its flags.
    pub async fn move_to(&self, msg: &LocalMessage, target: &FolderName) -> std::io::Result<()> {
        let dir = self.ensure_folder(target).await?;
        let name = msg
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        tokio::fs::rename(
            &msg.path,
            dir.join("cur")
                .join(format!("{}{}", base_name(&name), info_of(msg.flags))),
        )
        .await?;
        sync_dir(&dir.join("cur")).await
    }

    /// Deletes a message for good.
    pub async fn remove(&self, msg: &LocalMessage) -> std::io::Result<()> {
        tokio::fs::remove_file(&msg.path).await
    }
}

/// The tag a downloaded message was delivered with (see [`LocalStore::deliver`]), from its path.
pub fn tag_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let base = base_name(&name);
    let tag = base.strip_suffix(".courrier")?.rsplit('.').next()?;
    (!tag.is_empty() && tag != "local").then(|| tag.to_owned())
}

/// Lists a folder directory and keeps its uidlist up to date (see [`LocalStore::messages`]).
fn list_folder(dir: &Path) -> std::io::Result<Vec<LocalMessage>> {
    let list_path = dir.join("courrier-uidlist");
    let text = std::fs::read_to_string(&list_path).unwrap_or_default();
    let mut lines = text.lines();
    let mut next: u32 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(1);
    let mut known: std::collections::HashMap<String, u32> = lines
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(u, b)| u.parse().ok().map(|u| (b.to_owned(), u)))
        .collect();
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(dir.join(sub))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            files.push((name, e.path()));
        }
    }
    // Arrival order: the time, microseconds and sequence number in the names Courrier writes
    // (compared as numbers: names written before they had a fixed width do not sort as text).
    files.sort_by_cached_key(|(name, _)| arrival_key(base_name(name)));
    let mut changed = false;
    let mut out = Vec::with_capacity(files.len());
    let mut present = std::collections::HashSet::new();
    for (name, path) in files {
        let base = base_name(&name).to_owned();
        let uid = match known.get(&base) {
            Some(u) => *u,
            None => {
                let u = next;
                next += 1;
                known.insert(base.clone(), u);
                changed = true;
                u
            }
        };
        present.insert(base);
        out.push(LocalMessage {
            uid: Uid(uid),
            flags: flags_of(&name),
            path,
        });
    }
    let before = known.len();
    known.retain(|b, _| present.contains(b));
    if changed || known.len() != before {
        let mut body = format!("{next}\n");
        let mut entries: Vec<_> = known.iter().collect();
        entries.sort_by_key(|(_, u)| **u);
        for (b, u) in entries {
            body.push_str(&format!("{u} {b}\n"));
        }
        let tmp = list_path.with_extension("tmp");
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, &list_path)?;
    }
    out.sort_by_key(|m| m.uid);
    Ok(out)
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

    #[test]
    fn arrival_order_compares_numbers_not_text() {
        let mut names = vec![
            "1700000000.M109231P7Q3.t.courrier",
            "1700000000.M1154P7Q1.t.courrier",
            "1700000000.M001154P7Q0000000002.t.courrier",
            "1699999999.M999999P7Q9.t.courrier",
            "1700000001.12345_1.host",
        ];
        names.sort_by_cached_key(|n| arrival_key(n));
        assert_eq!(
            names,
            vec![
                "1699999999.M999999P7Q9.t.courrier",
                "1700000000.M1154P7Q1.t.courrier",
                "1700000000.M001154P7Q0000000002.t.courrier",
                "1700000000.M109231P7Q3.t.courrier",
                "1700000001.12345_1.host",
            ]
        );
    }

    #[tokio::test]
    async fn uids_are_stable_flags_live_in_names_and_moves_keep_them() {
        let root = std::env::temp_dir().join(format!("courrier-maildir-{}", rand::random::<u64>()));
        let store = LocalStore::new(&root);
        let inbox = FolderName::inbox();
        for i in 0..3 {
            store
                .deliver(
                    &inbox,
                    &format!("t{i}"),
                    format!("Subject: {i}\r\n\r\nx").as_bytes(),
                )
                .await
                .unwrap();
        }
        let list = store.messages(&inbox).await.unwrap();
        assert_eq!(
            list.iter().map(|m| m.uid.0).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        let second = list[1].clone();
        let read = Flags {
            seen: true,
            flagged: true,
            ..Flags::default()
        };
        let path = store.set_flags(&second, read).await.unwrap();
        assert!(path.to_string_lossy().ends_with(":2,FS"), "{path:?}");
        let again = store.messages(&inbox).await.unwrap();
        assert_eq!(again[1].uid, Uid(2), "a rename keeps the UID");
        assert_eq!(again[1].flags, read);
        store.remove(&again[0]).await.unwrap();
        store.deliver(&inbox, "t3", b"x").await.unwrap();
        let after = store.messages(&inbox).await.unwrap();
        assert_eq!(
            after.iter().map(|m| m.uid.0).collect::<Vec<_>>(),
            vec![2, 3, 4],
            "UIDs never reused"
        );
        let archive = FolderName::new("Archive").unwrap();
        store.move_to(&after[0], &archive).await.unwrap();
        let moved = store.messages(&archive).await.unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].flags, read, "flags travel with the message");
        assert_eq!(store.messages(&inbox).await.unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(root);
    }
}
