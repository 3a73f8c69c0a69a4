//! The lines of a message list: which parts of a message a line needs, fetched in one FETCH for a
//! page, a set of UIDs or the mail that just arrived, and read into [`MessageSummary`] values.

use imap_proto::{AttributeValue, Response};

use super::codec;
use super::conn::Conn;
use crate::mail::parse;
use crate::mail::{Flags, FolderName, MailError, MessageSummary, Uid};

/// Summary items fetched for each line of the list. The header fields come in two parts, each cut
/// (RFC 3501 partial fetch) far above what a row shows: a sender may write a 100 kB subject or a
/// 10 kB name, and a page of such rows must not cost what their whole headers would. The subject is
/// apart so that a long one cannot push the sender out of its share.
pub(super) const SUMMARY_ITEMS: &str = "UID FLAGS RFC822.SIZE INTERNALDATE \
     BODY.PEEK[HEADER.FIELDS (FROM DATE CONTENT-TYPE)]<0.32768> \
     BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.4096>";

/// List lines of these messages of the selected folder, by UID (one UID FETCH).
pub(super) async fn summaries(
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

pub(super) fn summary_from_fetch(attrs: &[AttributeValue]) -> Option<MessageSummary> {
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
