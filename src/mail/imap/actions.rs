//! Changing mail: flags, moves (MOVE, or COPY + `\Deleted` + UID EXPUNGE on servers without it),
//! delete to Trash or for good, archive, spam and not-spam, emptying a folder.

use super::conn::Conn;
use super::{codec, list_folders, special_folder};
pub use crate::mail::{Action, Applied, Selection};
use crate::mail::{FlagChange, FolderName, MailError, SpecialUse, Step};

/// Applies `action` to the selected messages of `folder`.
pub async fn apply(
    conn: &mut Conn,
    folder: &FolderName,
    selection: &Selection,
    action: &Action,
) -> Result<Applied, MailError> {
    let Some(set) = uid_set(selection) else {
        return Ok(Applied::NothingSelected);
    };
    let special = match action.needs() {
        Some(role) => Some(special_folder(conn, role).await?),
        None => None,
    };
    match action.step(folder, special) {
        Step::SetFlag(change) => {
            let (op, flag) = match change {
                FlagChange::Seen(on) => (on, "\\Seen"),
                FlagChange::Flagged(on) => (on, "\\Flagged"),
            };
            let op = if op { "+" } else { "-" };
            conn.select(folder).await?;
            conn.command(&format!("UID STORE {set} {op}FLAGS.SILENT ({flag})"))
                .await?;
            Ok(Applied::Done)
        }
        Step::Confirm => Ok(Applied::NeedsConfirmation),
        Step::Expunge => {
            expunge(conn, folder, &set, true).await?;
            Ok(Applied::Done)
        }
        Step::Stay => Ok(Applied::Done),
        Step::Move(target) => {
            move_set(conn, folder, &set, &target).await?;
            Ok(Applied::Moved(target))
        }
    }
}

/// Moves messages; RFC 6851 MOVE when offered, otherwise COPY, mark `\Deleted`, and expunge just them.
pub async fn move_set(
    conn: &mut Conn,
    folder: &FolderName,
    set: &str,
    target: &FolderName,
) -> Result<(), MailError> {
    conn.select(folder).await?;
    let to = codec::quote_mailbox(target);
    if conn.has_capability("MOVE") {
        return conn.command(&format!("UID MOVE {set} {to}")).await;
    }
    match conn.command(&format!("UID COPY {set} {to}")).await {
        Err(MailError::Refused(_)) => return Err(MailError::FolderNotFound),
        other => other?,
    }
    expunge(conn, folder, set, true).await
}

/// Marks `\Deleted` and removes those messages with UID EXPUNGE. Without UIDPLUS, a plain EXPUNGE
/// would also remove messages another client marked `\Deleted`: it is only done when
/// `plain_expunge_ok` (what the user asked for is removal anyway, as in RFC 3501 clients); otherwise
/// the messages stay marked.
pub(super) async fn expunge(
    conn: &mut Conn,
    folder: &FolderName,
    set: &str,
    plain_expunge_ok: bool,
) -> Result<(), MailError> {
    conn.select(folder).await?;
    conn.command(&format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"))
        .await?;
    if conn.has_capability("UIDPLUS") {
        conn.command(&format!("UID EXPUNGE {set}")).await
    } else if plain_expunge_ok {
        conn.command("EXPUNGE").await
    } else {
        Ok(())
    }
}

/// Permanently removes every message of `folder` (Empty Trash / Empty Junk).
pub async fn empty_folder(conn: &mut Conn, folder: &FolderName) -> Result<(), MailError> {
    let sel = conn.select(folder).await?;
    if sel.exists == 0 {
        return Ok(());
    }
    expunge(conn, folder, "1:*", true).await
}

/// The special use of a folder, if it has one.
pub async fn role_of(
    conn: &mut Conn,
    folder: &FolderName,
) -> Result<Option<SpecialUse>, MailError> {
    Ok(list_folders(conn)
        .await?
        .into_iter()
        .find(|f| &f.name == folder)
        .and_then(|f| f.special))
}

/// The UID set of a selection, `None` when nothing is selected.
fn uid_set(selection: &Selection) -> Option<String> {
    match selection {
        Selection::All => Some("1:*".into()),
        Selection::Uids(u) if u.is_empty() => None,
        Selection::Uids(u) => Some(
            u.iter()
                .map(|x| x.0.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
    }
}
