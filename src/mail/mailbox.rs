//! The mail of one logged-in account, wherever it lives: on the IMAP server (through the session's
//! pooled connections) or in Courrier's own store (a POP3 account). Pages call these operations and
//! never need to know which: each one is written once over the [`Backend`] primitives, and
//! [`Mailbox::with`] is the one place that picks the backend (and, for IMAP, leases one connection
//! for the whole operation).

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::broadcast;

use crate::mail::account::Credentials;
use crate::mail::backend::{self, Backend, Removal, SpecialFolders};
use crate::mail::imap::watch::Watchers;
use crate::mail::imap::{ImapPool, Retry};
use crate::mail::local::backend::LocalBackend;
use crate::mail::parse::PartContent;
use crate::mail::pop3::account::{Account, PopAccounts};
use crate::mail::pop3::sync::SyncReport;
use crate::mail::{
    Action, Applied, FetchedMessage, FlagChange, Folder, FolderError, FolderName, ListPage,
    ListQuery, MailError, MailEvent, MessageSummary, Overview, Search, Section, Selection,
    SpecialUse, ThreadPage, Uid,
};

/// A logged-in account's mail.
#[derive(Clone)]
pub struct Mailbox {
    place: Place,
    specials: Arc<SpecialFolders>,
}

#[derive(Clone)]
enum Place {
    /// Kept on the server; `key` names the session's connections in the pool.
    Imap {
        pool: ImapPool,
        watchers: Watchers,
        key: String,
    },
    /// Downloaded into the local store.
    Local {
        pops: PopAccounts,
        key: String,
        account: Arc<Account>,
    },
}

/// One operation over a backend, with its arguments owned (an IMAP operation runs on a task of
/// its own, and may run twice when a connection breaks under a read).
type Op<A, T> = for<'b> fn(&'b mut dyn Backend, A) -> BoxFuture<'b, Result<T, MailError>>;

impl Mailbox {
    /// The mail of an IMAP session, if this process's pool holds its connections (not after a
    /// restart, nor on another instance: the web layer then logs in again for the session).
    pub fn imap(pool: &ImapPool, watchers: &Watchers, key: &str) -> Option<Self> {
        Some(Mailbox {
            specials: pool.specials(key)?,
            place: Place::Imap {
                pool: pool.clone(),
                watchers: watchers.clone(),
                key: key.to_owned(),
            },
        })
    }

    /// The mail of a POP3 session, if its account is still known.
    pub fn local(pops: &PopAccounts, key: &str) -> Option<Self> {
        let account = pops.account_of(key)?;
        Some(Mailbox {
            specials: account.specials.clone(),
            place: Place::Local {
                pops: pops.clone(),
                key: key.to_owned(),
                account,
            },
        })
    }

    /// The POP3 account behind a local mailbox.
    pub fn pop_account(&self) -> Option<&Arc<Account>> {
        match &self.place {
            Place::Local { account, .. } => Some(account),
            Place::Imap { .. } => None,
        }
    }

    /// The credentials typed at login (for sending).
    pub fn credentials(&self) -> Option<Credentials> {
        match &self.place {
            Place::Imap { pool, key, .. } => pool.credentials(key),
            Place::Local { pops, key, .. } => pops.credentials(key),
        }
    }

    /// Downloads new mail now ("Check mail"); `None` for an IMAP account, whose mail is on the
    /// server already.
    pub async fn check_now(&self) -> Option<Result<SyncReport, MailError>> {
        match &self.place {
            Place::Imap { .. } => None,
            Place::Local { pops, key, .. } => Some(pops.check(key).await),
        }
    }

    /// Listens to changes for an open page: the inbox and `folder` on IMAP (with the last state
    /// announced, for a tab that joins running watchers), what the periodic checks download on POP3.
    pub fn listen(
        &self,
        folder: Option<FolderName>,
    ) -> (Vec<broadcast::Receiver<MailEvent>>, Vec<MailEvent>) {
        match &self.place {
            Place::Imap { watchers, key, .. } => {
                let mut folders = vec![FolderName::inbox()];
                folders.extend(folder.filter(|f| !f.is_inbox()));
                let (mut receivers, mut known) = (Vec::new(), Vec::new());
                for f in folders {
                    let (rx, last) = watchers.subscribe(key, f);
                    receivers.push(rx);
                    known.extend(last);
                }
                (receivers, known)
            }
            Place::Local { pops, key, .. } => (pops.subscribe(key).into_iter().collect(), vec![]),
        }
    }

    /// Runs `op` on this account's backend: on one leased IMAP connection (retried once on a new
    /// one if it broke and `retry` allows), or on the local store.
    async fn with<A, T>(&self, retry: Retry, args: A, op: Op<A, T>) -> Result<T, MailError>
    where
        A: Clone + Send + Sync + 'static,
        T: Send + 'static,
    {
        match &self.place {
            Place::Imap { pool, key, .. } => {
                pool.run(key, retry, move |c| op(c, args.clone())).await
            }
            Place::Local { account, .. } => {
                let mut local = LocalBackend {
                    mailbox: &account.mailbox,
                    deletions: account.as_ref(),
                };
                op(&mut local, args).await
            }
        }
    }

    /// Folders and quota, as every page's sidebar shows them.
    pub async fn overview(&self) -> Result<Overview, MailError> {
        self.with(Retry::Safe, (), |b, ()| {
            Box::pin(async move {
                Ok(Overview {
                    folders: b.folders().await?,
                    quota: b.quota().await?,
                })
            })
        })
        .await
    }

    /// Every folder.
    pub async fn folders(&self) -> Result<Vec<Folder>, MailError> {
        self.with(Retry::Safe, (), |b, ()| b.folders()).await
    }

    /// One page of a folder.
    pub async fn list(
        &self,
        folder: &FolderName,
        query: &ListQuery,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage, MailError> {
        let args = (folder.clone(), query.clone(), page, page_size);
        self.with(Retry::Safe, args, |b, (f, q, page, size)| {
            Box::pin(async move { b.page(&f, &q, page, size).await })
        })
        .await
    }

    /// One page of conversations.
    pub async fn threads(
        &self,
        folder: &FolderName,
        page: u32,
        page_size: u32,
        window: u32,
    ) -> Result<ThreadPage, MailError> {
        let args = (folder.clone(), page, page_size, window);
        self.with(Retry::Safe, args, |b, (f, page, size, window)| {
            Box::pin(async move { b.threads(&f, page, size, window).await })
        })
        .await
    }

    /// A message for display (`mark_seen`: opening it marks it read).
    pub async fn message(
        &self,
        folder: &FolderName,
        uid: Uid,
        mark_seen: bool,
    ) -> Result<FetchedMessage, MailError> {
        let args = (folder.clone(), uid, mark_seen);
        self.with(Retry::Safe, args, |b, (f, uid, seen)| {
            Box::pin(async move { b.message(&f, uid, seen).await })
        })
        .await
    }

    /// One decoded part.
    pub async fn part(
        &self,
        folder: &FolderName,
        uid: Uid,
        section: &Section,
    ) -> Result<PartContent, MailError> {
        let args = (folder.clone(), uid, section.clone());
        self.with(Retry::Safe, args, |b, (f, uid, s)| {
            Box::pin(async move { b.part(&f, uid, &s).await })
        })
        .await
    }

    /// The original message.
    pub async fn raw(&self, folder: &FolderName, uid: Uid) -> Result<Vec<u8>, MailError> {
        self.with(Retry::Safe, (folder.clone(), uid), |b, (f, uid)| {
            Box::pin(async move { b.raw(&f, uid).await })
        })
        .await
    }

    /// A draft of the Drafts folder, whole (to resume writing it).
    pub async fn draft(&self, uid: Uid) -> Result<Vec<u8>, MailError> {
        let args = (self.specials.clone(), uid);
        self.with(Retry::Safe, args, |b, (specials, uid)| {
            Box::pin(async move {
                let drafts = specials.get(b, SpecialUse::Drafts).await?;
                b.raw(&drafts, uid).await
            })
        })
        .await
    }

    /// Search across every folder.
    pub async fn search_all(
        &self,
        search: &Search,
        cap: usize,
    ) -> Result<Vec<(FolderName, MessageSummary)>, MailError> {
        self.with(Retry::Safe, (search.clone(), cap), |b, (s, cap)| {
            Box::pin(async move { b.search_all(&s, cap).await })
        })
        .await
    }

    /// A toolbar action on selected messages.
    pub async fn apply(
        &self,
        folder: &FolderName,
        selection: &Selection,
        action: &Action,
    ) -> Result<Applied, MailError> {
        // Flag changes are idempotent and may be retried on a new connection; moves are not.
        let retry = match action {
            Action::MarkRead | Action::MarkUnread | Action::Flag | Action::Unflag => Retry::Safe,
            _ => Retry::Never,
        };
        let args = (
            self.specials.clone(),
            folder.clone(),
            selection.clone(),
            action.clone(),
        );
        self.with(retry, args, |b, (specials, f, sel, act)| {
            Box::pin(async move { backend::apply(b, &specials, &f, &sel, &act).await })
        })
        .await
    }

    /// Empties a folder (Trash, Junk).
    pub async fn empty(&self, folder: &FolderName) -> Result<(), MailError> {
        self.with(Retry::Never, folder.clone(), |b, f| {
            Box::pin(async move { b.remove(&f, &Selection::All, Removal::ForGood).await })
        })
        .await
    }

    /// Files a message just submitted (see [`backend::file_sent`]), in one lease.
    pub async fn file_sent(
        &self,
        message: Arc<Vec<u8>>,
        message_id: &str,
        original: Option<(FolderName, Uid, FlagChange)>,
    ) -> Result<(), MailError> {
        let args = (
            self.specials.clone(),
            message,
            message_id.to_owned(),
            original,
        );
        self.with(Retry::Never, args, |b, (specials, m, id, original)| {
            Box::pin(async move { backend::file_sent(b, &specials, &m, &id, original).await })
        })
        .await
    }

    /// Saves a draft (see [`backend::save_draft`]), in one lease.
    pub async fn save_draft(
        &self,
        message: Arc<Vec<u8>>,
        message_id: &str,
    ) -> Result<(), MailError> {
        let args = (self.specials.clone(), message, message_id.to_owned());
        self.with(Retry::Never, args, |b, (specials, m, id)| {
            Box::pin(async move { backend::save_draft(b, &specials, &m, &id).await })
        })
        .await
    }

    /// Creates a folder under `parent`.
    pub async fn create_folder(
        &self,
        parent: Option<FolderName>,
        leaf: String,
    ) -> Result<Result<FolderName, FolderError>, MailError> {
        self.specials.forget();
        self.with(Retry::Never, (parent, leaf), |b, (p, l)| {
            Box::pin(async move { flatten(b.create_folder(p.as_ref(), &l).await) })
        })
        .await
    }

    /// Renames a folder.
    pub async fn rename_folder(
        &self,
        folder: FolderName,
        leaf: String,
    ) -> Result<Result<FolderName, FolderError>, MailError> {
        self.specials.forget();
        self.with(Retry::Never, (folder, leaf), |b, (f, l)| {
            Box::pin(async move { flatten(b.rename_folder(&f, &l).await) })
        })
        .await
    }

    /// Deletes a folder with everything in it.
    pub async fn delete_folder(
        &self,
        folder: FolderName,
    ) -> Result<Result<FolderName, FolderError>, MailError> {
        self.specials.forget();
        self.with(Retry::Never, folder, |b, f| {
            Box::pin(async move { flatten(b.delete_folder(&f).await.map(|()| f)) })
        })
        .await
    }

    /// Shows or hides a folder in the sidebar.
    pub async fn set_subscribed(
        &self,
        folder: FolderName,
        subscribed: bool,
    ) -> Result<Result<FolderName, FolderError>, MailError> {
        self.with(Retry::Never, (folder, subscribed), |b, (f, on)| {
            Box::pin(async move { flatten(b.set_subscribed(&f, on).await.map(|()| f)) })
        })
        .await
    }
}

/// Folder errors stay inside, to be worded on the folders page; only connection problems come out.
fn flatten<T>(r: Result<T, FolderError>) -> Result<Result<T, FolderError>, MailError> {
    match r {
        Err(FolderError::Mail(m)) if m.poisons_connection() => Err(m),
        other => Ok(other),
    }
}
