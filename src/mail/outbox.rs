//! Sending a message and filing it, in the order that loses nothing: build, submit over SMTP, then
//! copy to Sent, flag the original and remove the draft. When submission fails the message is saved
//! to Drafts instead, so that what the user wrote survives whatever happened.

use std::sync::Arc;
use std::time::SystemTime;

use super::account::{Server, TlsSettings};
use super::compose::{self, ComposeError, Outgoing};
use super::mailbox::Mailbox;
use super::smtp::{self, SendError};
use super::{FlagChange, FolderName, MailError, Uid};

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

    /// The compose form's hidden field.
    pub fn form_value(self) -> &'static str {
        match self {
            Answer::Answered => "answered",
            Answer::Forwarded => "forwarded",
        }
    }

    /// The flag the original gets.
    pub fn flag(self) -> FlagChange {
        match self {
            Answer::Answered => FlagChange::Answered,
            Answer::Forwarded => FlagChange::Forwarded,
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
    let original = original.map(|o| (o.folder, o.uid, o.answer.flag()));
    let filing = mail
        .file_sent(Arc::new(bytes), &msg.message_id, original)
        .await;
    Outcome::Sent {
        filing_error: filing.err(),
    }
}

/// Saves `msg` (Bcc included) in Drafts, replacing earlier versions of the same draft (see
/// [`crate::mail::backend::save_draft`]).
pub async fn save_draft(mail: &Mailbox, msg: &Outgoing) -> Result<(), MailError> {
    let built = compose::build(msg, SystemTime::now(), true)
        .map_err(|e| MailError::Refused(e.to_string()))?;
    mail.save_draft(Arc::new(built.formatted()), &msg.message_id)
        .await
}
