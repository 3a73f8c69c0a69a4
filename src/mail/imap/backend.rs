//! IMAP as a [`Backend`]: each primitive in the commands it takes on one connection. The pool
//! leases the connection for a whole operation of `mail::backend`, so that filing a sent message,
//! say, is one lease however many commands it needs.

use async_trait::async_trait;

use super::conn::Conn;
use super::{actions, codec, folders};
use crate::mail::backend::{Backend, Removal};
use crate::mail::parse::PartContent;
use crate::mail::{
    FetchedMessage, FlagChange, Flags, Folder, FolderError, FolderName, ListPage, ListQuery,
    MailError, MessageSummary, Quota, Search, Section, Selection, SpecialUse, ThreadPage, Uid,
};

/// The UID set of a selection, `None` when nothing is selected.
fn uid_set(selection: &Selection) -> Option<String> {
    match selection {
        Selection::All => Some("1:*".into()),
        Selection::Uids(u) if u.is_empty() => None,
        Selection::Uids(u) => Some(codec::uid_set(u)),
    }
}

/// IMAP flag atoms for local flags.
fn atoms(f: Flags) -> String {
    let on: Vec<&str> = [
        (f.seen, "\\Seen"),
        (f.flagged, "\\Flagged"),
        (f.answered, "\\Answered"),
        (f.draft, "\\Draft"),
    ]
    .into_iter()
    .filter_map(|(on, a)| on.then_some(a))
    .collect();
    format!("({})", on.join(" "))
}

#[async_trait]
impl Backend for Conn {
    async fn folders(&mut self) -> Result<Vec<Folder>, MailError> {
        super::list_folders(self).await
    }

    async fn quota(&mut self) -> Result<Option<Quota>, MailError> {
        super::quota(self).await
    }

    async fn find_special(&mut self, role: SpecialUse) -> Result<FolderName, MailError> {
        super::special_folder(self, role).await
    }

    async fn page(
        &mut self,
        folder: &FolderName,
        query: &ListQuery,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage, MailError> {
        super::list_query(self, folder, query, page, page_size).await
    }

    async fn threads(
        &mut self,
        folder: &FolderName,
        page: u32,
        page_size: u32,
        window: u32,
    ) -> Result<ThreadPage, MailError> {
        super::thread_page(self, folder, page, page_size, window).await
    }

    async fn message(
        &mut self,
        folder: &FolderName,
        uid: Uid,
        mark_seen: bool,
    ) -> Result<FetchedMessage, MailError> {
        super::fetch_message(self, folder, uid, mark_seen).await
    }

    async fn part(
        &mut self,
        folder: &FolderName,
        uid: Uid,
        section: &Section,
    ) -> Result<PartContent, MailError> {
        super::fetch_part(self, folder, uid, section).await
    }

    async fn raw(&mut self, folder: &FolderName, uid: Uid) -> Result<Vec<u8>, MailError> {
        super::fetch_raw(self, folder, uid).await
    }

    async fn search_all(
        &mut self,
        search: &Search,
        cap: usize,
    ) -> Result<Vec<(FolderName, MessageSummary)>, MailError> {
        super::search_all(self, search, cap).await
    }

    async fn find_by_message_id(
        &mut self,
        folder: &FolderName,
        message_id: &str,
    ) -> Result<Vec<Uid>, MailError> {
        super::find_by_message_id(self, folder, message_id).await
    }

    async fn set_flag(
        &mut self,
        folder: &FolderName,
        selection: &Selection,
        change: FlagChange,
    ) -> Result<(), MailError> {
        let Some(set) = uid_set(selection) else {
            return Ok(());
        };
        // RFC 3501 system flags, and the RFC 5788 keyword for forwarded messages.
        let (on, flag) = match change {
            FlagChange::Seen(on) => (on, "\\Seen"),
            FlagChange::Flagged(on) => (on, "\\Flagged"),
            FlagChange::Answered => (true, "\\Answered"),
            FlagChange::Forwarded => (true, "$Forwarded"),
        };
        let op = if on { "+" } else { "-" };
        self.select(folder).await?;
        self.command(&format!("UID STORE {set} {op}FLAGS.SILENT ({flag})"))
            .await
    }

    async fn move_to(
        &mut self,
        folder: &FolderName,
        selection: &Selection,
        target: &FolderName,
    ) -> Result<(), MailError> {
        match uid_set(selection) {
            Some(set) => actions::move_set(self, folder, &set, target).await,
            None => Ok(()),
        }
    }

    async fn remove(
        &mut self,
        folder: &FolderName,
        selection: &Selection,
        how: Removal,
    ) -> Result<(), MailError> {
        let Some(set) = uid_set(selection) else {
            return Ok(());
        };
        if *selection == Selection::All && self.select(folder).await?.exists == 0 {
            return Ok(());
        }
        match how {
            Removal::ToTrash(trash) => actions::move_set(self, folder, &set, &trash).await,
            Removal::ForGood => actions::expunge(self, folder, &set, true).await,
            Removal::Replaced => actions::expunge(self, folder, &set, false).await,
        }
    }

    async fn append(
        &mut self,
        folder: &FolderName,
        flags: Flags,
        message: &[u8],
    ) -> Result<(), MailError> {
        Conn::append(self, folder, &atoms(flags), message).await
    }

    async fn create_folder(
        &mut self,
        parent: Option<&FolderName>,
        leaf: &str,
    ) -> Result<FolderName, FolderError> {
        folders::create(self, parent, leaf).await
    }

    async fn rename_folder(
        &mut self,
        folder: &FolderName,
        leaf: &str,
    ) -> Result<FolderName, FolderError> {
        folders::rename(self, folder, leaf).await
    }

    async fn delete_folder(&mut self, folder: &FolderName) -> Result<(), FolderError> {
        folders::delete(self, folder).await
    }

    async fn set_subscribed(
        &mut self,
        folder: &FolderName,
        subscribed: bool,
    ) -> Result<(), FolderError> {
        folders::set_subscribed(self, folder, subscribed).await
    }
}
