//! The local store as a [`Backend`]: the same primitives as IMAP over Courrier's own Maildir.
//! Messages the user deletes here are reported to a [`Deletions`] log, so that a POP3 account can
//! delete their server copies at its next check when its options ask for it.

use async_trait::async_trait;

use super::LocalMailbox;
use crate::mail::backend::{Backend, Removal};
use crate::mail::parse::PartContent;
use crate::mail::{
    FetchedMessage, FlagChange, Flags, Folder, FolderError, FolderName, ListPage, ListQuery,
    MailError, MessageSummary, Quota, Search, Section, Selection, SpecialUse, ThreadPage, Uid,
};

/// Told of messages the user deleted here, by their download tags.
#[async_trait]
pub trait Deletions: Sync {
    async fn deleted_here(&self, tags: &[String]) -> Result<(), MailError>;
}

/// A local mailbox for the length of one operation.
pub struct LocalBackend<'a> {
    pub mailbox: &'a LocalMailbox,
    pub deletions: &'a dyn Deletions,
}

#[async_trait]
impl Backend for LocalBackend<'_> {
    async fn folders(&mut self) -> Result<Vec<Folder>, MailError> {
        Ok(self.mailbox.overview().await?.folders)
    }

    async fn quota(&mut self) -> Result<Option<Quota>, MailError> {
        Ok(None)
    }

    async fn find_special(&mut self, role: SpecialUse) -> Result<FolderName, MailError> {
        self.mailbox.special_folder(role).await
    }

    async fn page(
        &mut self,
        folder: &FolderName,
        query: &ListQuery,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage, MailError> {
        self.mailbox
            .list_query(folder, query, page, page_size)
            .await
    }

    async fn threads(
        &mut self,
        folder: &FolderName,
        page: u32,
        page_size: u32,
        window: u32,
    ) -> Result<ThreadPage, MailError> {
        self.mailbox
            .thread_page(folder, page, page_size, window)
            .await
    }

    async fn message(
        &mut self,
        folder: &FolderName,
        uid: Uid,
        mark_seen: bool,
    ) -> Result<FetchedMessage, MailError> {
        self.mailbox.fetch_message(folder, uid, mark_seen).await
    }

    async fn part(
        &mut self,
        folder: &FolderName,
        uid: Uid,
        section: &Section,
    ) -> Result<PartContent, MailError> {
        self.mailbox.fetch_part(folder, uid, section).await
    }

    async fn raw(&mut self, folder: &FolderName, uid: Uid) -> Result<Vec<u8>, MailError> {
        self.mailbox.fetch_raw(folder, uid).await
    }

    async fn search_all(
        &mut self,
        search: &Search,
        cap: usize,
    ) -> Result<Vec<(FolderName, MessageSummary)>, MailError> {
        self.mailbox.search_all(search, cap).await
    }

    async fn find_by_message_id(
        &mut self,
        folder: &FolderName,
        message_id: &str,
    ) -> Result<Vec<Uid>, MailError> {
        self.mailbox.find_by_message_id(folder, message_id).await
    }

    async fn set_flag(
        &mut self,
        folder: &FolderName,
        selection: &Selection,
        change: FlagChange,
    ) -> Result<(), MailError> {
        self.mailbox.set_flag(folder, selection, change).await
    }

    async fn move_to(
        &mut self,
        folder: &FolderName,
        selection: &Selection,
        target: &FolderName,
    ) -> Result<(), MailError> {
        self.mailbox.move_to(folder, selection, target).await?;
        Ok(())
    }

    async fn remove(
        &mut self,
        folder: &FolderName,
        selection: &Selection,
        how: Removal,
    ) -> Result<(), MailError> {
        let deleted = match how {
            Removal::ToTrash(trash) => self.mailbox.move_to(folder, selection, &trash).await?,
            Removal::ForGood => self.mailbox.remove(folder, selection).await?,
            Removal::Replaced => {
                // A draft written here: it never was on the server.
                self.mailbox.remove(folder, selection).await?;
                return Ok(());
            }
        };
        self.deletions.deleted_here(&deleted).await
    }

    async fn append(
        &mut self,
        folder: &FolderName,
        flags: Flags,
        message: &[u8],
    ) -> Result<(), MailError> {
        self.mailbox.append(folder, flags, message).await
    }

    async fn create_folder(
        &mut self,
        parent: Option<&FolderName>,
        leaf: &str,
    ) -> Result<FolderName, FolderError> {
        self.mailbox.store.create_folder(parent, leaf).await
    }

    async fn rename_folder(
        &mut self,
        folder: &FolderName,
        leaf: &str,
    ) -> Result<FolderName, FolderError> {
        self.mailbox.store.rename_folder(folder, leaf).await
    }

    async fn delete_folder(&mut self, folder: &FolderName) -> Result<(), FolderError> {
        self.mailbox.store.delete_folder(folder).await
    }

    async fn set_subscribed(
        &mut self,
        folder: &FolderName,
        subscribed: bool,
    ) -> Result<(), FolderError> {
        self.mailbox.store.set_subscribed(folder, subscribed).await
    }
}
