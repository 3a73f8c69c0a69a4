//! The mail of one logged-in account, wherever it lives: on the IMAP server (through the session's
//! pooled connections) or in Courrier's own store (a POP3 account). Pages call these operations and
//! never need to know which.

use std::sync::Arc;

use crate::mail::account::Credentials;
use crate::mail::imap::folders as imap_folders;
use crate::mail::imap::{self, ImapPool, Retry, actions};
use crate::mail::parse::PartContent;
use crate::mail::pop3::account::{Account, PopAccounts};
use crate::mail::{
    Action, Applied, Flags, Folder, FolderError, FolderName, ListPage, ListQuery, MailError,
    MessageSummary, Search, Section, Selection, SpecialUse, Uid,
};
use crate::mail::{FetchedMessage, Overview, ThreadPage};

/// A logged-in account's mail.
#[derive(Clone)]
pub enum Mailbox {
    /// Kept on the server; `key` names the session's connections in the pool.
    Imap { pool: ImapPool, key: String },
    /// Downloaded into the local store.
    Local {
        pops: PopAccounts,
        key: String,
        account: Arc<Account>,
    },
}

/// IMAP flag atoms for local flags.
fn atoms(f: Flags) -> String {
    let mut v = Vec::new();
    for (on, a) in [
        (f.seen, "\\Seen"),
        (f.flagged, "\\Flagged"),
        (f.answered, "\\Answered"),
        (f.draft, "\\Draft"),
    ] {
        if on {
            v.push(a);
        }
    }
    format!("({})", v.join(" "))
}

impl Mailbox {
    /// The POP3 account behind a local mailbox.
    pub fn pop_account(&self) -> Option<&Arc<Account>> {
        match self {
            Mailbox::Local { account, .. } => Some(account),
            Mailbox::Imap { .. } => None,
        }
    }

    /// The credentials typed at login (for sending).
    pub fn credentials(&self) -> Option<Credentials> {
        match self {
            Mailbox::Imap { pool, key } => pool.credentials(key),
            Mailbox::Local { pops, key, .. } => pops.credentials(key),
        }
    }

    async fn run<T, F>(&self, retry: Retry, op: F) -> Result<T, MailError>
    where
        T: Send + 'static,
        F: imap::pool::Op<T> + 'static,
    {
        match self {
            Mailbox::Imap { pool, key } => pool.run(key, retry, op).await,
            Mailbox::Local { .. } => unreachable!("IMAP operation on a local mailbox"),
        }
    }

    /// Folders and quota, as every page's sidebar shows them.
    pub async fn overview(&self) -> Result<Overview, MailError> {
        match self {
            Mailbox::Imap { .. } => self.run(Retry::Safe, |c| Box::pin(imap::overview(c))).await,
            Mailbox::Local { account, .. } => account.mailbox.overview().await,
        }
    }

    /// Every folder.
    pub async fn folders(&self) -> Result<Vec<Folder>, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                self.run(Retry::Safe, |c| Box::pin(imap::list_folders(c)))
                    .await
            }
            Mailbox::Local { account, .. } => Ok(account.mailbox.overview().await?.folders),
        }
    }

    /// One page of a folder.
    pub async fn list(
        &self,
        folder: &FolderName,
        query: &ListQuery,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let (f, q) = (folder.clone(), query.clone());
                self.run(Retry::Safe, move |c| {
                    let (f, q) = (f.clone(), q.clone());
                    Box::pin(async move { imap::list_query(c, &f, &q, page, page_size).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => {
                account
                    .mailbox
                    .list_query(folder, query, page, page_size)
                    .await
            }
        }
    }

    /// One page of conversations.
    pub async fn threads(
        &self,
        folder: &FolderName,
        page: u32,
        page_size: u32,
        window: u32,
    ) -> Result<ThreadPage, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let f = folder.clone();
                self.run(Retry::Safe, move |c| {
                    let f = f.clone();
                    Box::pin(async move { imap::thread_page(c, &f, page, page_size, window).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => {
                account
                    .mailbox
                    .thread_page(folder, page, page_size, window)
                    .await
            }
        }
    }

    /// A message for display (`mark_seen`: opening it marks it read).
    pub async fn message(
        &self,
        folder: &FolderName,
        uid: Uid,
        mark_seen: bool,
    ) -> Result<FetchedMessage, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let f = folder.clone();
                self.run(Retry::Safe, move |c| {
                    let f = f.clone();
                    Box::pin(async move { imap::fetch_message(c, &f, uid, mark_seen).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => {
                account.mailbox.fetch_message(folder, uid, mark_seen).await
            }
        }
    }

    /// One decoded part.
    pub async fn part(
        &self,
        folder: &FolderName,
        uid: Uid,
        section: &Section,
    ) -> Result<PartContent, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let (f, s) = (folder.clone(), section.clone());
                self.run(Retry::Safe, move |c| {
                    let (f, s) = (f.clone(), s.clone());
                    Box::pin(async move { imap::fetch_part(c, &f, uid, &s).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => {
                account.mailbox.fetch_part(folder, uid, section).await
            }
        }
    }

    /// The original message.
    pub async fn raw(&self, folder: &FolderName, uid: Uid) -> Result<Vec<u8>, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let f = folder.clone();
                self.run(Retry::Safe, move |c| {
                    let f = f.clone();
                    Box::pin(async move { imap::fetch_raw(c, &f, uid).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => account.mailbox.fetch_raw(folder, uid).await,
        }
    }

    /// Search across every folder.
    pub async fn search_all(
        &self,
        search: &Search,
        cap: usize,
    ) -> Result<Vec<(FolderName, MessageSummary)>, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let s = search.clone();
                self.run(Retry::Safe, move |c| {
                    let s = s.clone();
                    Box::pin(async move { imap::search_all(c, &s, cap).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => account.mailbox.search_all(search, cap).await,
        }
    }

    /// A toolbar action on selected messages.
    pub async fn apply(
        &self,
        folder: &FolderName,
        selection: &Selection,
        action: &Action,
    ) -> Result<Applied, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                // Flag changes are idempotent and may be retried on a new connection; moves are not.
                let retry = match action {
                    Action::MarkRead | Action::MarkUnread | Action::Flag | Action::Unflag => {
                        Retry::Safe
                    }
                    _ => Retry::Never,
                };
                let (f, sel, act) = (folder.clone(), selection.clone(), action.clone());
                self.run(retry, move |c| {
                    let (f, sel, act) = (f.clone(), sel.clone(), act.clone());
                    Box::pin(async move { actions::apply(c, &f, &sel, &act).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => {
                let (applied, deleted) = account.mailbox.apply(folder, selection, action).await?;
                account.deleted_here(&deleted).await?;
                Ok(applied)
            }
        }
    }

    /// Empties a folder (Trash, Junk).
    pub async fn empty(&self, folder: &FolderName) -> Result<(), MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let f = folder.clone();
                self.run(Retry::Never, move |c| {
                    let f = f.clone();
                    Box::pin(async move { actions::empty_folder(c, &f).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => {
                let deleted = account.mailbox.empty_folder(folder).await?;
                account.deleted_here(&deleted).await
            }
        }
    }

    /// The folder with a special use (created if the account has none).
    pub async fn special_folder(&self, role: SpecialUse) -> Result<FolderName, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                self.run(Retry::Safe, move |c| {
                    Box::pin(async move { imap::special_folder(c, role).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => account.mailbox.special_folder(role).await,
        }
    }

    /// Stores a message written here into `folder`.
    pub async fn append(
        &self,
        folder: &FolderName,
        flags: Flags,
        message: Arc<Vec<u8>>,
    ) -> Result<(), MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let f = folder.clone();
                let a = atoms(flags);
                self.run(Retry::Never, move |c| {
                    let (f, a, m) = (f.clone(), a.clone(), message.clone());
                    Box::pin(async move { c.append(&f, &a, &m).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => account.mailbox.append(folder, flags, &message).await,
        }
    }

    /// UIDs of the messages of `folder` with this Message-ID.
    pub async fn find_by_message_id(
        &self,
        folder: &FolderName,
        message_id: &str,
    ) -> Result<Vec<Uid>, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let (f, id) = (folder.clone(), message_id.to_owned());
                self.run(Retry::Safe, move |c| {
                    let (f, id) = (f.clone(), id.clone());
                    Box::pin(async move { imap::find_by_message_id(c, &f, &id).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => {
                account.mailbox.find_by_message_id(folder, message_id).await
            }
        }
    }

    /// Removes messages for good (replaced drafts).
    pub async fn delete_permanently(
        &self,
        folder: &FolderName,
        uids: &[Uid],
    ) -> Result<(), MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let (f, u) = (folder.clone(), uids.to_vec());
                self.run(Retry::Never, move |c| {
                    let (f, u) = (f.clone(), u.clone());
                    Box::pin(async move { imap::delete_permanently(c, &f, &u).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => {
                account.mailbox.delete_permanently(folder, uids).await
            }
        }
    }

    /// Adds `\Answered` or `$Forwarded` to a message.
    pub async fn add_flag(
        &self,
        folder: &FolderName,
        uid: Uid,
        flag: &'static str,
    ) -> Result<(), MailError> {
        match self {
            Mailbox::Imap { .. } => {
                let f = folder.clone();
                self.run(Retry::Safe, move |c| {
                    let f = f.clone();
                    Box::pin(async move { imap::add_flag(c, &f, uid, flag).await })
                })
                .await
            }
            Mailbox::Local { account, .. } => account.mailbox.add_flag(folder, uid, flag).await,
        }
    }

    /// Creates a folder under `parent`.
    pub async fn create_folder(
        &self,
        parent: Option<FolderName>,
        leaf: String,
    ) -> Result<Result<FolderName, FolderError>, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                self.run(Retry::Never, move |c| {
                    let (p, l) = (parent.clone(), leaf.clone());
                    Box::pin(async move { flatten(imap_folders::create(c, p.as_ref(), &l).await) })
                })
                .await
            }
            Mailbox::Local { account, .. } => flatten(
                account
                    .mailbox
                    .store
                    .create_folder(parent.as_ref(), &leaf)
                    .await,
            ),
        }
    }

    /// Renames a folder.
    pub async fn rename_folder(
        &self,
        folder: FolderName,
        leaf: String,
    ) -> Result<Result<FolderName, FolderError>, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                self.run(Retry::Never, move |c| {
                    let (f, l) = (folder.clone(), leaf.clone());
                    Box::pin(async move { flatten(imap_folders::rename(c, &f, &l).await) })
                })
                .await
            }
            Mailbox::Local { account, .. } => {
                flatten(account.mailbox.store.rename_folder(&folder, &leaf).await)
            }
        }
    }

    /// Deletes a folder with everything in it.
    pub async fn delete_folder(
        &self,
        folder: FolderName,
    ) -> Result<Result<FolderName, FolderError>, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                self.run(Retry::Never, move |c| {
                    let f = folder.clone();
                    Box::pin(async move {
                        flatten(imap_folders::delete(c, &f).await.map(|()| f.clone()))
                    })
                })
                .await
            }
            Mailbox::Local { account, .. } => flatten(
                account
                    .mailbox
                    .store
                    .delete_folder(&folder)
                    .await
                    .map(|()| folder.clone()),
            ),
        }
    }

    /// Shows or hides a folder in the sidebar.
    pub async fn set_subscribed(
        &self,
        folder: FolderName,
        subscribed: bool,
    ) -> Result<Result<FolderName, FolderError>, MailError> {
        match self {
            Mailbox::Imap { .. } => {
                self.run(Retry::Never, move |c| {
                    let f = folder.clone();
                    Box::pin(async move {
                        flatten(
                            imap_folders::set_subscribed(c, &f, subscribed)
                                .await
                                .map(|()| f.clone()),
                        )
                    })
                })
                .await
            }
            Mailbox::Local { account, .. } => flatten(
                account
                    .mailbox
                    .store
                    .set_subscribed(&folder, subscribed)
                    .await
                    .map(|()| folder.clone()),
            ),
        }
    }
}

/// Folder errors stay inside, to be worded on the folders page; only connection problems come out.
fn flatten<T>(r: Result<T, FolderError>) -> Result<Result<T, FolderError>, MailError> {
    match r {
        Err(FolderError::Mail(m)) if m.poisons_connection() => Err(m),
        other => Ok(other),
    }
}
