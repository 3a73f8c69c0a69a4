//! Conversations: the threading headers of a folder's newest messages are fetched and threaded by
//! `mail::thread` (not by the server's THREAD command), then the list lines of the shown
//! conversations only.

use imap_proto::{AttributeValue, Response};

use super::conn::Conn;
use super::summary::summaries;
use crate::mail::parse;
use crate::mail::{FolderName, MailError, ThreadPage, Uid};

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
