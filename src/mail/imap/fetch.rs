//! One message: its beginning for display (marking it read when asked), one decoded part without
//! the rest, or the whole original.

use imap_proto::{AttributeValue, MessageSection, Response, SectionPath};

use super::conn::Conn;
use crate::mail::parse::{self, PartContent};
use crate::mail::{FetchedMessage, Flags, FolderName, MAX_DISPLAY_BYTES, MailError, Section, Uid};

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
