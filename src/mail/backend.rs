//! The seam between what Courrier does with mail and where the mail lives. A [`Backend`] is one
//! place that holds an account's folders, seen for the length of one operation: an IMAP connection
//! leased from the pool (`imap::backend`) or the local store of a POP3 account (`local::backend`).
//! It offers primitives only; the rules built on them (what a toolbar action does, where a sent
//! message or a draft is filed, which folder is Sent) are written once, here, for both.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::parse::PartContent;
use super::{
    Action, Applied, FetchedMessage, FlagChange, Flags, Folder, FolderError, FolderName, ListPage,
    ListQuery, MailError, MessageSummary, Quota, Search, Section, Selection, SpecialUse, Step,
    ThreadPage, Uid,
};

/// How messages leave a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// The user deleted them: they go to this Trash folder.
    ToTrash(FolderName),
    /// The user removed them for good (a confirmed delete in Trash, emptying a folder).
    ForGood,
    /// Courrier replaced them (older versions of a draft): removed for good, but never with a
    /// plain EXPUNGE that could take another client's `\Deleted` messages along.
    Replaced,
}

/// The primitives every place that holds mail offers. Folder names are the user-visible paths;
/// errors are [`MailError`]s, except folder management's, which the folders page words itself.
#[async_trait]
pub trait Backend: Send {
    /// Every folder, with its counts.
    async fn folders(&mut self) -> Result<Vec<Folder>, MailError>;
    /// The storage quota, when there is one.
    async fn quota(&mut self) -> Result<Option<Quota>, MailError>;
    /// The folder with this special use, as the place names or marks it (created if missing).
    async fn find_special(&mut self, role: SpecialUse) -> Result<FolderName, MailError>;
    /// One page of a folder, sorted and filtered.
    async fn page(
        &mut self,
        folder: &FolderName,
        query: &ListQuery,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage, MailError>;
    /// One page of conversations among the newest `window` messages.
    async fn threads(
        &mut self,
        folder: &FolderName,
        page: u32,
        page_size: u32,
        window: u32,
    ) -> Result<ThreadPage, MailError>;
    /// A message for display; `mark_seen` flags it read as opening it does in any client.
    async fn message(
        &mut self,
        folder: &FolderName,
        uid: Uid,
        mark_seen: bool,
    ) -> Result<FetchedMessage, MailError>;
    /// One decoded part.
    async fn part(
        &mut self,
        folder: &FolderName,
        uid: Uid,
        section: &Section,
    ) -> Result<PartContent, MailError>;
    /// The original message, whole.
    async fn raw(&mut self, folder: &FolderName, uid: Uid) -> Result<Vec<u8>, MailError>;
    /// Matches in every folder (at most `cap`).
    async fn search_all(
        &mut self,
        search: &Search,
        cap: usize,
    ) -> Result<Vec<(FolderName, MessageSummary)>, MailError>;
    /// UIDs of the messages of `folder` with this Message-ID, lowest first.
    async fn find_by_message_id(
        &mut self,
        folder: &FolderName,
        message_id: &str,
    ) -> Result<Vec<Uid>, MailError>;
    /// Sets or clears a flag on the selected messages.
    async fn set_flag(
        &mut self,
        folder: &FolderName,
        selection: &Selection,
        change: FlagChange,
    ) -> Result<(), MailError>;
    /// Moves the selected messages into `target` (which must exist).
    async fn move_to(
        &mut self,
        folder: &FolderName,
        selection: &Selection,
        target: &FolderName,
    ) -> Result<(), MailError>;
    /// Takes the selected messages out of `folder`.
    async fn remove(
        &mut self,
        folder: &FolderName,
        selection: &Selection,
        how: Removal,
    ) -> Result<(), MailError>;
    /// Stores a message written here (a draft, a sent message).
    async fn append(
        &mut self,
        folder: &FolderName,
        flags: Flags,
        message: &[u8],
    ) -> Result<(), MailError>;
    async fn create_folder(
        &mut self,
        parent: Option<&FolderName>,
        leaf: &str,
    ) -> Result<FolderName, FolderError>;
    async fn rename_folder(
        &mut self,
        folder: &FolderName,
        leaf: &str,
    ) -> Result<FolderName, FolderError>;
    async fn delete_folder(&mut self, folder: &FolderName) -> Result<(), FolderError>;
    async fn set_subscribed(
        &mut self,
        folder: &FolderName,
        subscribed: bool,
    ) -> Result<(), FolderError>;
}

/// How long a special folder's name is trusted without looking again: another client may rename
/// or delete it, and the cost of a look is a folder listing.
const SPECIAL_TTL: Duration = Duration::from_secs(300);

/// An account's special folders as last found: saves a folder listing on every send, draft save,
/// delete, archive and spam. Forgotten when folders change here, after [`SPECIAL_TTL`], and when
/// an operation on one fails (it may have gone meanwhile).
#[derive(Debug, Default)]
pub struct SpecialFolders {
    known: Mutex<HashMap<SpecialUse, (Instant, FolderName)>>,
}

impl SpecialFolders {
    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<SpecialUse, (Instant, FolderName)>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The folder for `role`, from memory or from the backend.
    pub async fn get(
        &self,
        b: &mut dyn Backend,
        role: SpecialUse,
    ) -> Result<FolderName, MailError> {
        if let Some((at, name)) = self.known().get(&role)
            && at.elapsed() < SPECIAL_TTL
        {
            return Ok(name.clone());
        }
        let name = b.find_special(role).await?;
        self.known().insert(role, (Instant::now(), name.clone()));
        Ok(name)
    }

    /// Forgets everything (a folder was created, renamed or deleted here).
    pub fn forget(&self) {
        self.known().clear();
    }

    /// Appends a message to the folder for `role` and says which folder that was. When the append
    /// fails with a name from memory, the folder is looked up again (and created if it was deleted
    /// elsewhere) and the append tried once more.
    async fn append(
        &self,
        b: &mut dyn Backend,
        role: SpecialUse,
        flags: Flags,
        message: &[u8],
    ) -> Result<FolderName, MailError> {
        let remembered = self.known().contains_key(&role);
        let folder = self.get(b, role).await?;
        match b.append(&folder, flags, message).await {
            Ok(()) => Ok(folder),
            Err(e) if remembered && !e.poisons_connection() => {
                tracing::info!(error = %e, ?role, "special folder gone? looking again");
                self.forget();
                let folder = self.get(b, role).await?;
                b.append(&folder, flags, message).await?;
                Ok(folder)
            }
            Err(e) => Err(e),
        }
    }
}

/// A toolbar action on the selected messages of `folder`.
pub async fn apply(
    b: &mut dyn Backend,
    specials: &SpecialFolders,
    folder: &FolderName,
    selection: &Selection,
    action: &Action,
) -> Result<Applied, MailError> {
    if matches!(selection, Selection::Uids(u) if u.is_empty()) {
        return Ok(Applied::NothingSelected);
    }
    let special = match action.needs() {
        Some(role) => Some(specials.get(b, role).await?),
        None => None,
    };
    match action.step(folder, special) {
        Step::SetFlag(change) => {
            b.set_flag(folder, selection, change).await?;
            Ok(Applied::Done)
        }
        Step::Confirm => Ok(Applied::NeedsConfirmation),
        Step::Expunge => {
            b.remove(folder, selection, Removal::ForGood).await?;
            Ok(Applied::Done)
        }
        Step::Stay => Ok(Applied::Done),
        Step::Move(target) => {
            let done = if matches!(action, Action::Delete { .. }) {
                b.remove(folder, selection, Removal::ToTrash(target.clone()))
                    .await
            } else {
                b.move_to(folder, selection, &target).await
            };
            if done.is_err() && action.needs().is_some() {
                // The special folder may have gone meanwhile: look it up afresh next time.
                specials.forget();
            }
            done?;
            Ok(Applied::Moved(target))
        }
    }
}

/// Where a sent message's original is, and the flag it gets (`\Answered`, `$Forwarded`).
pub type Answered = Option<(FolderName, Uid, FlagChange)>;

/// Files a message that was just submitted: a read copy in Sent, the flag on the message it
/// answers or forwards, and the draft it was (same Message-ID) removed. In that order, so that
/// a failure part way never loses the text.
pub async fn file_sent(
    b: &mut dyn Backend,
    specials: &SpecialFolders,
    message: &[u8],
    message_id: &str,
    original: Answered,
) -> Result<(), MailError> {
    let seen = Flags {
        seen: true,
        ..Flags::default()
    };
    specials.append(b, SpecialUse::Sent, seen, message).await?;
    if let Some((folder, uid, flag)) = original {
        // The original may have been deleted meanwhile; that is not a failure to send.
        let _ = b.set_flag(&folder, &Selection::Uids(vec![uid]), flag).await;
    }
    let drafts = specials.get(b, SpecialUse::Drafts).await?;
    let old = b.find_by_message_id(&drafts, message_id).await?;
    remove_versions(b, &drafts, old).await
}

/// Stores a draft in Drafts, flagged `\Draft`, then removes its earlier versions (same
/// Message-ID): the new version is safe before an old one goes.
pub async fn save_draft(
    b: &mut dyn Backend,
    specials: &SpecialFolders,
    message: &[u8],
    message_id: &str,
) -> Result<(), MailError> {
    let flags = Flags {
        seen: true,
        draft: true,
        ..Flags::default()
    };
    let drafts = specials
        .append(b, SpecialUse::Drafts, flags, message)
        .await?;
    let mut versions = b.find_by_message_id(&drafts, message_id).await?;
    // The highest UID is the version just stored; the others are older.
    versions.pop();
    remove_versions(b, &drafts, versions).await
}

async fn remove_versions(
    b: &mut dyn Backend,
    drafts: &FolderName,
    uids: Vec<Uid>,
) -> Result<(), MailError> {
    if uids.is_empty() {
        return Ok(());
    }
    b.remove(drafts, &Selection::Uids(uids), Removal::Replaced)
        .await
}
