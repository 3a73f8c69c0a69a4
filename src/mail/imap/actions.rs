//! Taking messages out of a folder: moves (MOVE, or COPY + `\Deleted` + UID EXPUNGE on servers
//! without it) and removal for good, careful not to expunge what another client marked.

use super::codec;
use super::conn::Conn;
use crate::mail::{FolderName, MailError};

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
