//! Reading and changing a local store the way the pages read and change an IMAP account: pages of a
//! folder (sorted, searched), conversations, a message, one part, flags, moves, deletes, appends.
//!
//! The common page (newest first, no search) parses only the headers of the messages it shows; sorting
//! and searching need every message's headers, which an in-memory index keeps after the first read
//! (keyed by the file's base name, which flag changes and moves keep).

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::folders::{special_name, special_of};
use super::{LocalMessage, LocalStore, base_name};
use crate::mail::imap::sort_text;
use crate::mail::parse::{self, PartContent};
use crate::mail::thread::{self, ThreadInput};
use crate::mail::{FetchedMessage, MAX_DISPLAY_BYTES, Overview, ThreadPage};
use crate::mail::{
    FlagChange, Flags, FolderName, ListPage, ListQuery, MailError, MessageSummary, Search, Section,
    Selection, SortKey, SpecialUse, Uid, clamp_page,
};

/// Largest header block read for the list and the index.
const MAX_HEADER_BYTES: usize = 256 * 1024;

/// What the index keeps of a message.
#[derive(Clone, Debug, Default)]
struct Headers {
    from: crate::mail::address::Addr,
    subject: String,
    /// Date header, else the file's modification time.
    date: i64,
    size: u32,
    has_attachment: bool,
    message_id: Option<String>,
    references: Vec<String>,
}

/// The download tags of messages (see `LocalStore::deliver`).
fn tags(msgs: &[LocalMessage]) -> Vec<String> {
    msgs.iter().filter_map(|m| super::tag_of(&m.path)).collect()
}

/// A local store with its header index: what the pages of a POP3 account use.
#[derive(Clone, Debug)]
pub struct LocalMailbox {
    pub store: LocalStore,
    index: Arc<Mutex<HashMap<String, Arc<Headers>>>>,
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

fn io(e: std::io::Error) -> MailError {
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

fn summary(m: &LocalMessage, h: &Headers) -> MessageSummary {
    MessageSummary {
        uid: m.uid,
        from: h.from.clone(),
        subject: h.subject.clone(),
        date: Some(h.date),
        size: h.size,
        flags: m.flags,
        has_attachment: h.has_attachment,
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
    async fn headers(&self, msgs: &[LocalMessage]) -> Vec<Arc<Headers>> {
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
    async fn messages(&self, folder: &FolderName) -> Result<Arc<Vec<LocalMessage>>, MailError> {
        if !self.store.has_folder(folder) {
            return Err(MailError::FolderNotFound);
        }
        let stamp = self.stamp(folder).await;
        let settled =
            |t: Option<SystemTime>| t.is_some_and(|t| t.elapsed().is_ok_and(|age| age >= SETTLE));
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

    async fn message(&self, folder: &FolderName, uid: Uid) -> Result<LocalMessage, MailError> {
        let msgs = self.messages(folder).await?;
        msgs.binary_search_by_key(&uid, |m| m.uid)
            .map(|i| msgs[i].clone())
            .map_err(|_| MailError::MessageNotFound)
    }

    /// Changes a message's flags (a rename) and keeps the folder's listing in step, so that opening
    /// a message does not cost the next page a new reading of the folder.
    async fn set_flags(
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

    /// Folders and (no) quota: a local store has no provider quota.
    pub async fn overview(&self) -> Result<Overview, MailError> {
        let mut folders = self.store.folder_list().await.map_err(io)?;
        for f in &mut folders {
            let msgs = self.messages(&f.name).await?;
            f.messages = Some(msgs.len() as u32);
            f.unseen = Some(msgs.iter().filter(|m| !m.flags.seen).count() as u32);
        }
        Ok(Overview {
            folders,
            quota: None,
        })
    }

    /// The messages of a folder matching `search`, in the order `query` asks.
    async fn matching(
        &self,
        folder: &FolderName,
        query: &ListQuery,
    ) -> Result<Vec<(LocalMessage, Arc<Headers>)>, MailError> {
        let msgs = self.messages(folder).await?;
        let s = &query.search;
        let msgs: Vec<LocalMessage> = msgs
            .iter()
            .filter(|m| (!s.unread || !m.flags.seen) && (!s.flagged || m.flags.flagged))
            .cloned()
            .collect();
        let headers = self.headers(&msgs).await;
        let day = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp());
        let since = s.since.and_then(day);
        let before = s.before.and_then(day);
        let mut rows: Vec<(LocalMessage, Arc<Headers>)> = msgs
            .into_iter()
            .zip(headers)
            .filter(|(_, h)| {
                (!s.attachments || h.has_attachment)
                    && since.is_none_or(|t| h.date >= t)
                    && before.is_none_or(|t| h.date < t)
            })
            .collect();
        let words = words_of(s);
        if !words.is_empty() {
            let paths: Vec<PathBuf> = rows.iter().map(|(m, _)| m.path.clone()).collect();
            let keep = tokio::task::spawn_blocking(move || {
                paths
                    .iter()
                    .map(|p| {
                        std::fs::read(p).is_ok_and(|raw| parse::text_contains_all(&raw, &words))
                    })
                    .collect::<Vec<bool>>()
            })
            .await
            .unwrap_or_default();
            let mut keep = keep.into_iter();
            rows.retain(|_| keep.next().unwrap_or(false));
        }
        if query.sort != SortKey::Arrival {
            let keyed: Vec<(String, i64, u32)> = rows
                .iter()
                .map(|(m, h)| {
                    let s = summary(m, h);
                    (sort_text(&s, query.sort), h.date, h.size)
                })
                .collect();
            let mut order: Vec<usize> = (0..rows.len()).collect();
            order.sort_by(|&a, &b| {
                let (ka, kb) = (&keyed[a], &keyed[b]);
                let o = match query.sort {
                    SortKey::Date => ka.1.cmp(&kb.1),
                    SortKey::Size => ka.2.cmp(&kb.2),
                    _ => ka.0.cmp(&kb.0),
                };
                o.then(rows[a].0.uid.cmp(&rows[b].0.uid))
            });
            let mut taken: Vec<Option<(LocalMessage, Arc<Headers>)>> =
                rows.into_iter().map(Some).collect();
            rows = order.into_iter().filter_map(|i| taken[i].take()).collect();
        }
        if !query.ascending {
            rows.reverse();
        }
        Ok(rows)
    }

    /// One page of a folder, as `query` asks.
    pub async fn list_query(
        &self,
        folder: &FolderName,
        query: &ListQuery,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage, MailError> {
        if query.sort == SortKey::Arrival && !query.ascending && query.search.is_empty() {
            // The common page: only the shown messages' headers are read.
            let msgs = self.messages(folder).await?;
            let total = msgs.len() as u32;
            let (page, page_size) = clamp_page(total, page, page_size);
            let shown: Vec<LocalMessage> = msgs
                .iter()
                .rev()
                .skip((page * page_size) as usize)
                .take(page_size as usize)
                .cloned()
                .collect();
            let headers = self.headers(&shown).await;
            return Ok(ListPage {
                folder: folder.clone(),
                total,
                page,
                page_size,
                messages: shown
                    .iter()
                    .zip(headers)
                    .map(|(m, h)| summary(m, &h))
                    .collect(),
            });
        }
        let rows = self.matching(folder, query).await?;
        let total = rows.len() as u32;
        let (page, page_size) = clamp_page(total, page, page_size);
        Ok(ListPage {
            folder: folder.clone(),
            total,
            page,
            page_size,
            messages: rows
                .iter()
                .skip((page * page_size) as usize)
                .take(page_size as usize)
                .map(|(m, h)| summary(m, h))
                .collect(),
        })
    }

    /// Conversations among the newest `window` messages of a folder.
    pub async fn thread_page(
        &self,
        folder: &FolderName,
        page: u32,
        page_size: u32,
        window: u32,
    ) -> Result<ThreadPage, MailError> {
        let msgs = self.messages(folder).await?;
        let folder_total = msgs.len() as u32;
        let newest: Vec<LocalMessage> = msgs
            .iter()
            .rev()
            .take(window.max(1) as usize)
            .cloned()
            .collect();
        let headers = self.headers(&newest).await;
        let inputs: Vec<ThreadInput> = newest
            .iter()
            .rev()
            .zip(headers.iter().rev())
            .map(|(m, h)| ThreadInput {
                uid: m.uid,
                message_id: h.message_id.clone(),
                references: h.references.clone(),
                date: h.date,
            })
            .collect();
        let mut by_uid: HashMap<Uid, MessageSummary> = newest
            .iter()
            .zip(&headers)
            .map(|(m, h)| (m.uid, summary(m, h)))
            .collect();
        let (page, page_size, total_threads, shown) =
            thread::paginate(thread::build(&inputs), page, page_size);
        let threads = thread::fill(shown, &mut by_uid);
        Ok(ThreadPage {
            threads,
            total_threads,
            page,
            page_size,
            window,
            folder_total,
        })
    }

    /// A message for display; opening it marks it read, as in any client.
    pub async fn fetch_message(
        &self,
        folder: &FolderName,
        uid: Uid,
        mark_seen: bool,
    ) -> Result<FetchedMessage, MailError> {
        let m = self.message(folder, uid).await?;
        let path = m.path.clone();
        let (raw, size) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let f = std::fs::File::open(&path)?;
            let size = f.metadata()?.len();
            let mut raw = Vec::new();
            f.take(MAX_DISPLAY_BYTES as u64).read_to_end(&mut raw)?;
            Ok((raw, size))
        })
        .await
        .map_err(|e| MailError::Refused(e.to_string()))?
        .map_err(io)?;
        let mut flags = m.flags;
        if mark_seen && !flags.seen {
            flags.seen = true;
            self.set_flags(folder, &m, flags).await?;
        }
        Ok(FetchedMessage {
            uid,
            flags,
            size: size.min(u32::MAX as u64) as u32,
            raw,
        })
    }

    /// One decoded part of a message.
    pub async fn fetch_part(
        &self,
        folder: &FolderName,
        uid: Uid,
        section: &Section,
    ) -> Result<PartContent, MailError> {
        let raw = self.fetch_raw(folder, uid).await?;
        let section = section.clone();
        tokio::task::spawn_blocking(move || parse::part_of(&raw, &section))
            .await
            .map_err(|e| MailError::Refused(e.to_string()))?
            .ok_or(MailError::PartNotFound)
    }

    /// The whole original message.
    pub async fn fetch_raw(&self, folder: &FolderName, uid: Uid) -> Result<Vec<u8>, MailError> {
        let m = self.message(folder, uid).await?;
        tokio::fs::read(&m.path).await.map_err(io)
    }

    /// Searches every folder; at most `cap` hits, newest first.
    pub async fn search_all(
        &self,
        search: &Search,
        cap: usize,
    ) -> Result<Vec<(FolderName, MessageSummary)>, MailError> {
        let folders = self.store.folder_list().await.map_err(io)?;
        let query = ListQuery {
            sort: SortKey::Arrival,
            ascending: false,
            search: search.clone(),
        };
        let mut hits = Vec::new();
        for f in folders {
            for (m, h) in self.matching(&f.name, &query).await?.into_iter().take(cap) {
                hits.push((f.name.clone(), summary(&m, &h)));
            }
        }
        hits.sort_by_key(|(_, s)| std::cmp::Reverse(s.date.unwrap_or(0)));
        hits.truncate(cap);
        Ok(hits)
    }

    /// The folder for a special use, created if needed.
    pub async fn special_folder(&self, role: SpecialUse) -> Result<FolderName, MailError> {
        let name = special_name(role);
        self.store.ensure_folder(&name).await.map_err(io)?;
        Ok(name)
    }

    async fn selected(
        &self,
        folder: &FolderName,
        selection: &Selection,
    ) -> Result<Vec<LocalMessage>, MailError> {
        let msgs = self.messages(folder).await?;
        Ok(match selection {
            Selection::All => msgs.to_vec(),
            Selection::Uids(u) => msgs
                .iter()
                .filter(|m| u.contains(&m.uid))
                .cloned()
                .collect(),
        })
    }

    /// Sets or clears a flag on the selected messages (`$Forwarded` has no place in a Maildir file
    /// name and is not kept).
    pub async fn set_flag(
        &self,
        folder: &FolderName,
        selection: &Selection,
        change: FlagChange,
    ) -> Result<(), MailError> {
        for m in self.selected(folder, selection).await? {
            let mut n = m.flags;
            match change {
                FlagChange::Seen(on) => n.seen = on,
                FlagChange::Flagged(on) => n.flagged = on,
                FlagChange::Answered => n.answered = true,
                FlagChange::Forwarded => {}
            }
            if n != m.flags {
                self.set_flags(folder, &m, n).await?;
            }
        }
        Ok(())
    }

    /// Moves the selected messages into `target`; returns their download tags (see
    /// `LocalStore::deliver`).
    pub async fn move_to(
        &self,
        folder: &FolderName,
        selection: &Selection,
        target: &FolderName,
    ) -> Result<Vec<String>, MailError> {
        if !self.store.has_folder(target) {
            return Err(MailError::FolderNotFound);
        }
        let msgs = self.selected(folder, selection).await?;
        for m in &msgs {
            self.store.move_to(m, target).await.map_err(io)?;
        }
        Ok(tags(&msgs))
    }

    /// Removes the selected messages for good; returns their download tags.
    pub async fn remove(
        &self,
        folder: &FolderName,
        selection: &Selection,
    ) -> Result<Vec<String>, MailError> {
        let msgs = self.selected(folder, selection).await?;
        for m in &msgs {
            self.store.remove(m).await.map_err(io)?;
        }
        Ok(tags(&msgs))
    }

    /// Stores a message written here (a draft, a sent message) with its flags.
    pub async fn append(
        &self,
        folder: &FolderName,
        flags: Flags,
        message: &[u8],
    ) -> Result<(), MailError> {
        let name = self
            .store
            .deliver(folder, "local", message)
            .await
            .map_err(io)?;
        let path = self.store.folder_dir(folder).join("new").join(name);
        let m = LocalMessage {
            uid: Uid(0),
            path,
            flags: Flags::default(),
        };
        self.store.set_flags(&m, flags).await.map_err(io)?;
        Ok(())
    }

    /// UIDs of the messages of `folder` with this Message-ID.
    pub async fn find_by_message_id(
        &self,
        folder: &FolderName,
        message_id: &str,
    ) -> Result<Vec<Uid>, MailError> {
        let msgs = self.messages(folder).await?;
        let headers = self.headers(&msgs).await;
        let id = message_id.trim_matches(['<', '>']);
        Ok(msgs
            .iter()
            .zip(headers)
            .filter(|(_, h)| h.message_id.as_deref() == Some(id))
            .map(|(m, _)| m.uid)
            .collect())
    }

    /// Messages and unread messages of a folder, and the UID the next message will get.
    pub async fn folder_status(&self, folder: &FolderName) -> Result<(u32, u32, u32), MailError> {
        let msgs = self.messages(folder).await?;
        let unseen = msgs.iter().filter(|m| !m.flags.seen).count() as u32;
        let next = msgs.last().map_or(1, |m| m.uid.0 + 1);
        Ok((msgs.len() as u32, unseen, next))
    }

    /// The newest messages from UID `from` on (at most `max`), newest first.
    pub async fn new_arrivals(
        &self,
        folder: &FolderName,
        from: u32,
        max: usize,
    ) -> Result<Vec<MessageSummary>, MailError> {
        let msgs: Vec<LocalMessage> = self
            .messages(folder)
            .await?
            .iter()
            .rev()
            .filter(|m| m.uid.0 >= from)
            .take(max)
            .cloned()
            .collect();
        let headers = self.headers(&msgs).await;
        Ok(msgs
            .iter()
            .zip(headers)
            .map(|(m, h)| summary(m, &h))
            .collect())
    }

    /// The special use of a folder of this store.
    pub fn role_of(folder: &FolderName) -> Option<SpecialUse> {
        special_of(folder)
    }
}

fn words_of(s: &Search) -> Vec<String> {
    s.text
        .split_whitespace()
        .take(10)
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: usize, subject: &str, body: &str) -> Vec<u8> {
        format!(
            "From: Sender {i} <s{i}@example.org>\r\nSubject: {subject}\r\nDate: Mon, {} Nov 2026 10:00:00 +0000\r\nMessage-ID: <m{i}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
            1 + i % 28
        )
        .into_bytes()
    }

    async fn mailbox(n: usize) -> (LocalMailbox, PathBuf) {
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
    async fn pages_sorting_and_search_on_a_local_folder() {
        let (mb, root) = mailbox(120).await;
        let inbox = FolderName::inbox();
        let q = ListQuery::default();
        let p = mb.list_query(&inbox, &q, 0, 50).await.unwrap();
        assert_eq!((p.total, p.messages.len()), (120, 50));
        assert_eq!(p.messages[0].uid, Uid(120), "newest first");
        assert_eq!(
            mb.index.lock().unwrap().len(),
            50,
            "the common page reads only the headers it shows"
        );
        let last = mb.list_query(&inbox, &q, 99, 50).await.unwrap();
        assert_eq!(
            (last.page, last.messages.len()),
            (2, 20),
            "clamped to the last page"
        );

        let by_subject = ListQuery {
            sort: SortKey::Subject,
            ascending: true,
            ..ListQuery::default()
        };
        let s = mb.list_query(&inbox, &by_subject, 0, 3).await.unwrap();
        let subjects: Vec<_> = s.messages.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(subjects, vec!["Sujet 000", "Sujet 001", "Sujet 002"]);

        let search = ListQuery {
            search: Search {
                text: "éléphant".into(),
                ..Search::default()
            },
            ..ListQuery::default()
        };
        let found = mb.list_query(&inbox, &search, 0, 50).await.unwrap();
        assert_eq!(found.total, 1, "case-insensitive, accents included");
        assert_eq!(found.messages[0].uid, Uid(6));
        let _ = std::fs::remove_dir_all(root);
    }

    /// Remembers what the user deleted, as a POP3 account does.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl crate::mail::local::backend::Deletions for Recorded {
        async fn deleted_here(&self, tags: &[String]) -> Result<(), MailError> {
            self.0.lock().unwrap().extend_from_slice(tags);
            Ok(())
        }
    }

    #[tokio::test]
    async fn deletes_report_download_tags_and_drafts_are_found_by_message_id() {
        use crate::mail::backend::{self, Backend, Removal, SpecialFolders};
        use crate::mail::local::backend::LocalBackend;
        use crate::mail::{Action, Applied};
        let (mb, root) = mailbox(3).await;
        let deleted = Recorded::default();
        let specials = SpecialFolders::default();
        let mut b = LocalBackend {
            mailbox: &mb,
            deletions: &deleted,
        };
        let inbox = FolderName::inbox();
        let sel = Selection::Uids(vec![Uid(2)]);
        let applied = backend::apply(
            &mut b,
            &specials,
            &inbox,
            &sel,
            &Action::Delete { confirmed: false },
        )
        .await
        .unwrap();
        let trash = FolderName::new("Trash").unwrap();
        assert_eq!(applied, Applied::Moved(trash.clone()));
        assert_eq!(
            *deleted.0.lock().unwrap(),
            vec!["2"],
            "the download tag of the deleted message"
        );
        let again = backend::apply(
            &mut b,
            &specials,
            &trash,
            &Selection::All,
            &Action::Delete { confirmed: false },
        )
        .await
        .unwrap();
        assert_eq!(
            again,
            Applied::NeedsConfirmation,
            "deleting from Trash asks first"
        );
        b.remove(&trash, &Selection::All, Removal::ForGood)
            .await
            .unwrap();
        assert_eq!(*deleted.0.lock().unwrap(), vec!["2", "2"]);
        assert_eq!(mb.folder_status(&trash).await.unwrap().0, 0);

        let read = backend::apply(
            &mut b,
            &specials,
            &inbox,
            &Selection::All,
            &Action::MarkRead,
        )
        .await
        .unwrap();
        assert_eq!(read, Applied::Done);
        assert_eq!(mb.folder_status(&inbox).await.unwrap().1, 0, "all read");

        let drafts = mb.special_folder(SpecialUse::Drafts).await.unwrap();
        let draft_flags = Flags {
            seen: true,
            draft: true,
            ..Flags::default()
        };
        for text in ["v1", "v2"] {
            backend::save_draft(
                &mut b,
                &specials,
                &msg(9, "Brouillon", text),
                "<m9@example.org>",
            )
            .await
            .unwrap();
        }
        let versions = mb
            .find_by_message_id(&drafts, "<m9@example.org>")
            .await
            .unwrap();
        assert_eq!(versions.len(), 1, "a new version replaces the old one");
        let left = mb.fetch_raw(&drafts, versions[0]).await.unwrap();
        assert!(
            String::from_utf8_lossy(&left).contains("v2"),
            "the newer version stays"
        );
        let fetched = mb.fetch_message(&drafts, versions[0], false).await.unwrap();
        assert_eq!(fetched.flags, draft_flags);
        assert_eq!(
            deleted.0.lock().unwrap().len(),
            2,
            "replacing a draft deletes nothing on the server"
        );
        let _ = std::fs::remove_dir_all(root);
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

    #[tokio::test]
    async fn a_part_is_cut_from_the_stored_message() {
        let root = std::env::temp_dir().join(format!("courrier-query-{}", rand::random::<u64>()));
        let mb = LocalMailbox::new(LocalStore::new(&root));
        let raw = b"Subject: pj\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\ntexte\r\n--b\r\nContent-Type: application/pdf; name=\"r\xc3\xa9sum\xc3\xa9.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
        mb.store
            .deliver(&FolderName::inbox(), "1", raw)
            .await
            .unwrap();
        let part = mb
            .fetch_part(&FolderName::inbox(), Uid(1), &Section::parse("2").unwrap())
            .await
            .unwrap();
        assert_eq!(part.content_type, "application/pdf");
        assert_eq!(part.filename.as_deref(), Some("résumé.pdf"));
        assert_eq!(part.bytes, b"%PDF-1.4\n");
        assert!(matches!(
            mb.fetch_part(&FolderName::inbox(), Uid(1), &Section::parse("3").unwrap())
                .await,
            Err(MailError::PartNotFound)
        ));
        let _ = std::fs::remove_dir_all(root);
    }
}
