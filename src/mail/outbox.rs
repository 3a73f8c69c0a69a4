//! Sending a message and filing it, in the order that loses nothing: build, submit over SMTP, then
//! copy to Sent, flag the original and remove the draft. When submission fails the message is saved
//! to Drafts instead, so that what the user wrote survives whatever happened.

use std::sync::Arc;
use std::time::SystemTime;

use super::account::{Server, TlsSettings};
use super::compose::{self, ComposeError, Outgoing};
use super::imap::{self, ImapPool, Retry};
use super::smtp::{self, SendError};
use super::{FolderName, MailError, SpecialUse, Uid};

/// The message the user is answering or forwarding, to flag once the answer is sent.
#[derive(Clone, Debug)]
pub struct Original {
    pub folder: FolderName,
    pub uid: Uid,
    /// `\Answered` or `$Forwarded`.
    pub flag: &'static str,
}

/// What became of a send.
#[derive(Debug)]
pub enum Outcome {
    /// Submitted. `filing_error` says what went wrong afterwards (copy to Sent, flags), if anything.
    Sent { filing_error: Option<MailError> },
    /// Not submitted; `draft_saved` says whether the text is safe in Drafts.
    NotSent {
        error: SendFailure,
        draft_saved: Result<(), MailError>,
    },
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendFailure {
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error(transparent)]
    Smtp(#[from] SendError),
    #[error("the session's credentials are gone")]
    NoCredentials,
}

/// Submits `msg` and files it. The draft to replace is found by `msg.message_id`.
pub async fn send(
    pool: &ImapPool,
    key: &str,
    smtp_server: &Server,
    tls: &TlsSettings,
    msg: Outgoing,
    original: Option<Original>,
) -> Outcome {
    let Some(creds) = pool.credentials(key) else {
        return Outcome::NotSent {
            error: SendFailure::NoCredentials,
            draft_saved: Err(MailError::AuthFailed),
        };
    };
    let built = match compose::build(&msg, SystemTime::now(), false) {
        Ok(m) => m,
        Err(e) => {
            let draft_saved = save_draft(pool, key, &msg).await;
            return Outcome::NotSent {
                error: e.into(),
                draft_saved,
            };
        }
    };
    let bytes = built.formatted();
    if let Err(e) = smtp::send(smtp_server, tls, &creds, built.envelope(), &bytes).await {
        tracing::info!(error = %e, "submission failed; saving as draft");
        let draft_saved = save_draft(pool, key, &msg).await;
        return Outcome::NotSent {
            error: e.into(),
            draft_saved,
        };
    }
    let bytes = Arc::new(bytes);
    let message_id = msg.message_id.clone();
    let filing = pool
        .run(key, Retry::Never, move |c| {
            let bytes = bytes.clone();
            let message_id = message_id.clone();
            let original = original.clone();
            Box::pin(async move {
                let sent = imap::special_folder(c, SpecialUse::Sent).await?;
                c.append(&sent, "(\\Seen)", &bytes).await?;
                if let Some(o) = &original {
                    // The original may have been deleted meanwhile; that is not a failure to send.
                    let _ = imap::add_flag(c, &o.folder, o.uid, o.flag).await;
                }
                let drafts = imap::special_folder(c, SpecialUse::Drafts).await?;
                let old = imap::find_by_message_id(c, &drafts, &message_id).await?;
                imap::delete_permanently(c, &drafts, &old).await
            })
        })
        .await;
    Outcome::Sent {
        filing_error: filing.err(),
    }
}

/// Saves `msg` (Bcc included) in Drafts, flagged `\Draft`, replacing earlier versions of the same
/// draft (same Message-ID). The new version is appended before the old ones are removed.
pub async fn save_draft(pool: &ImapPool, key: &str, msg: &Outgoing) -> Result<(), MailError> {
    let built = compose::build(msg, SystemTime::now(), true)
        .map_err(|e| MailError::Refused(e.to_string()))?;
    let bytes = Arc::new(built.formatted());
    let message_id = msg.message_id.clone();
    pool.run(key, Retry::Never, move |c| {
        let bytes = bytes.clone();
        let message_id = message_id.clone();
        Box::pin(async move {
            let drafts = imap::special_folder(c, SpecialUse::Drafts).await?;
            c.append(&drafts, "(\\Draft \\Seen)", &bytes).await?;
            let mut versions = imap::find_by_message_id(c, &drafts, &message_id).await?;
            // The highest UID is the version just appended; the others are older.
            versions.pop();
            imap::delete_permanently(c, &drafts, &versions).await
        })
    })
    .await
}
