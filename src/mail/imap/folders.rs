//! Managing folders: create (nested), rename, delete with everything in it, subscribe. Special folders
//! (Inbox, Drafts, Sent, Trash, Junk, Archive) cannot be renamed or deleted from here.

use super::conn::Conn;
use super::{codec, list_folders};
pub use crate::mail::FolderError;
use crate::mail::{Folder, FolderName, MailError};

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
