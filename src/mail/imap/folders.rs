//! Folders: the list with message and unread counts (one LIST-STATUS round trip when the server can),
//! the order the sidebar shows them in, finding or making a special folder, the counts of one folder,
//! and managing folders: create (nested), rename, delete with everything in it, subscribe. Special
//! folders (Inbox, Drafts, Sent, Trash, Junk, Archive) cannot be renamed or deleted from here.

use imap_proto::{MailboxDatum, NameAttribute, Response};

use super::codec;
use super::conn::Conn;
pub use crate::mail::FolderError;
use crate::mail::{Folder, FolderName, MailError, SpecialUse};

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

/// Checks a new last path component: not empty, no hierarchy separator, no control characters.
fn valid_leaf(leaf: &str, delimiter: Option<char>) -> Result<String, FolderError> {
    let leaf = leaf.trim();
    if leaf.is_empty()
        || leaf.chars().any(|c| c.is_control())
        || delimiter.is_some_and(|d| leaf.contains(d))
        || leaf.chars().count() > 200
    {
        return Err(FolderError::InvalidName);
    }
    Ok(leaf.to_owned())
}

fn delimiter_of(folders: &[Folder]) -> Option<char> {
    folders.iter().find_map(|f| f.delimiter)
}

fn full_name(
    parent: Option<&FolderName>,
    leaf: &str,
    delimiter: Option<char>,
) -> Option<FolderName> {
    match (parent, delimiter) {
        (Some(p), Some(d)) => FolderName::new(&format!("{p}{d}{leaf}")),
        _ => FolderName::new(leaf),
    }
}

/// Creates `leaf` under `parent` (top level when `None`) and subscribes to it.
pub async fn create(
    conn: &mut Conn,
    parent: Option<&FolderName>,
    leaf: &str,
) -> Result<FolderName, FolderError> {
    let folders = list_folders(conn).await?;
    let delimiter = delimiter_of(&folders);
    let leaf = valid_leaf(leaf, delimiter)?;
    if let Some(p) = parent
        && !folders.iter().any(|f| &f.name == p)
    {
        return Err(FolderError::NotFound);
    }
    let name = full_name(parent, &leaf, delimiter).ok_or(FolderError::InvalidName)?;
    if folders.iter().any(|f| f.name == name) {
        return Err(FolderError::Exists);
    }
    conn.command(&format!("CREATE {}", codec::quote_mailbox(&name)))
        .await
        .map_err(|e| match e {
            MailError::Refused(_) => FolderError::Exists,
            other => other.into(),
        })?;
    conn.command(&format!("SUBSCRIBE {}", codec::quote_mailbox(&name)))
        .await?;
    Ok(name)
}

/// Renames a folder, keeping it where it is in the tree; its subfolders follow (RFC 3501 6.3.5).
pub async fn rename(
    conn: &mut Conn,
    folder: &FolderName,
    new_leaf: &str,
) -> Result<FolderName, FolderError> {
    let folders = list_folders(conn).await?;
    let current = folders
        .iter()
        .find(|f| &f.name == folder)
        .ok_or(FolderError::NotFound)?;
    if current.special.is_some() {
        return Err(FolderError::Protected);
    }
    let delimiter = current.delimiter;
    let leaf = valid_leaf(new_leaf, delimiter)?;
    let parent = delimiter.and_then(|d| {
        folder
            .as_str()
            .rsplit_once(d)
            .and_then(|(p, _)| FolderName::new(p))
    });
    let name = full_name(parent.as_ref(), &leaf, delimiter).ok_or(FolderError::InvalidName)?;
    if &name == folder {
        return Ok(name);
    }
    if folders.iter().any(|f| f.name == name) {
        return Err(FolderError::Exists);
    }
    // RENAME moves the subscription on Dovecot, not on every server: subscribe the new name anyway.
    conn.command(&format!(
        "RENAME {} {}",
        codec::quote_mailbox(folder),
        codec::quote_mailbox(&name)
    ))
    .await
    .map_err(|e| match e {
        MailError::Refused(_) => FolderError::Exists,
        other => other.into(),
    })?;
    let _ = conn
        .command(&format!("SUBSCRIBE {}", codec::quote_mailbox(&name)))
        .await;
    Ok(name)
}

/// Deletes a folder, its messages and its subfolders (deepest first: servers refuse to delete a
/// folder that still has children).
pub async fn delete(conn: &mut Conn, folder: &FolderName) -> Result<(), FolderError> {
    let folders = list_folders(conn).await?;
    let target = folders
        .iter()
        .find(|f| &f.name == folder)
        .ok_or(FolderError::NotFound)?;
    if target.special.is_some() {
        return Err(FolderError::Protected);
    }
    let mut doomed: Vec<&Folder> = folders
        .iter()
        .filter(|f| {
            &f.name == folder
                || target
                    .delimiter
                    .is_some_and(|d| f.name.as_str().starts_with(&format!("{folder}{d}")))
        })
        .collect();
    if doomed
        .iter()
        .any(|f| f.special.is_some() && &f.name != folder)
    {
        return Err(FolderError::Protected);
    }
    doomed.sort_by_key(|f| std::cmp::Reverse(f.depth));
    for f in doomed {
        let q = codec::quote_mailbox(&f.name);
        let _ = conn.command(&format!("UNSUBSCRIBE {q}")).await;
        conn.command(&format!("DELETE {q}")).await?;
    }
    Ok(())
}

/// Subscribes to or unsubscribes from a folder (only subscribed folders show in the sidebar).
pub async fn set_subscribed(
    conn: &mut Conn,
    folder: &FolderName,
    subscribed: bool,
) -> Result<(), FolderError> {
    let verb = if subscribed {
        "SUBSCRIBE"
    } else {
        "UNSUBSCRIBE"
    };
    conn.command(&format!("{verb} {}", codec::quote_mailbox(folder)))
        .await?;
    Ok(())
}
