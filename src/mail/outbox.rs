//! Sending a message and filing it, in the order that loses nothing: build, submit over SMTP, then
//! copy to Sent, flag the original and remove the draft. When submission fails the message is saved
//! to Drafts instead, so that what the user wrote survives whatever happened.

use std::sync::Arc;
use std::time::SystemTime;

use super::account::{Server, TlsSettings};
use super::compose::{self, ComposeError, Outgoing};
use super::mailbox::Mailbox;
use super::smtp::{self, SendError};
use super::{Flags, FolderName, MailError, SpecialUse, Uid};

/// The message the user is answering or forwarding, to flag once the answer is sent.
#[derive(Clone, Debug)]
pub struct Original {
    pub folder: FolderName,
    pub uid: Uid,
    pub answer: Answer,
}

/// How a sent message relates to the one it came from: the flag that one gets once it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Answered,
    Forwarded,
}

impl Answer {
    /// From the compose form's hidden field (`answered`, `forwarded`).
    pub fn from_form(s: &str) -> Option<Self> {
        match s {
            "answered" => Some(Answer::Answered),
            "forwarded" => Some(Answer::Forwarded),
            _ => None,
        }
    }

    /// The IMAP flag or keyword (RFC 3501 `\Answered`, RFC 5788 `$Forwarded`).
    pub fn flag(self) -> &'static str {
        match self {
            Answer::Answered => "\\Answered",
            Answer::Forwarded => "$Forwarded",
        }
    }
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
    mail: &Mailbox,
    smtp_server: &Server,
    tls: &TlsSettings,
    msg: Outgoing,
    original: Option<Original>,
) -> Outcome {
    let Some(creds) = mail.credentials() else {
        return Outcome::NotSent {
            error: SendFailure::NoCredentials,
            draft_saved: Err(MailError::AuthFailed),
        };
    };
    let built = match compose::build(&msg, SystemTime::now(), false) {
        Ok(m) => m,
        Err(e) => {
            let draft_saved = save_draft(mail, &msg).await;
            return Outcome::NotSent {
                error: e.into(),
                draft_saved,
            };
        }
    };
    let bytes = built.formatted();
    if let Err(e) = smtp::send(smtp_server, tls, &creds, built.envelope(), &bytes).await {
        tracing::info!(error = %e, "submission failed; saving as draft");
        let draft_saved = save_draft(mail, &msg).await;
        return Outcome::NotSent {
            error: e.into(),
            draft_saved,
        };
    }
    let filing = file_sent(mail, Arc::new(bytes), &msg.message_id, original).await;
    Outcome::Sent {
        filing_error: filing.err(),
    }
}

/// Copies a sent message to Sent, flags the original, removes the draft it was.
async fn file_sent(
    mail: &Mailbox,
    bytes: Arc<Vec<u8>>,
    message_id: &str,
    original: Option<Original>,
) -> Result<(), MailError> {
    let sent = mail.special_folder(SpecialUse::Sent).await?;
    let seen = Flags {
        seen: true,
        ..Flags::default()
    };
    mail.append(&sent, seen, bytes).await?;
    if let Some(o) = &original {
        // The original may have been deleted meanwhile; that is not a failure to send.
        let _ = mail.add_flag(&o.folder, o.uid, o.answer.flag()).await;
    }
    let drafts = mail.special_folder(SpecialUse::Drafts).await?;
    let old = mail.find_by_message_id(&drafts, message_id).await?;
    mail.delete_permanently(&drafts, &old).await
}

/// Saves `msg` (Bcc included) in Drafts, flagged `\Draft`, replacing earlier versions of the same
/// draft (same Message-ID). The new version is stored before the old ones are removed.
pub async fn save_draft(mail: &Mailbox, msg: &Outgoing) -> Result<(), MailError> {
    let built = compose::build(msg, SystemTime::now(), true)
        .map_err(|e| MailError::Refused(e.to_string()))?;
    let drafts = mail.special_folder(SpecialUse::Drafts).await?;
    let flags = Flags {
        seen: true,
        draft: true,
        ..Flags::default()
    };
    mail.append(&drafts, flags, Arc::new(built.formatted()))
        .await?;
    let mut versions = mail.find_by_message_id(&drafts, &msg.message_id).await?;
    // The highest UID is the version just stored; the others are older.
    versions.pop();
    mail.delete_permanently(&drafts, &versions).await
}
