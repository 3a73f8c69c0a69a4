//! Reading one message of a local store: for display (opening it marks it read, as in any client),
//! one decoded part, or the original.

use std::io::Read;

use super::mailbox::{LocalMailbox, io};
use crate::mail::parse::{self, PartContent};
use crate::mail::{FetchedMessage, FolderName, MAX_DISPLAY_BYTES, MailError, Section, Uid};

impl LocalMailbox {
    /// A message for display; opening it marks it read, as in any client.
    pub async fn fetch_message(
        &self,
        folder: &FolderName,
        uid: Uid,
        mark_seen: bool,
    ) -> Result<FetchedMessage, MailError> {
        let m = self.message(folder, uid).await?;
        let path = m.path.clone();
        let (raw, size) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let f = std::fs::File::open(&path)?;
            let size = f.metadata()?.len();
            let mut raw = Vec::new();
            f.take(MAX_DISPLAY_BYTES as u64).read_to_end(&mut raw)?;
            Ok((raw, size))
        })
        .await
        .map_err(|e| MailError::Refused(e.to_string()))?
        .map_err(io)?;
        let mut flags = m.flags;
        if mark_seen && !flags.seen {
            flags.seen = true;
            self.set_flags(folder, &m, flags).await?;
        }
        Ok(FetchedMessage {
            uid,
            flags,
            size: size.min(u32::MAX as u64) as u32,
            raw,
        })
    }

    /// One decoded part of a message.
    pub async fn fetch_part(
        &self,
        folder: &FolderName,
        uid: Uid,
        section: &Section,
    ) -> Result<PartContent, MailError> {
        let raw = self.fetch_raw(folder, uid).await?;
        let section = section.clone();
        tokio::task::spawn_blocking(move || parse::part_of(&raw, &section))
            .await
            .map_err(|e| MailError::Refused(e.to_string()))?
            .ok_or(MailError::PartNotFound)
    }

    /// The whole original message.
    pub async fn fetch_raw(&self, folder: &FolderName, uid: Uid) -> Result<Vec<u8>, MailError> {
        let m = self.message(folder, uid).await?;
        tokio::fs::read(&m.path).await.map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::local::LocalStore;

    #[tokio::test]
    async fn a_part_is_cut_from_the_stored_message() {
        let root = std::env::temp_dir().join(format!("courrier-query-{}", rand::random::<u64>()));
        let mb = LocalMailbox::new(LocalStore::new(&root));
        let raw = b"Subject: pj\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\ntexte\r\n--b\r\nContent-Type: application/pdf; name=\"r\xc3\xa9sum\xc3\xa9.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
        mb.store
            .deliver(&FolderName::inbox(), "1", raw)
            .await
            .unwrap();
        let part = mb
            .fetch_part(&FolderName::inbox(), Uid(1), &Section::parse("2").unwrap())
            .await
            .unwrap();
        assert_eq!(part.content_type, "application/pdf");
        assert_eq!(part.filename.as_deref(), Some("résumé.pdf"));
        assert_eq!(part.bytes, b"%PDF-1.4\n");
        assert!(matches!(
            mb.fetch_part(&FolderName::inbox(), Uid(1), &Section::parse("3").unwrap())
                .await,
            Err(MailError::PartNotFound)
        ));
        let _ = std::fs::remove_dir_all(root);
    }
}
