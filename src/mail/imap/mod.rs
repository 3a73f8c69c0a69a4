//! IMAP operations the pages need, as functions over one leased connection ([`Conn`]). Each reads
//! everything it needs into owned values, so the connection can go back to the pool before a page is
//! rendered.

pub mod actions;
pub mod backend;
pub mod codec;
pub mod conn;
pub mod connect;
pub mod folders;
pub mod pool;
pub mod watch;

use imap_proto::{
    AttributeValue, MailboxDatum, MessageSection, NameAttribute, Response, SectionPath,
};

pub use conn::Conn;
pub use pool::{ImapPool, PoolConfig, Retry};

use crate::mail::parse::{self, PartContent};
use crate::mail::{
    FetchedMessage, Flags, Folder, FolderName, ListPage, ListQuery, MAX_DISPLAY_BYTES, MailError,
    MessageSummary, Search, Section, SortKey, SpecialUse, ThreadPage, Uid,
};

/// Lists every folder with its message and unread counts, special folders first, then in tree order.
pub async fn list_folders(conn: &mut Conn) -> Result<Vec<Folder>, MailError> {
    let list_status = conn.has_capability("LIST-STATUS");
    let extended = conn.has_capability("LIST-EXTENDED");
    let cmd = match (list_status, extended) {
        // RFC 5258 + RFC 5819: names, subscription and counts in one round trip.
        (true, true) => r#"LIST "" "*" RETURN (SUBSCRIBED SPECIAL-USE STATUS (MESSAGES UNSEEN))"#,
        (true, false) => r#"LIST "" "*" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))"#,
        _ => r#"LIST "" "*""#,
    };
    let mut folders = Vec::new();
    let mut counts = std::collections::HashMap::new();
    conn.command_each(cmd, |r| match r {
        Response::MailboxData(MailboxDatum::List(data)) => {
            let raw = data.name.as_ref();
            let delimiter = data.delimiter.as_deref().and_then(|d| d.chars().next());
            folders.push(folder_from_list(raw, delimiter, &data.name_attributes));
        }
        Response::MailboxData(MailboxDatum::Status { mailbox, status }) => {
            counts.insert(mailbox.to_string(), Conn::status_counts(status));
        }
        _ => {}
    })
    .await?;
    if !extended {
        let mut subscribed = std::collections::HashSet::new();
        conn.command_each(r#"LSUB "" "*""#, |r| {
            if let Response::MailboxData(MailboxDatum::List(data)) = r {
                subscribed.insert(data.name.to_string());
            }
        })
        .await?;
        for f in &mut folders {
            f.subscribed = subscribed.contains(&codec::encode_mutf7(f.name.as_str()));
        }
    }
    if !list_status {
        for f in folders.iter().filter(|f| f.selectable) {
            let cmd = format!("STATUS {} (MESSAGES UNSEEN)", codec::quote_mailbox(&f.name));
            // A folder that vanished meanwhile just shows no count.
            let _ = conn
                .command_each(&cmd, |r| {
                    if let Response::MailboxData(MailboxDatum::Status { mailbox, status }) = r {
                        counts.insert(mailbox.to_string(), Conn::status_counts(status));
                    }
                })
                .await;
        }
    }
    for f in &mut folders {
        let raw = codec::encode_mutf7(f.name.as_str());
        if let Some((m, u)) = counts.get(&raw) {
            f.messages = *m;
            f.unseen = *u;
        }
    }
    sort_folders(&mut folders);
    Ok(folders)
}

fn folder_from_list(raw: &str, delimiter: Option<char>, attrs: &[NameAttribute]) -> Folder {
    let decoded = codec::decode_mutf7(raw);
    let name = FolderName::new(&decoded).unwrap_or_else(FolderName::inbox);
    let (depth, leaf) = match delimiter {
        Some(d) => (
            decoded.matches(d).count(),
            decoded.rsplit(d).next().unwrap_or(&decoded).to_owned(),
        ),
        None => (0, decoded.clone()),
    };
    let mut special = None;
    let mut selectable = true;
    let mut subscribed = false;
    for a in attrs {
        match a {
            NameAttribute::Extension(e) if e.eq_ignore_ascii_case("\\Subscribed") => {
                subscribed = true
            }
            NameAttribute::Extension(e) if e.eq_ignore_ascii_case("\\NonExistent") => {
                selectable = false
            }
            NameAttribute::Drafts => special = Some(SpecialUse::Drafts),
            NameAttribute::Sent => special = Some(SpecialUse::Sent),
            NameAttribute::Archive => special = Some(SpecialUse::Archive),
            NameAttribute::Junk => special = Some(SpecialUse::Junk),
            NameAttribute::Trash => special = Some(SpecialUse::Trash),
            NameAttribute::NoSelect => selectable = false,
            _ => {}
        }
    }
    if name.is_inbox() {
        special = Some(SpecialUse::Inbox);
    }
    Folder {
        name,
        leaf,
        depth,
        special,
        selectable,
        subscribed,
        delimiter,
        messages: None,
        unseen: None,
    }
}

/// Special folders in their usual order, each followed by its subfolders; then the others by path.
pub(crate) fn sort_folders(folders: &mut [Folder]) {
    let top_rank: std::collections::HashMap<String, u8> = folders
        .iter()
        .filter(|f| f.depth == 0)
        .map(|f| {
            (
                f.name.as_str().to_owned(),
                f.special.map_or(100, |s| s as u8),
            )
        })
        .collect();
    let key = |f: &Folder| {
        let top = f
            .name
            .as_str()
            .split(|c: char| !c.is_alphanumeric() && c != ' ' && c != '_' && c != '-')
            .next()
            .unwrap_or("");
        let rank = if f.depth == 0 {
            f.special.map_or(100, |s| s as u8)
        } else {
            top_rank.get(top).copied().unwrap_or(100)
        };
        (rank, f.name.as_str().to_lowercase())
    };
    folders.sort_by_cached_key(key);
}

/// Summary items fetched for each line of the list. The header fields come in two parts, each cut
/// (RFC 3501 partial fetch) far above what a row shows: a sender may write a 100 kB subject or a
/// 10 kB name, and a page of such rows must not cost what their whole headers would. The subject is
/// apart so that a long one cannot push the sender out of its share.
const SUMMARY_ITEMS: &str = "UID FLAGS RFC822.SIZE INTERNALDATE \
     BODY.PEEK[HEADER.FIELDS (FROM DATE CONTENT-TYPE)]<0.32768> \
     BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.4096>";

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

/// List lines of these messages of the selected folder, by UID (one UID FETCH).
async fn summaries(
    conn: &mut Conn,
    uids: &[Uid],
) -> Result<std::collections::HashMap<Uid, MessageSummary>, MailError> {
    let mut by_uid = std::collections::HashMap::new();
    if uids.is_empty() {
        return Ok(by_uid);
    }
    let set = codec::uid_set(uids);
    conn.command_each(&format!("UID FETCH {set} ({SUMMARY_ITEMS})"), |r| {
        if let Response::Fetch(_, attrs) = r
            && let Some(s) = summary_from_fetch(attrs)
        {
            by_uid.insert(s.uid, s);
        }
    })
    .await?;
    Ok(by_uid)
}

fn summary_from_fetch(attrs: &[AttributeValue]) -> Option<MessageSummary> {
    let mut uid = None;
    let mut flags = Flags::default();
    let mut size = 0;
    let mut internal = None;
    // The two header parts as one block: each without its closing blank line, then one at the end.
    let mut headers: Vec<u8> = Vec::new();
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => uid = Some(Uid(*u)),
            AttributeValue::Flags(f) => flags = Flags::from_atoms(f.iter().map(|s| s.as_ref())),
            AttributeValue::Rfc822Size(s) => size = *s,
            AttributeValue::InternalDate(d) => {
                internal = chrono::DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z")
                    .ok()
                    .map(|d| d.timestamp())
            }
            AttributeValue::BodySection { data: Some(d), .. } => {
                let part: &[u8] = d.as_ref();
                let end = part
                    .iter()
                    .rposition(|b| !matches!(b, b'\r' | b'\n'))
                    .map_or(0, |i| i + 1);
                if end > 0 {
                    headers.extend_from_slice(&part[..end]);
                    headers.extend_from_slice(b"\r\n");
                }
            }
            _ => {}
        }
    }
    headers.extend_from_slice(b"\r\n");
    let h = parse::parse_list_headers(&headers);
    Some(MessageSummary {
        uid: uid?,
        from: h.from,
        subject: h.subject,
        date: h.date.or(internal),
        size,
        flags,
        has_attachment: h.has_attachment,
    })
}

/// Fetches a message for display and, when `mark_seen`, flags it `\Seen` as opening it in any client
/// would.
pub async fn fetch_message(
    conn: &mut Conn,
    folder: &FolderName,
    uid: Uid,
    mark_seen: bool,
) -> Result<FetchedMessage, MailError> {
    conn.select(folder).await?;
    let cmd = format!("UID FETCH {uid} (UID FLAGS RFC822.SIZE BODY.PEEK[]<0.{MAX_DISPLAY_BYTES}>)");
    let mut found = None;
    conn.command_each(&cmd, |r| {
        if let Response::Fetch(_, attrs) = r {
            let mut m = FetchedMessage {
                uid,
                flags: Flags::default(),
                size: 0,
                raw: Vec::new(),
            };
            let mut this_uid = None;
            for a in attrs {
                match a {
                    AttributeValue::Uid(u) => this_uid = Some(*u),
                    AttributeValue::Flags(f) => {
                        m.flags = Flags::from_atoms(f.iter().map(|s| s.as_ref()))
                    }
                    AttributeValue::Rfc822Size(s) => m.size = *s,
                    AttributeValue::BodySection {
                        section: None,
                        data: Some(d),
                        ..
                    } => m.raw = d.to_vec(),
                    _ => {}
                }
            }
            if this_uid == Some(uid.0) {
                found = Some(m);
            }
        }
    })
    .await?;
    let mut m = found.ok_or(MailError::MessageNotFound)?;
    if mark_seen && !m.flags.seen {
        conn.command(&format!("UID STORE {uid} +FLAGS.SILENT (\\Seen)"))
            .await?;
        m.flags.seen = true;
    }
    Ok(m)
}

/// Fetches and decodes one part, without fetching the rest of the message.
pub async fn fetch_part(
    conn: &mut Conn,
    folder: &FolderName,
    uid: Uid,
    section: &Section,
) -> Result<PartContent, MailError> {
    conn.select(folder).await?;
    // For a message that is not multipart, part 1 is its body and its MIME header is the message
    // header (RFC 3501 section 6.4.5); fetching HEADER too covers that case in the same round trip.
    let top = section.parts() == [1];
    let cmd = if top {
        format!(
            "UID FETCH {uid} (UID BODY.PEEK[{section}.MIME] BODY.PEEK[{section}] BODY.PEEK[HEADER])"
        )
    } else {
        format!("UID FETCH {uid} (UID BODY.PEEK[{section}.MIME] BODY.PEEK[{section}])")
    };
    let want: Vec<u32> = section.parts().to_vec();
    let mut result = None;
    conn.command_each(&cmd, |r| {
        let Response::Fetch(_, attrs) = r else { return };
        if !attrs
            .iter()
            .any(|a| matches!(a, AttributeValue::Uid(u) if *u == uid.0))
        {
            return;
        }
        let mut mime: Option<&[u8]> = None;
        let mut body: Option<&[u8]> = None;
        let mut header: Option<&[u8]> = None;
        for a in attrs {
            if let AttributeValue::BodySection {
                section: Some(path),
                data,
                ..
            } = a
            {
                let data = data.as_deref();
                match path {
                    SectionPath::Part(p, Some(MessageSection::Mime)) if *p == want => mime = data,
                    SectionPath::Part(p, None) if *p == want => body = data,
                    SectionPath::Full(MessageSection::Header) => header = data,
                    _ => {}
                }
            }
        }
        let mime = match mime {
            Some(m) if m.iter().any(|b| !b.is_ascii_whitespace()) => m,
            _ => header.unwrap_or(b""),
        };
        result = Some(match body {
            Some(b) if !b.is_empty() => Ok(parse::decode_part(mime, b)),
            _ => Err(MailError::PartNotFound),
        });
    })
    .await?;
    result.unwrap_or(Err(MailError::MessageNotFound))
}

/// Fetches the whole original message.
pub async fn fetch_raw(
    conn: &mut Conn,
    folder: &FolderName,
    uid: Uid,
) -> Result<Vec<u8>, MailError> {
    conn.select(folder).await?;
    let mut raw = None;
    conn.command_each(&format!("UID FETCH {uid} (UID BODY.PEEK[])"), |r| {
        let Response::Fetch(_, attrs) = r else { return };
        if !attrs
            .iter()
            .any(|a| matches!(a, AttributeValue::Uid(u) if *u == uid.0))
        {
            return;
        }
        for a in attrs {
            if let AttributeValue::BodySection {
                section: None,
                data: Some(d),
                ..
            } = a
            {
                raw = Some(d.to_vec());
            }
        }
    })
    .await?;
    raw.ok_or(MailError::MessageNotFound)
}

/// The folder with this special use, found by its RFC 6154 attribute, else by a usual name, else
/// created under the usual English name (as other clients do).
pub async fn special_folder(conn: &mut Conn, role: SpecialUse) -> Result<FolderName, MailError> {
    let folders = list_folders(conn).await?;
    if let Some(f) = folders.iter().find(|f| f.special == Some(role)) {
        return Ok(f.name.clone());
    }
    let names: &[&str] = match role {
        SpecialUse::Inbox => return Ok(FolderName::inbox()),
        SpecialUse::Drafts => &["Drafts", "Brouillons", "INBOX/Drafts", "INBOX.Drafts"],
        SpecialUse::Sent => &[
            "Sent",
            "Sent Messages",
            "Sent Items",
            "Envoyés",
            "INBOX/Sent",
            "INBOX.Sent",
        ],
        SpecialUse::Archive => &["Archive", "Archives"],
        SpecialUse::Junk => &["Junk", "Spam", "Indésirables"],
        SpecialUse::Trash => &["Trash", "Deleted Messages", "Corbeille"],
    };
    if let Some(f) = folders.iter().find(|f| {
        names
            .iter()
            .any(|n| f.name.as_str().eq_ignore_ascii_case(n))
    }) {
        return Ok(f.name.clone());
    }
    let name = FolderName::fixed(names[0]);
    conn.command(&format!("CREATE {}", codec::quote_mailbox(&name)))
        .await?;
    Ok(name)
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

/// The storage quota of the inbox's quota root, when the server has QUOTA and sets one.
pub async fn quota(conn: &mut Conn) -> Result<Option<crate::mail::Quota>, MailError> {
    if !conn.has_capability("QUOTA") {
        return Ok(None);
    }
    if let Some((at, q)) = conn.quota_cache
        && at.elapsed() < std::time::Duration::from_secs(60)
    {
        return Ok(q);
    }
    let q = read_quota(conn).await?;
    conn.quota_cache = Some((std::time::Instant::now(), q));
    Ok(q)
}

async fn read_quota(conn: &mut Conn) -> Result<Option<crate::mail::Quota>, MailError> {
    let mut found = None;
    let result = conn
        .command_each("GETQUOTAROOT INBOX", |r| {
            if let Response::Quota(q) = r {
                for res in &q.resources {
                    if matches!(res.name, imap_proto::rfc2087::QuotaResourceName::Storage)
                        && found.is_none()
                    {
                        found = Some(crate::mail::Quota {
                            used: res.usage * 1024,
                            limit: res.limit * 1024,
                        });
                    }
                }
            }
        })
        .await;
    match result {
        // No quota root for this user: no quota to show.
        Err(MailError::Refused(_)) => Ok(None),
        Err(e) => Err(e),
        Ok(()) => Ok(found),
    }
}

/// Counts of one folder (STATUS): messages, unseen, next UID.
pub async fn folder_status(
    conn: &mut Conn,
    folder: &FolderName,
) -> Result<(u32, u32, u32), MailError> {
    let (mut messages, mut unseen, mut uidnext) = (0, 0, 0);
    conn.command_each(
        &format!(
            "STATUS {} (MESSAGES UNSEEN UIDNEXT)",
            codec::quote_mailbox(folder)
        ),
        |r| {
            if let Response::MailboxData(MailboxDatum::Status { status, .. }) = r {
                for a in status {
                    match a {
                        imap_proto::StatusAttribute::Messages(n) => messages = *n,
                        imap_proto::StatusAttribute::Unseen(n) => unseen = *n,
                        imap_proto::StatusAttribute::UidNext(n) => uidnext = *n,
                        _ => {}
                    }
                }
            }
        },
    )
    .await?;
    Ok((messages, unseen, uidnext))
}

/// Sender and subject of the messages of the selected folder from UID `from` on (at most `max`).
pub async fn new_arrivals(
    conn: &mut Conn,
    folder: &FolderName,
    from: u32,
    max: usize,
) -> Result<Vec<MessageSummary>, MailError> {
    conn.select(folder).await?;
    let mut out = Vec::new();
    conn.command_each(&format!("UID FETCH {from}:* ({SUMMARY_ITEMS})"), |r| {
        if let Response::Fetch(_, attrs) = r
            && let Some(s) = summary_from_fetch(attrs)
            && s.uid.0 >= from
        {
            out.push(s);
        }
    })
    .await?;
    out.sort_by_key(|s| std::cmp::Reverse(s.uid));
    out.truncate(max);
    Ok(out)
}

/// Conversations among the newest `window` messages of the folder, most recently active first.
pub async fn thread_page(
    conn: &mut Conn,
    folder: &FolderName,
    page: u32,
    page_size: u32,
    window: u32,
) -> Result<ThreadPage, MailError> {
    let sel = conn.select(folder).await?;
    let mut inputs = Vec::new();
    if sel.exists > 0 {
        let lo = sel.exists.saturating_sub(window.max(1) - 1).max(1);
        let cmd = format!(
            "FETCH {lo}:{} (UID INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES DATE)])",
            sel.exists
        );
        conn.command_each(&cmd, |r| {
            let Response::Fetch(_, attrs) = r else { return };
            let mut uid = None;
            let mut internal = 0;
            let mut headers: &[u8] = b"";
            for a in attrs {
                match a {
                    AttributeValue::Uid(u) => uid = Some(Uid(*u)),
                    AttributeValue::InternalDate(d) => {
                        internal = chrono::DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z")
                            .map(|d| d.timestamp())
                            .unwrap_or(0)
                    }
                    AttributeValue::BodySection { data: Some(d), .. } => headers = d.as_ref(),
                    _ => {}
                }
            }
            if let Some(uid) = uid {
                let (message_id, references, date) = parse::thread_headers(headers);
                inputs.push(crate::mail::thread::ThreadInput {
                    uid,
                    message_id,
                    references,
                    date: date.unwrap_or(internal),
                });
            }
        })
        .await?;
    }
    let all = crate::mail::thread::build(&inputs);
    let (page, page_size, total_threads, shown) =
        crate::mail::thread::paginate(all, page, page_size);
    let uids: Vec<Uid> = shown
        .iter()
        .flat_map(|t| t.members.iter().map(|m| m.0))
        .collect();
    let mut by_uid = summaries(conn, &uids).await?;
    let threads = crate::mail::thread::fill(shown, &mut by_uid);
    Ok(ThreadPage {
        threads,
        total_threads,
        page,
        page_size,
        window,
        folder_total: sel.exists,
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
