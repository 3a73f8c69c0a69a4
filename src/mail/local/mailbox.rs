//! The local store as the pages use it: [`LocalMailbox`], a Maildir store with what makes its pages
//! cheap. A header index keeps what a list line and threading need of each message after the first
//! read (keyed by the file's base name, which flag changes and moves keep), and each folder's
//! listing is kept while its directories are unchanged. The operations over it are in `list.rs`,
//! `fetch.rs` and `change.rs`.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::{LocalMessage, LocalStore, base_name};
use crate::mail::parse;
use crate::mail::{Flags, FolderName, MailError, Uid};

/// Largest header block read for the list and the index.
const MAX_HEADER_BYTES: usize = 256 * 1024;

/// What the index keeps of a message.
#[derive(Clone, Debug, Default)]
pub(super) struct Headers {
    pub(super) from: crate::mail::address::Addr,
    pub(super) subject: String,
    /// Date header, else the file's modification time.
    pub(super) date: i64,
    pub(super) size: u32,
    pub(super) has_attachment: bool,
    pub(super) message_id: Option<String>,
    pub(super) references: Vec<String>,
}

/// A local store with its header index: what the pages of a POP3 account use.
#[derive(Clone, Debug)]
pub struct LocalMailbox {
    pub store: LocalStore,
    pub(super) index: Arc<Mutex<HashMap<String, Arc<Headers>>>>,
    listings: Arc<Mutex<HashMap<FolderName, Listing>>>,
}

/// When `new/` and `cur/` were last modified: every delivery, flag change (a rename), move or
/// removal changes one of them.
type Stamp = (Option<SystemTime>, Option<SystemTime>);

/// A folder's messages as last read, with the stamp its directories had just before.
#[derive(Debug)]
struct Listing {
    stamp: Stamp,
    messages: Arc<Vec<LocalMessage>>,
    /// Brought up to date by Courrier's own last change (a flag), from a listing that was itself
    /// trusted: valid while the stamp is unchanged, however recent.
    exact: bool,
}

/// A directory modified less than this long ago is read again rather than trusted: file systems
/// keep modification times with a coarse clock, so two changes close together can share one.
const SETTLE: Duration = Duration::from_secs(2);

pub(super) fn io(e: std::io::Error) -> MailError {
    MailError::Refused(format!("local store: {e}"))
}

/// Reads the header block of a message file (up to the first empty line) and its size.
fn read_headers(path: &PathBuf) -> std::io::Result<(Vec<u8>, u64, i64)> {
    let mut f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        let n = f.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = header_end(&buf[from..]) {
            buf.truncate(from + end);
            break;
        }
        if buf.len() >= MAX_HEADER_BYTES {
            buf.truncate(MAX_HEADER_BYTES);
            break;
        }
    }
    Ok((buf, meta.len(), mtime))
}

fn header_end(b: &[u8]) -> Option<usize> {
    let crlf = b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = b.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn headers_of_file(path: &PathBuf) -> Headers {
    let Ok((raw, size, mtime)) = read_headers(path) else {
        return Headers::default();
    };
    let h = parse::parse_list_headers(&raw);
    let (message_id, references, _) = parse::thread_headers(&raw);
    Headers {
        from: h.from,
        subject: h.subject,
        date: h.date.unwrap_or(mtime),
        size: size.min(u32::MAX as u64) as u32,
        has_attachment: h.has_attachment,
        message_id,
        references,
    }
}

fn key_of(m: &LocalMessage) -> String {
    m.path
        .file_name()
        .map(|n| base_name(&n.to_string_lossy()).to_owned())
        .unwrap_or_default()
}

/// True for a modification time old enough to be trusted (see [`SETTLE`]).
fn settled(t: Option<SystemTime>) -> bool {
    t.is_some_and(|t| t.elapsed().is_ok_and(|age| age >= SETTLE))
}

impl LocalMailbox {
    pub fn new(store: LocalStore) -> Self {
        LocalMailbox {
            store,
            index: Default::default(),
            listings: Default::default(),
        }
    }

    /// Headers of these messages, from the index or read now (in one blocking batch).
    pub(super) async fn headers(&self, msgs: &[LocalMessage]) -> Vec<Arc<Headers>> {
        let keys: Vec<String> = msgs.iter().map(key_of).collect();
        let missing: Vec<(String, PathBuf)> = {
            let index = self.index.lock().unwrap_or_else(|e| e.into_inner());
            keys.iter()
                .zip(msgs)
                .filter(|(k, _)| !index.contains_key(*k))
                .map(|(k, m)| (k.clone(), m.path.clone()))
                .collect()
        };
        if !missing.is_empty() {
            let read = tokio::task::spawn_blocking(move || {
                missing
                    .into_iter()
                    .map(|(k, p)| (k, Arc::new(headers_of_file(&p))))
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
            index.extend(read);
        }
        let index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .map(|k| index.get(k).cloned().unwrap_or_default())
            .collect()
    }

    async fn stamp(&self, folder: &FolderName) -> Stamp {
        let dir = self.store.folder_dir(folder);
        let modified = |sub: &'static str| {
            let path = dir.join(sub);
            async move {
                tokio::fs::metadata(path)
                    .await
                    .ok()
                    .and_then(|m| m.modified().ok())
            }
        };
        (modified("new").await, modified("cur").await)
    }

    /// The messages of a folder in UID order: the last listing while its directories are unchanged
    /// (two `stat`s), otherwise read again. So a page costs the same whatever the folder's size.
    pub(super) async fn messages(
        &self,
        folder: &FolderName,
    ) -> Result<Arc<Vec<LocalMessage>>, MailError> {
        if !self.store.has_folder(folder) {
            return Err(MailError::FolderNotFound);
        }
        let stamp = self.stamp(folder).await;
        {
            let listings = self.listings.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(l) = listings.get(folder)
                && l.stamp == stamp
                && (l.exact || (settled(stamp.0) && settled(stamp.1)))
            {
                return Ok(l.messages.clone());
            }
        }
        let messages = Arc::new(self.store.messages(folder).await.map_err(io)?);
        self.listings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                folder.clone(),
                Listing {
                    stamp,
                    messages: messages.clone(),
                    exact: false,
                },
            );
        Ok(messages)
    }

    pub(super) async fn message(
        &self,
        folder: &FolderName,
        uid: Uid,
    ) -> Result<LocalMessage, MailError> {
        let msgs = self.messages(folder).await?;
        msgs.binary_search_by_key(&uid, |m| m.uid)
            .map(|i| msgs[i].clone())
            .map_err(|_| MailError::MessageNotFound)
    }

    /// Changes a message's flags (a rename) and keeps the folder's listing in step, so that opening
    /// a message does not cost the next page a new reading of the folder.
    pub(super) async fn set_flags(
        &self,
        folder: &FolderName,
        m: &LocalMessage,
        flags: Flags,
    ) -> Result<(), MailError> {
        let before = self.stamp(folder).await;
        let path = self.store.set_flags(m, flags).await.map_err(io)?;
        let after = self.stamp(folder).await;
        let mut listings = self.listings.lock().unwrap_or_else(|e| e.into_inner());
        let trusted = listings.get(folder).is_some_and(|l| {
            l.stamp == before && (l.exact || (settled(before.0) && settled(before.1)))
        });
        if !trusted {
            listings.remove(folder);
            return Ok(());
        }
        if let Some(l) = listings.get_mut(folder) {
            let mut v = (*l.messages).clone();
            if let Ok(i) = v.binary_search_by_key(&m.uid, |x| x.uid) {
                v[i].path = path;
                v[i].flags = flags;
            }
            l.messages = Arc::new(v);
            l.stamp = after;
            l.exact = true;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    // `msg` and `mailbox` also serve the tests of `list.rs` and `change.rs`.

    pub(in crate::mail::local) fn msg(i: usize, subject: &str, body: &str) -> Vec<u8> {
        format!(
            "From: Sender {i} <s{i}@example.org>\r\nSubject: {subject}\r\nDate: Mon, {} Nov 2026 10:00:00 +0000\r\nMessage-ID: <m{i}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
            1 + i % 28
        )
        .into_bytes()
    }

    pub(in crate::mail::local) async fn mailbox(n: usize) -> (LocalMailbox, PathBuf) {
        let root = std::env::temp_dir().join(format!("courrier-query-{}", rand::random::<u64>()));
        let mb = LocalMailbox::new(LocalStore::new(&root));
        for i in 0..n {
            let subject = format!("Sujet {:03}", (i * 7) % n);
            let body = if i == 5 {
                "le mot Éléphant est ici"
            } else {
                "rien"
            };
            mb.store
                .deliver(
                    &FolderName::inbox(),
                    &format!("{:x}", i + 1),
                    &msg(i, &subject, body),
                )
                .await
                .unwrap();
        }
        (mb, root)
    }

    #[tokio::test]
    async fn listings_are_reused_until_the_folder_changes() {
        let (mb, root) = mailbox(3).await;
        let inbox = FolderName::inbox();
        let age = |dir: &str, t: SystemTime| {
            std::fs::File::open(root.join(dir))
                .unwrap()
                .set_modified(t)
                .unwrap()
        };
        let old = SystemTime::now() - Duration::from_secs(3600);
        age("new", old);
        age("cur", old);
        assert_eq!(mb.messages(&inbox).await.unwrap().len(), 3);
        // A file slipped in without changing the stamp: the cached listing is what is served.
        std::fs::write(
            root.join("new").join("1.M1P1Q1.x.courrier"),
            b"Subject: x\r\n\r\n",
        )
        .unwrap();
        age("new", old);
        assert_eq!(
            mb.messages(&inbox).await.unwrap().len(),
            3,
            "served from the cache"
        );
        // Opening a message renames it: the listing follows without a new reading.
        let opened = mb.fetch_message(&inbox, Uid(2), true).await.unwrap();
        assert!(opened.flags.seen);
        let after = mb.messages(&inbox).await.unwrap();
        assert_eq!(after.len(), 3, "still the kept listing");
        assert!(
            after[1].flags.seen && after[1].path.exists(),
            "{:?}",
            after[1]
        );
        assert!(mb.fetch_raw(&inbox, Uid(2)).await.is_ok());
        // Any other change moves the stamp, and the folder is read again.
        mb.store
            .deliver(&inbox, "z", b"Subject: y\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(mb.messages(&inbox).await.unwrap().len(), 5);
        let _ = std::fs::remove_dir_all(root);
    }
}
