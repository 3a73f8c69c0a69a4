//! Downloading a POP3 maildrop into the local store, exactly once.
//!
//! Every message is known by its UIDL. A message is downloaded only if its UIDL is not in the
//! account's ledger; it is stored durably (see `mail::local`) before anything else, and only then
//! marked for deletion on the server, if the options say so. The server deletes marked messages only
//! when the session ends with QUIT (RFC 1939 section 6), so a connection cut anywhere before that
//! deletes nothing. The store's file names carry each message's UIDL, so a ledger that was not saved
//! in time is rebuilt from them: nothing is downloaded twice.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::client::Pop3;
use crate::mail::local::LocalStore;
use crate::mail::{FolderName, MailError};

/// What the user chose for this account (the defaults are those of desktop clients).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncOptions {
    /// Keep a copy on the server after downloading.
    pub keep_copy: bool,
    /// With `keep_copy`, delete the server copy this many days after downloading.
    pub delete_after_days: Option<u32>,
    /// The current time (seconds since the epoch): given, so tests control it.
    pub now: i64,
}

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub downloaded: usize,
    pub deleted_on_server: usize,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Entry {
    /// When it was downloaded (seconds since the epoch).
    downloaded: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Ledger {
    #[serde(default)]
    messages: BTreeMap<String, Entry>,
}

/// The file-name tag of a UIDL: its bytes in hex, so that distinct UIDLs never share a tag.
fn tag(uidl: &str) -> String {
    hex::encode(uidl.as_bytes())
}

async fn load(path: &Path) -> Result<Ledger, MailError> {
    match tokio::fs::read_to_string(path).await {
        Ok(t) => {
            toml::from_str(&t).map_err(|e| MailError::Refused(format!("ledger unreadable: {e}")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger::default()),
        Err(e) => Err(MailError::Refused(format!("ledger: {e}"))),
    }
}

async fn save(path: &Path, ledger: &Ledger) -> Result<(), MailError> {
    let io = |e: std::io::Error| MailError::Refused(format!("ledger: {e}"));
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let text = toml::to_string(ledger).map_err(|e| MailError::Refused(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    let mut f = tokio::fs::File::create(&tmp).await.map_err(io)?;
    tokio::io::AsyncWriteExt::write_all(&mut f, text.as_bytes())
        .await
        .map_err(io)?;
    f.sync_all().await.map_err(io)?;
    drop(f);
    tokio::fs::rename(&tmp, path).await.map_err(io)
}

/// Downloads what is new, applies the deletion options, and ends the session (QUIT).
pub async fn sync(
    pop: Pop3,
    store: &LocalStore,
    ledger_path: &Path,
    opts: SyncOptions,
) -> Result<SyncReport, MailError> {
    sync_with(pop, store, ledger_path, opts, &HashSet::new()).await
}

/// [`sync`], also deleting from the server the messages whose UIDLs are in `doomed` (deleted here by
/// the user, with "delete from the server when deleted here").
pub async fn sync_with(
    mut pop: Pop3,
    store: &LocalStore,
    ledger_path: &Path,
    opts: SyncOptions,
    doomed: &HashSet<String>,
) -> Result<SyncReport, MailError> {
    let inbox = FolderName::inbox();
    let mut ledger = load(ledger_path).await?;
    // Messages stored by a run that ended before its ledger was saved.
    let stored: HashSet<String> = store
        .stored_tags(&inbox)
        .await
        .map_err(|e| MailError::Refused(format!("store: {e}")))?
        .into_iter()
        .collect();
    let listing = pop.uidl().await?;
    for (_, uidl) in &listing {
        if !ledger.messages.contains_key(uidl) && stored.contains(&tag(uidl)) {
            ledger.messages.insert(
                uidl.clone(),
                Entry {
                    downloaded: opts.now,
                },
            );
        }
    }
    let mut report = SyncReport::default();
    let mut unsaved = 0;
    for (n, uidl) in &listing {
        if let Some(entry) = ledger.messages.get(uidl) {
            if doomed.contains(uidl) {
                pop.dele(*n).await?;
                report.deleted_on_server += 1;
                continue;
            }
            let expired = opts.keep_copy
                && opts
                    .delete_after_days
                    .is_some_and(|d| opts.now - entry.downloaded >= i64::from(d) * 86_400);
            if !opts.keep_copy || expired {
                pop.dele(*n).await?;
                report.deleted_on_server += 1;
            }
            continue;
        }
        let message = pop.retr(*n).await?;
        store
            .deliver(&inbox, &tag(uidl), &message)
            .await
            .map_err(|e| MailError::Refused(format!("store: {e}")))?;
        ledger.messages.insert(
            uidl.clone(),
            Entry {
                downloaded: opts.now,
            },
        );
        report.downloaded += 1;
        unsaved += 1;
        if unsaved >= 50 {
            save(ledger_path, &ledger).await?;
            unsaved = 0;
        }
        if !opts.keep_copy {
            // Only marked: the server deletes it at QUIT, after the copy is on disk.
            pop.dele(*n).await?;
            report.deleted_on_server += 1;
        }
    }
    // Forget messages no longer on the server, so the ledger does not grow for ever.
    let present: HashSet<&String> = listing.iter().map(|(_, u)| u).collect();
    ledger.messages.retain(|u, _| present.contains(u));
    save(ledger_path, &ledger).await?;
    pop.quit().await?;
    Ok(report)
}
