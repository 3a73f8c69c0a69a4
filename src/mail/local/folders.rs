//! The folders of a local store: listed from the Maildir++ directories, with counts read from file
//! names only (a message in `new/`, or in `cur/` without `S`, is unread); created, renamed, deleted;
//! unsubscribed ones remembered in `courrier-unsubscribed`.

use std::collections::BTreeSet;

use super::LocalStore;
use crate::mail::imap::codec;
use crate::mail::{Folder, FolderError, FolderName, SpecialUse};

/// The hierarchy separator of local folder names (Maildir++ stores it as `.` on disk, so a `.` cannot
/// be part of a local folder's name).
pub const DELIMITER: char = '/';

/// The folders every local account has, created on first use.
const STANDARD: [(&str, SpecialUse); 4] = [
    ("Drafts", SpecialUse::Drafts),
    ("Sent", SpecialUse::Sent),
    ("Junk", SpecialUse::Junk),
    ("Trash", SpecialUse::Trash),
];

/// The special use of a local folder, by its name.
pub fn special_of(name: &FolderName) -> Option<SpecialUse> {
    if name.is_inbox() {
        return Some(SpecialUse::Inbox);
    }
    match name.as_str() {
        "Drafts" => Some(SpecialUse::Drafts),
        "Sent" => Some(SpecialUse::Sent),
        "Junk" => Some(SpecialUse::Junk),
        "Trash" => Some(SpecialUse::Trash),
        "Archive" => Some(SpecialUse::Archive),
        _ => None,
    }
}

/// The local folder for a special use.
pub fn special_name(role: SpecialUse) -> FolderName {
    let name = match role {
        SpecialUse::Inbox => return FolderName::inbox(),
        SpecialUse::Drafts => "Drafts",
        SpecialUse::Sent => "Sent",
        SpecialUse::Junk => "Junk",
        SpecialUse::Trash => "Trash",
        SpecialUse::Archive => "Archive",
    };
    FolderName::fixed(name)
}

/// The folder a Maildir++ directory name (`.Archives.2025`) stands for.
fn name_of_dir(dir: &str) -> Option<FolderName> {
    let inner = dir.strip_prefix('.')?;
    if inner.is_empty() || inner.starts_with('.') {
        return None;
    }
    let decoded: Vec<String> = inner.split('.').map(codec::decode_mutf7).collect();
    FolderName::new(&decoded.join(&DELIMITER.to_string()))
}

fn valid_leaf(leaf: &str) -> Result<String, FolderError> {
    let leaf = leaf.trim();
    if leaf.is_empty()
        || leaf.chars().any(|c| c.is_control())
        || leaf.contains(DELIMITER)
        || leaf.contains('.')
        || leaf.chars().count() > 200
        || leaf.eq_ignore_ascii_case("inbox")
    {
        return Err(FolderError::InvalidName);
    }
    Ok(leaf.to_owned())
}

impl LocalStore {
    fn unsubscribed_path(&self) -> std::path::PathBuf {
        self.root.join("courrier-unsubscribed")
    }

    async fn unsubscribed(&self) -> BTreeSet<String> {
        tokio::fs::read_to_string(self.unsubscribed_path())
            .await
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    async fn save_unsubscribed(&self, set: &BTreeSet<String>) -> std::io::Result<()> {
        let body: String = set.iter().map(|n| format!("{n}\n")).collect();
        let path = self.unsubscribed_path();
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, body).await?;
        tokio::fs::rename(&tmp, &path).await
    }

    /// Every folder, with its counts, in the sidebar's order. The standard folders are created the
    /// first time.
    pub async fn folders(&self) -> std::io::Result<Vec<Folder>> {
        let mut folders = self.folder_list().await?;
        for f in &mut folders {
            let (messages, unseen) = self.counts(&f.name).await?;
            f.messages = Some(messages);
            f.unseen = Some(unseen);
        }
        Ok(folders)
    }

    /// Every folder, without counts, in the sidebar's order.
    pub async fn folder_list(&self) -> std::io::Result<Vec<Folder>> {
        self.ensure_folder(&FolderName::inbox()).await?;
        for (name, _) in STANDARD {
            let f = FolderName::fixed(name);
            if !self.folder_dir(&f).join("cur").is_dir() {
                self.ensure_folder(&f).await?;
            }
        }
        let mut names = vec![FolderName::inbox()];
        let mut rd = tokio::fs::read_dir(&self.root).await?;
        while let Some(e) = rd.next_entry().await? {
            let dir = e.file_name().to_string_lossy().into_owned();
            if let Some(name) = name_of_dir(&dir)
                && e.path().join("cur").is_dir()
            {
                names.push(name);
            }
        }
        let unsubscribed = self.unsubscribed().await;
        let mut folders = Vec::with_capacity(names.len());
        for name in names {
            let depth = name.as_str().matches(DELIMITER).count();
            folders.push(Folder {
                leaf: name
                    .as_str()
                    .rsplit(DELIMITER)
                    .next()
                    .unwrap_or("")
                    .to_owned(),
                depth,
                special: special_of(&name),
                selectable: true,
                subscribed: name.is_inbox() || !unsubscribed.contains(name.as_str()),
                delimiter: Some(DELIMITER),
                messages: None,
                unseen: None,
                name,
            });
        }
        crate::mail::imap::sort_folders(&mut folders);
        Ok(folders)
    }

    /// Messages and unread messages of a folder, from the file names alone.
    pub async fn counts(&self, folder: &FolderName) -> std::io::Result<(u32, u32)> {
        let dir = self.folder_dir(folder);
        tokio::task::spawn_blocking(move || {
            let (mut messages, mut unseen) = (0, 0);
            for sub in ["new", "cur"] {
                let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
                    continue;
                };
                for e in rd {
                    let name = e?.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with('.') {
                        continue;
                    }
                    messages += 1;
                    let seen = name
                        .split_once(":2,")
                        .is_some_and(|(_, info)| info.contains('S'));
                    if !seen {
                        unseen += 1;
                    }
                }
            }
            Ok((messages, unseen))
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// True when the folder exists. A name with a `.` or an empty level is never a local folder:
    /// it would not map back to itself on disk (or would point outside the store).
    pub fn has_folder(&self, folder: &FolderName) -> bool {
        if folder.is_inbox() {
            return true;
        }
        let name = folder.as_str();
        if name.contains('.') || name.split(DELIMITER).any(|l| l.trim().is_empty()) {
            return false;
        }
        self.folder_dir(folder).join("cur").is_dir()
    }

    /// Creates `leaf` under `parent` (top level when `None`).
    pub async fn create_folder(
        &self,
        parent: Option<&FolderName>,
        leaf: &str,
    ) -> Result<FolderName, FolderError> {
        let leaf = valid_leaf(leaf)?;
        let name = match parent {
            Some(p) if p.is_inbox() => return Err(FolderError::InvalidName),
            Some(p) => {
                if !self.has_folder(p) {
                    return Err(FolderError::NotFound);
                }
                FolderName::new(&format!("{p}{DELIMITER}{leaf}"))
            }
            None => FolderName::new(&leaf),
        }
        .ok_or(FolderError::InvalidName)?;
        if self.has_folder(&name) {
            return Err(FolderError::Exists);
        }
        self.ensure_folder(&name).await.map_err(io)?;
        Ok(name)
    }

    /// Renames a folder in place; its subfolders follow.
    pub async fn rename_folder(
        &self,
        folder: &FolderName,
        new_leaf: &str,
    ) -> Result<FolderName, FolderError> {
        if special_of(folder).is_some() {
            return Err(FolderError::Protected);
        }
        if !self.has_folder(folder) {
            return Err(FolderError::NotFound);
        }
        let leaf = valid_leaf(new_leaf)?;
        let name = match folder.as_str().rsplit_once(DELIMITER) {
            Some((parent, _)) => FolderName::new(&format!("{parent}{DELIMITER}{leaf}")),
            None => FolderName::new(&leaf),
        }
        .ok_or(FolderError::InvalidName)?;
        if &name == folder {
            return Ok(name);
        }
        if self.has_folder(&name) || special_of(&name).is_some() {
            return Err(FolderError::Exists);
        }
        let old_dir = dir_name(&self.folder_dir(folder));
        let new_dir = dir_name(&self.folder_dir(&name));
        let mut rd = tokio::fs::read_dir(&self.root).await.map_err(io)?;
        let mut moves = Vec::new();
        while let Some(e) = rd.next_entry().await.map_err(io)? {
            let d = e.file_name().to_string_lossy().into_owned();
            if d == old_dir {
                moves.push((d, new_dir.clone()));
            } else if let Some(rest) = d.strip_prefix(&format!("{old_dir}.")) {
                moves.push((d.clone(), format!("{new_dir}.{rest}")));
            }
        }
        for (from, to) in moves {
            tokio::fs::rename(self.root.join(from), self.root.join(to))
                .await
                .map_err(io)?;
        }
        Ok(name)
    }

    /// Deletes a folder with its messages and subfolders.
    pub async fn delete_folder(&self, folder: &FolderName) -> Result<(), FolderError> {
        if special_of(folder).is_some() {
            return Err(FolderError::Protected);
        }
        if !self.has_folder(folder) {
            return Err(FolderError::NotFound);
        }
        let dir = dir_name(&self.folder_dir(folder));
        let mut rd = tokio::fs::read_dir(&self.root).await.map_err(io)?;
        let mut doomed = Vec::new();
        while let Some(e) = rd.next_entry().await.map_err(io)? {
            let d = e.file_name().to_string_lossy().into_owned();
            if d == dir || d.starts_with(&format!("{dir}.")) {
                doomed.push(e.path());
            }
        }
        for path in doomed {
            tokio::fs::remove_dir_all(path).await.map_err(io)?;
        }
        Ok(())
    }

    /// Shows or hides a folder in the sidebar.
    pub async fn set_subscribed(
        &self,
        folder: &FolderName,
        subscribed: bool,
    ) -> Result<(), FolderError> {
        let mut set = self.unsubscribed().await;
        if subscribed {
            set.remove(folder.as_str());
        } else {
            set.insert(folder.as_str().to_owned());
        }
        self.save_unsubscribed(&set).await.map_err(io)
    }
}

fn dir_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn io(e: std::io::Error) -> FolderError {
    FolderError::Mail(crate::mail::MailError::Refused(format!("local store: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn standard_folders_nesting_rename_and_delete() {
        let root = std::env::temp_dir().join(format!("courrier-folders-{}", rand::random::<u64>()));
        let store = LocalStore::new(&root);
        let names = |fs: Vec<Folder>| {
            fs.into_iter()
                .map(|f| f.name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(store.folders().await.unwrap()),
            vec!["INBOX", "Drafts", "Sent", "Junk", "Trash"]
        );
        let projets = store.create_folder(None, "Projets été").await.unwrap();
        let sub = store.create_folder(Some(&projets), "2026").await.unwrap();
        assert_eq!(sub.as_str(), "Projets été/2026");
        assert!(matches!(
            store.create_folder(None, "a.b").await,
            Err(FolderError::InvalidName)
        ));
        for outside in [".", "..", "/", "Projets été/.."] {
            assert!(
                !store.has_folder(&FolderName::new(outside).unwrap()),
                "{outside}"
            );
        }
        assert!(matches!(
            store.create_folder(None, "Projets été").await,
            Err(FolderError::Exists)
        ));
        store
            .deliver(&sub, "t", b"Subject: x\r\n\r\ny")
            .await
            .unwrap();
        let renamed = store.rename_folder(&projets, "Travaux").await.unwrap();
        let all = store.folders().await.unwrap();
        let child = all
            .iter()
            .find(|f| f.name.as_str() == "Travaux/2026")
            .unwrap();
        assert_eq!(
            (child.messages, child.unseen, child.depth),
            (Some(1), Some(1), 1)
        );
        store.set_subscribed(&renamed, false).await.unwrap();
        let hidden = store.folders().await.unwrap();
        assert!(
            !hidden
                .iter()
                .find(|f| f.name == renamed)
                .unwrap()
                .subscribed
        );
        assert!(matches!(
            store
                .delete_folder(&FolderName::new("Trash").unwrap())
                .await,
            Err(FolderError::Protected)
        ));
        store.delete_folder(&renamed).await.unwrap();
        assert_eq!(
            names(store.folders().await.unwrap()),
            vec!["INBOX", "Drafts", "Sent", "Junk", "Trash"]
        );
        let _ = std::fs::remove_dir_all(root);
    }
}
