//! Changing a local store as the toolbar and the composer change an IMAP account: flags, moves and
//! removal for good (both return the messages' download tags, which a POP3 account may need to
//! delete their server copies), and storing a message written here.

use super::mailbox::{LocalMailbox, io};
use super::{LocalMessage, tag_of};
use crate::mail::{FlagChange, Flags, FolderName, MailError, Selection, Uid};

/// The download tags of messages (see `LocalStore::deliver`).
fn tags(msgs: &[LocalMessage]) -> Vec<String> {
    msgs.iter().filter_map(|m| tag_of(&m.path)).collect()
}

impl LocalMailbox {
    async fn selected(
        &self,
        folder: &FolderName,
        selection: &Selection,
    ) -> Result<Vec<LocalMessage>, MailError> {
        let msgs = self.messages(folder).await?;
        Ok(match selection {
            Selection::All => msgs.to_vec(),
            Selection::Uids(u) => msgs
                .iter()
                .filter(|m| u.contains(&m.uid))
                .cloned()
                .collect(),
        })
    }

    /// Sets or clears a flag on the selected messages (`$Forwarded` has no place in a Maildir file
    /// name and is not kept).
    pub async fn set_flag(
        &self,
        folder: &FolderName,
        selection: &Selection,
        change: FlagChange,
    ) -> Result<(), MailError> {
        for m in self.selected(folder, selection).await? {
            let mut n = m.flags;
            match change {
                FlagChange::Seen(on) => n.seen = on,
                FlagChange::Flagged(on) => n.flagged = on,
                FlagChange::Answered => n.answered = true,
                FlagChange::Forwarded => {}
            }
            if n != m.flags {
                self.set_flags(folder, &m, n).await?;
            }
        }
        Ok(())
    }

    /// Moves the selected messages into `target`; returns their download tags (see
    /// `LocalStore::deliver`).
    pub async fn move_to(
        &self,
        folder: &FolderName,
        selection: &Selection,
        target: &FolderName,
    ) -> Result<Vec<String>, MailError> {
        if !self.store.has_folder(target) {
            return Err(MailError::FolderNotFound);
        }
        let msgs = self.selected(folder, selection).await?;
        for m in &msgs {
            self.store.move_to(m, target).await.map_err(io)?;
        }
        Ok(tags(&msgs))
    }

    /// Removes the selected messages for good; returns their download tags.
    pub async fn remove(
        &self,
        folder: &FolderName,
        selection: &Selection,
    ) -> Result<Vec<String>, MailError> {
        let msgs = self.selected(folder, selection).await?;
        for m in &msgs {
            self.store.remove(m).await.map_err(io)?;
        }
        Ok(tags(&msgs))
    }

    /// Stores a message written here (a draft, a sent message) with its flags.
    pub async fn append(
        &self,
        folder: &FolderName,
        flags: Flags,
        message: &[u8],
    ) -> Result<(), MailError> {
        let name = self
            .store
            .deliver(folder, "local", message)
            .await
            .map_err(io)?;
        let path = self.store.folder_dir(folder).join("new").join(name);
        let m = LocalMessage {
            uid: Uid(0),
            path,
            flags: Flags::default(),
        };
        self.store.set_flags(&m, flags).await.map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::mail::SpecialUse;
    use crate::mail::local::mailbox::tests::{mailbox, msg};

    /// Remembers what the user deleted, as a POP3 account does.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl crate::mail::local::backend::Deletions for Recorded {
        async fn deleted_here(&self, tags: &[String]) -> Result<(), MailError> {
            self.0.lock().unwrap().extend_from_slice(tags);
            Ok(())
        }
    }

    #[tokio::test]
    async fn deletes_report_download_tags_and_drafts_are_found_by_message_id() {
        use crate::mail::backend::{self, Backend, Removal, SpecialFolders};
        use crate::mail::local::backend::LocalBackend;
        use crate::mail::{Action, Applied};
        let (mb, root) = mailbox(3).await;
        let deleted = Recorded::default();
        let specials = SpecialFolders::default();
        let mut b = LocalBackend {
            mailbox: &mb,
            deletions: &deleted,
        };
        let inbox = FolderName::inbox();
        let sel = Selection::Uids(vec![Uid(2)]);
        let applied = backend::apply(
            &mut b,
            &specials,
            &inbox,
            &sel,
            &Action::Delete { confirmed: false },
        )
        .await
        .unwrap();
        let trash = FolderName::new("Trash").unwrap();
        assert_eq!(applied, Applied::Moved(trash.clone()));
        assert_eq!(
            *deleted.0.lock().unwrap(),
            vec!["2"],
            "the download tag of the deleted message"
        );
        let again = backend::apply(
            &mut b,
            &specials,
            &trash,
            &Selection::All,
            &Action::Delete { confirmed: false },
        )
        .await
        .unwrap();
        assert_eq!(
            again,
            Applied::NeedsConfirmation,
            "deleting from Trash asks first"
        );
        b.remove(&trash, &Selection::All, Removal::ForGood)
            .await
            .unwrap();
        assert_eq!(*deleted.0.lock().unwrap(), vec!["2", "2"]);
        assert_eq!(mb.folder_status(&trash).await.unwrap().0, 0);

        let read = backend::apply(
            &mut b,
            &specials,
            &inbox,
            &Selection::All,
            &Action::MarkRead,
        )
        .await
        .unwrap();
        assert_eq!(read, Applied::Done);
        assert_eq!(mb.folder_status(&inbox).await.unwrap().1, 0, "all read");

        let drafts = mb.special_folder(SpecialUse::Drafts).await.unwrap();
        let draft_flags = Flags {
            seen: true,
            draft: true,
            ..Flags::default()
        };
        for text in ["v1", "v2"] {
            backend::save_draft(
                &mut b,
                &specials,
                &msg(9, "Brouillon", text),
                "<m9@example.org>",
            )
            .await
            .unwrap();
        }
        let versions = mb
            .find_by_message_id(&drafts, "<m9@example.org>")
            .await
            .unwrap();
        assert_eq!(versions.len(), 1, "a new version replaces the old one");
        let left = mb.fetch_raw(&drafts, versions[0]).await.unwrap();
        assert!(
            String::from_utf8_lossy(&left).contains("v2"),
            "the newer version stays"
        );
        let fetched = mb.fetch_message(&drafts, versions[0], false).await.unwrap();
        assert_eq!(fetched.flags, draft_flags);
        assert_eq!(
            deleted.0.lock().unwrap().len(),
            2,
            "replacing a draft deletes nothing on the server"
        );
        let _ = std::fs::remove_dir_all(root);
    }
}
