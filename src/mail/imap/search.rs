//! Which messages a page shows: a folder's page, newest first or as sorted and searched by the server
//! (SORT, SEARCH, or a sort of our own when the server lacks SORT), a search across every folder, and
//! the messages with a given Message-ID.

use imap_proto::{MailboxDatum, Response};

use super::codec;
use super::conn::Conn;
use super::folders::list_folders;
use super::summary::{SUMMARY_ITEMS, summaries, summary_from_fetch};
use crate::mail::{
    FolderName, ListPage, ListQuery, MailError, MessageSummary, Search, SortKey, Uid,
};

/// One page of a folder as `query` asks. Newest first by arrival without a search is the common case
/// and costs one FETCH of the page (see [`list_page`]). Otherwise the server sorts and searches (SORT,
/// RFC 5256) and returns the ordered UIDs; only the page's messages are then fetched. Without SORT,
/// SEARCH gives the UIDs and the order is computed from a small FETCH of sort keys.
pub async fn list_query(
    conn: &mut Conn,
    folder: &FolderName,
    query: &ListQuery,
    page: u32,
    page_size: u32,
) -> Result<ListPage, MailError> {
    if query.sort == SortKey::Arrival && !query.ascending && query.search.is_empty() {
        return list_page(conn, folder, page, page_size).await;
    }
    conn.select(folder).await?;
    let literal_plus = conn.has_capability("LITERAL+");
    let criteria = search_criteria(&query.search, literal_plus);
    // Arrival order is UID order (UIDs only grow), which SEARCH gives exactly; SORT's ARRIVAL
    // compares internal dates and breaks ties by ascending sequence even under REVERSE (RFC 5256
    // section 3), which puts messages that arrived in the same second in the wrong order.
    let uids = if conn.has_capability("SORT") && query.sort != SortKey::Arrival {
        let key = match query.sort {
            SortKey::Arrival | SortKey::Date => "DATE",
            SortKey::From => "FROM",
            SortKey::Subject => "SUBJECT",
            SortKey::Size => "SIZE",
        };
        let program = if query.ascending {
            key.to_owned()
        } else {
            format!("REVERSE {key}")
        };
        let mut uids = Vec::new();
        conn.command_each(&format!("UID SORT ({program}) UTF-8 {criteria}"), |r| {
            if let Response::MailboxData(MailboxDatum::Sort(v)) = r {
                uids.extend(v.iter().map(|u| Uid(*u)));
            }
        })
        .await?;
        uids
    } else {
        sorted_without_sort(conn, &criteria, query).await?
    };
    let total = uids.len() as u32;
    let (page, page_size) = crate::mail::clamp_page(total, page, page_size);
    let start = (page * page_size) as usize;
    let slice: Vec<Uid> = uids
        .iter()
        .skip(start)
        .take(page_size as usize)
        .copied()
        .collect();
    let mut by_uid = summaries(conn, &slice).await?;
    // In the order the server sorted them; a message expunged meanwhile is just missing.
    let messages = slice.iter().filter_map(|u| by_uid.remove(u)).collect();
    Ok(ListPage {
        folder: folder.clone(),
        total,
        page,
        page_size,
        messages,
    })
}

/// SEARCH criteria for a [`Search`]; `ALL` when nothing narrows. User text only ever appears as an
/// IMAP string (quoted or literal), never spliced.
pub fn search_criteria(search: &Search, literal_plus: bool) -> String {
    let mut c: Vec<String> = Vec::new();
    for word in search.text.split_whitespace().take(10) {
        c.push(format!("TEXT {}", codec::search_string(word, literal_plus)));
    }
    if search.unread {
        c.push("UNSEEN".into());
    }
    if search.flagged {
        c.push("FLAGGED".into());
    }
    if search.attachments {
        c.push(
            "OR HEADER Content-Type \"multipart/mixed\" HEADER Content-Type \"application/\""
                .into(),
        );
    }
    if let Some(d) = search.since {
        c.push(format!("SINCE {}", d.format("%-d-%b-%Y")));
    }
    if let Some(d) = search.before {
        c.push(format!("BEFORE {}", d.format("%-d-%b-%Y")));
    }
    if c.is_empty() {
        "ALL".into()
    } else {
        c.join(" ")
    }
}

/// Orders search results on a server without SORT: by UID for arrival order, otherwise by keys fetched
/// for the matching messages (only the keys; full lines are fetched for the shown page only).
async fn sorted_without_sort(
    conn: &mut Conn,
    criteria: &str,
    query: &ListQuery,
) -> Result<Vec<Uid>, MailError> {
    let mut uids: Vec<Uid> = Vec::new();
    conn.command_each(&format!("UID SEARCH CHARSET UTF-8 {criteria}"), |r| {
        if let Response::MailboxData(MailboxDatum::Search(v)) = r {
            uids.extend(v.iter().map(|u| Uid(*u)));
        }
    })
    .await?;
    uids.sort();
    if query.sort != SortKey::Arrival && !uids.is_empty() {
        let keys: std::collections::HashMap<Uid, (String, i64, u32)> = summaries(conn, &uids)
            .await?
            .into_iter()
            .map(|(u, s)| (u, (sort_text(&s, query.sort), s.date.unwrap_or(0), s.size)))
            .collect();
        uids.sort_by(|a, b| {
            let (ka, kb) = (keys.get(a), keys.get(b));
            let o = match query.sort {
                SortKey::Date => ka.map(|k| k.1).cmp(&kb.map(|k| k.1)),
                SortKey::Size => ka.map(|k| k.2).cmp(&kb.map(|k| k.2)),
                _ => ka.map(|k| &k.0).cmp(&kb.map(|k| &k.0)),
            };
            o.then(a.cmp(b))
        });
    }
    if !query.ascending {
        uids.reverse();
    }
    Ok(uids)
}

pub(crate) fn sort_text(s: &MessageSummary, key: SortKey) -> String {
    match key {
        SortKey::From => s.from.display().to_lowercase(),
        SortKey::Subject => {
            // RFC 5256 base subject, roughly: without Re:/Fwd: prefixes.
            let mut t = s.subject.trim().to_lowercase();
            while let Some(rest) = ["re:", "fwd:", "fw:", "re :", "tr :"]
                .iter()
                .find_map(|p| t.strip_prefix(p))
            {
                t = rest.trim_start().to_owned();
            }
            t
        }
        _ => String::new(),
    }
}

/// One page of a folder, newest first by arrival. Sequence numbers are in arrival order, so the page is
/// a sequence range computed from the message count: the cost is one FETCH of `page_size` messages,
/// whatever the size of the folder.
pub async fn list_page(
    conn: &mut Conn,
    folder: &FolderName,
    page: u32,
    page_size: u32,
) -> Result<ListPage, MailError> {
    let sel = conn.select(folder).await?;
    let total = sel.exists;
    let (page, page_size) = crate::mail::clamp_page(total, page, page_size);
    let mut messages = Vec::new();
    if total > 0 {
        let hi = total - page * page_size;
        let lo = hi.saturating_sub(page_size - 1).max(1);
        let cmd = format!("FETCH {lo}:{hi} ({SUMMARY_ITEMS})");
        let mut rows: Vec<(u32, MessageSummary)> = Vec::new();
        conn.command_each(&cmd, |r| {
            if let Response::Fetch(seq, attrs) = r
                && let Some(summary) = summary_from_fetch(attrs)
            {
                rows.push((*seq, summary));
            }
        })
        .await?;
        rows.sort_by_key(|r| std::cmp::Reverse(r.0));
        rows.dedup_by_key(|r| r.0);
        messages = rows.into_iter().map(|(_, s)| s).collect();
    }
    Ok(ListPage {
        folder: folder.clone(),
        total,
        page,
        page_size,
        messages,
    })
}

/// Searches every selectable folder; returns at most `cap` hits, newest first, with their folder.
pub async fn search_all(
    conn: &mut Conn,
    search: &Search,
    cap: usize,
) -> Result<Vec<(FolderName, MessageSummary)>, MailError> {
    let folders = list_folders(conn).await?;
    let literal_plus = conn.has_capability("LITERAL+");
    let criteria = search_criteria(search, literal_plus);
    let mut hits = Vec::new();
    for f in folders.iter().filter(|f| f.selectable) {
        conn.select(&f.name).await?;
        let mut uids: Vec<u32> = Vec::new();
        conn.command_each(&format!("UID SEARCH CHARSET UTF-8 {criteria}"), |r| {
            if let Response::MailboxData(MailboxDatum::Search(v)) = r {
                uids.extend(v.iter().copied());
            }
        })
        .await?;
        // The newest of each folder first, so the cap keeps recent mail.
        uids.sort_unstable_by(|a, b| b.cmp(a));
        uids.truncate(cap);
        let uids: Vec<Uid> = uids.into_iter().map(Uid).collect();
        hits.extend(
            summaries(conn, &uids)
                .await?
                .into_values()
                .map(|s| (f.name.clone(), s)),
        );
    }
    hits.sort_by_key(|(_, s)| std::cmp::Reverse(s.date.unwrap_or(0)));
    hits.truncate(cap);
    Ok(hits)
}

/// UIDs of the messages of `folder` whose Message-ID is `message_id`.
pub async fn find_by_message_id(
    conn: &mut Conn,
    folder: &FolderName,
    message_id: &str,
) -> Result<Vec<Uid>, MailError> {
    if message_id.is_empty() || message_id.contains(['\r', '\n', '"', '\\']) {
        return Ok(vec![]);
    }
    conn.select(folder).await?;
    let mut uids = Vec::new();
    conn.command_each(
        &format!("UID SEARCH HEADER Message-ID {}", codec::quote(message_id)),
        |r| {
            if let Response::MailboxData(MailboxDatum::Search(v)) = r {
                uids.extend(v.iter().map(|u| Uid(*u)));
            }
        },
    )
    .await?;
    uids.sort();
    Ok(uids)
}
