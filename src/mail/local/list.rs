//! Listing a local store the way the pages list an IMAP account: folders with their counts, special
//! folders, pages of a folder (sorted, searched), conversations, search across folders, lookups by
//! Message-ID, new arrivals.
//!
//! The common page (newest first, no search) parses only the headers of the messages it shows; sorting
//! and searching need every message's headers, which the index keeps after the first read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::LocalMessage;
use super::folders::special_name;
use super::mailbox::{Headers, LocalMailbox, io};
use crate::mail::imap::sort_text;
use crate::mail::parse;
use crate::mail::thread::{self, ThreadInput};
use crate::mail::{
    FolderName, ListPage, ListQuery, MailError, MessageSummary, Overview, Search, SortKey,
    SpecialUse, ThreadPage, Uid, clamp_page,
};

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

impl LocalMailbox {
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
    use crate::mail::local::mailbox::tests::mailbox;

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
}
