//! The words the rest of Courrier speaks about mail, whichever backend holds it: folders, UIDs,
//! flags, message summaries and pages, what a toolbar action comes to, and what went wrong.

use std::fmt;

use super::address;

/// What went wrong talking to a mail server, classified so that the web layer can pick a page.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The server refused the address or password.
    #[error("authentication failed")]
    AuthFailed,
    /// No connection could be made (refused, unreachable, DNS, timeout while connecting).
    #[error("mail server unreachable: {0}")]
    Unreachable(String),
    /// The TLS handshake failed (certificate not trusted, wrong name, protocol mismatch).
    #[error("TLS failure: {0}")]
    Tls(String),
    /// An established connection broke (EOF, BYE, I/O error, unparsable response).
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// The server did not answer in time.
    #[error("mail server timed out")]
    Timeout,
    /// The folder does not exist or cannot be selected.
    #[error("no such folder")]
    FolderNotFound,
    /// No message with that UID in the folder.
    #[error("no such message")]
    MessageNotFound,
    /// No such part in the message.
    #[error("no such message part")]
    PartNotFound,
    /// The server answered NO or BAD to a command we expected to succeed.
    #[error("server refused: {0}")]
    Refused(String),
    /// Too many connections are open already (per user or in total).
    #[error("too many connections to the mail server")]
    Busy,
    /// The POP3 maildrop is locked by another session (RFC 2449 `[IN-USE]`).
    #[error("the mailbox is in use by another program")]
    InUse,
}

impl MailError {
    /// True when the connection that produced this error must not be used again.
    pub fn poisons_connection(&self) -> bool {
        matches!(
            self,
            MailError::ConnectionLost(_) | MailError::Timeout | MailError::Unreachable(_)
        )
    }
}

/// Why a folder operation was not done.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("empty or invalid folder name")]
    InvalidName,
    #[error("a folder with that name exists already")]
    Exists,
    #[error("special folders cannot be renamed or deleted")]
    Protected,
    #[error("no such folder")]
    NotFound,
    #[error(transparent)]
    Mail(#[from] MailError),
}

/// Which messages of the folder an action applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    Uids(Vec<Uid>),
    /// Every message of the folder.
    All,
}

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    MarkRead,
    MarkUnread,
    Flag,
    Unflag,
    MoveTo(FolderName),
    /// To Trash; in Trash itself, for good, but only once `confirmed`.
    Delete {
        confirmed: bool,
    },
    Archive,
    Spam,
    NotSpam,
}

/// A flag a toolbar action sets or clears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagChange {
    Seen(bool),
    Flagged(bool),
    /// Set once a reply is sent (`\Answered`).
    Answered,
    /// Set once the message is forwarded (`$Forwarded`, RFC 5788).
    Forwarded,
}

/// What an action comes to in a folder, once its target is known: the rule of the toolbar, written
/// once for every backend (IMAP and the local store each carry out the steps in their own way).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    SetFlag(FlagChange),
    /// Remove for good: a confirmed delete inside Trash.
    Expunge,
    /// A delete inside Trash, not yet confirmed.
    Confirm,
    /// Move to this folder.
    Move(FolderName),
    /// Nothing to do: the target is the folder itself.
    Stay,
}

impl Action {
    /// The special folder whose name [`Action::step`] needs, if any: backends look it up (IMAP)
    /// or create it (the local store) first, so that the rule itself stays free of I/O.
    pub fn needs(&self) -> Option<SpecialUse> {
        match self {
            Action::Archive => Some(SpecialUse::Archive),
            Action::Spam => Some(SpecialUse::Junk),
            Action::Delete { .. } => Some(SpecialUse::Trash),
            _ => None,
        }
    }

    /// The step this action takes in `folder`, given the folder of [`Action::needs`] (without it,
    /// nothing moves).
    pub fn step(&self, folder: &FolderName, special: Option<FolderName>) -> Step {
        let target = match (self, special) {
            (Action::MarkRead, _) => return Step::SetFlag(FlagChange::Seen(true)),
            (Action::MarkUnread, _) => return Step::SetFlag(FlagChange::Seen(false)),
            (Action::Flag, _) => return Step::SetFlag(FlagChange::Flagged(true)),
            (Action::Unflag, _) => return Step::SetFlag(FlagChange::Flagged(false)),
            (Action::MoveTo(t), _) => t.clone(),
            (Action::NotSpam, _) => FolderName::inbox(),
            (Action::Delete { confirmed }, Some(trash)) if &trash == folder => {
                return if *confirmed {
                    Step::Expunge
                } else {
                    Step::Confirm
                };
            }
            (Action::Archive | Action::Spam | Action::Delete { .. }, Some(f)) => f,
            (Action::Archive | Action::Spam | Action::Delete { .. }, None) => return Step::Stay,
        };
        if &target == folder {
            Step::Stay
        } else {
            Step::Move(target)
        }
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// Deleting from Trash is permanent: the user must confirm first.
    NeedsConfirmation,
    /// Moved into this folder.
    Moved(FolderName),
    /// Nothing was selected.
    NothingSelected,
}

/// A folder as the user sees it: its full UTF-8 path, e.g. `Archives/2025` or `Été`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FolderName(String);

impl FolderName {
    /// The inbox, whose name IMAP treats case-insensitively.
    pub fn inbox() -> Self {
        FolderName("INBOX".into())
    }

    /// Builds a folder name from a URL path segment or a server's list. A server may hold names with
    /// characters no one would type (Dovecot accepts C1 controls and direction marks), and they must
    /// stay reachable: on the wire every name is modified UTF-7, where such characters are encoded,
    /// so only NUL, which no server accepts, is refused. New names are checked more strictly where
    /// folders are created; shown names go through `display::clean`.
    pub fn new(name: &str) -> Option<Self> {
        if name.is_empty() || name.contains('\0') {
            return None;
        }
        if name.eq_ignore_ascii_case("INBOX") {
            return Some(Self::inbox());
        }
        Some(FolderName(name.to_owned()))
    }

    /// A name written in Courrier's own code (`Drafts`, `Sent`...), valid by construction.
    pub(crate) fn fixed(name: &'static str) -> Self {
        Self::new(name).unwrap_or_else(Self::inbox)
    }

    /// The name as the user sees it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for the inbox.
    pub fn is_inbox(&self) -> bool {
        self.0 == "INBOX"
    }
}

impl fmt::Display for FolderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IMAP UID: stable identifier of a message within one folder (for one UIDVALIDITY).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(pub u32);

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A MIME part path inside a message, as IMAP numbers it: `1`, `2.1`, `3.2.1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Section(Vec<u32>);

impl Section {
    /// Deepest part number accepted (and given to a part).
    pub const MAX_DEPTH: usize = 32;
}

impl Section {
    /// Parses `2.1`-style paths; every number is at least 1.
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Option<Vec<u32>> = s
            .split('.')
            .map(|p| p.parse::<u32>().ok().filter(|n| *n > 0))
            .collect();
        parts
            .filter(|p| !p.is_empty() && p.len() <= Section::MAX_DEPTH)
            .map(Section)
    }

    /// Builds a section from its numbers.
    pub fn from_parts(parts: Vec<u32>) -> Self {
        Section(parts)
    }

    /// The numbers of the path.
    pub fn parts(&self) -> &[u32] {
        &self.0
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<String> = self.0.iter().map(|n| n.to_string()).collect();
        f.write_str(&s.join("."))
    }
}

/// The role of a special folder (RFC 6154), used to sort and name them in the user's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecialUse {
    Inbox,
    Drafts,
    Sent,
    Archive,
    Junk,
    Trash,
}

/// One folder of the account, with the counts shown in the sidebar.
#[derive(Clone, Debug)]
pub struct Folder {
    pub name: FolderName,
    /// The last component of the path, shown indented under its parent.
    pub leaf: String,
    /// Nesting depth: 0 for top-level folders.
    pub depth: usize,
    pub special: Option<SpecialUse>,
    /// False for `\Noselect` containers, which only hold other folders.
    pub selectable: bool,
    /// Subscribed folders are the ones shown in the sidebar.
    pub subscribed: bool,
    /// The server's hierarchy separator (`/` or `.`), if it has hierarchy.
    pub delimiter: Option<char>,
    pub messages: Option<u32>,
    pub unseen: Option<u32>,
}

/// The system flags Courrier shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub seen: bool,
    pub flagged: bool,
    pub answered: bool,
    pub draft: bool,
}

impl Flags {
    /// Reads IMAP flag atoms such as `\Seen`.
    pub fn from_atoms<'a>(atoms: impl IntoIterator<Item = &'a str>) -> Self {
        let mut f = Flags::default();
        for a in atoms {
            match a.to_ascii_lowercase().as_str() {
                "\\seen" => f.seen = true,
                "\\flagged" => f.flagged = true,
                "\\answered" => f.answered = true,
                "\\draft" => f.draft = true,
                _ => {}
            }
        }
        f
    }
}

/// A line of the message list.
#[derive(Clone, Debug)]
pub struct MessageSummary {
    pub uid: Uid,
    /// The first mailbox of From, as `address` reads it.
    pub from: address::Addr,
    /// Decoded and cleaned (see `display::clean`).
    pub subject: String,
    /// Seconds since the epoch: the Date header, or the server's arrival time when that is missing.
    pub date: Option<i64>,
    pub size: u32,
    pub flags: Flags,
    pub has_attachment: bool,
}

/// One page of a folder's message list, newest first.
#[derive(Clone, Debug)]
pub struct ListPage {
    pub folder: FolderName,
    /// Messages in the folder.
    pub total: u32,
    /// Zero-based page index actually shown (clamped to the last page).
    pub page: u32,
    pub page_size: u32,
    pub messages: Vec<MessageSummary>,
}

/// The page shown when `page` (from 0) of `total` items is asked for: the last one when past it; and
/// the page size, at least 1. One rule for every list, whatever the backend.
pub fn clamp_page(total: u32, page: u32, page_size: u32) -> (u32, u32) {
    let page_size = page_size.max(1);
    let pages = total.div_ceil(page_size).max(1);
    (page.min(pages - 1), page_size)
}

impl ListPage {
    /// Number of pages (at least one, even for an empty folder).
    pub fn page_count(&self) -> u32 {
        self.total.div_ceil(self.page_size.max(1)).max(1)
    }
}

/// Storage used and allowed by the provider, in bytes (RFC 2087 STORAGE, which counts KiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub used: u64,
    pub limit: u64,
}

impl Quota {
    /// Share of the quota in use, 0–100.
    pub fn percent(&self) -> u8 {
        if self.limit == 0 {
            return 0;
        }
        ((self.used.saturating_mul(100) / self.limit).min(100)) as u8
    }
}

/// How a folder's messages are ordered (RFC 5256 sort keys).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// The order messages arrived in (sequence order).
    #[default]
    Arrival,
    Date,
    From,
    Subject,
    Size,
}

/// What to look for in a folder. Every field narrows the result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Search {
    /// Free text, matched in headers and body.
    pub text: String,
    pub unread: bool,
    pub flagged: bool,
    pub attachments: bool,
    /// Received on or after this day.
    pub since: Option<chrono::NaiveDate>,
    /// Received before this day.
    pub before: Option<chrono::NaiveDate>,
}

/// The most characters of a typed search that are looked for.
pub const MAX_SEARCH_CHARS: usize = 200;

impl Search {
    /// A search for what the user typed (cut to [`MAX_SEARCH_CHARS`]), with the checkboxes of
    /// the search forms.
    pub fn typed(text: Option<&str>, unread: bool, flagged: bool, attachments: bool) -> Self {
        Search {
            text: text
                .unwrap_or_default()
                .chars()
                .take(MAX_SEARCH_CHARS)
                .collect(),
            unread,
            flagged,
            attachments,
            since: None,
            before: None,
        }
    }

    /// True when nothing narrows the folder.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
            && !self.unread
            && !self.flagged
            && !self.attachments
            && self.since.is_none()
            && self.before.is_none()
    }
}

/// Which page of a folder, in which order, narrowed how.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub sort: SortKey,
    /// Ascending when true; newest/largest/Z first otherwise.
    pub ascending: bool,
    pub search: Search,
}

/// Largest part of a message fetched for display; the rest stays on the server (attachments are
/// fetched on their own when downloaded).
pub const MAX_DISPLAY_BYTES: u32 = 16 * 1024 * 1024;

/// A message as fetched for display.
#[derive(Clone, Debug)]
pub struct FetchedMessage {
    pub uid: Uid,
    pub flags: Flags,
    pub size: u32,
    /// The message, or its first [`MAX_DISPLAY_BYTES`] when it is larger.
    pub raw: Vec<u8>,
}

impl FetchedMessage {
    /// True when only the beginning of the message was fetched.
    pub fn truncated(&self) -> bool {
        self.size as usize > self.raw.len()
    }
}

/// What every mail page shows beside its content: the folders and the quota.
#[derive(Clone, Debug)]
pub struct Overview {
    pub folders: Vec<Folder>,
    pub quota: Option<Quota>,
}

/// One page of conversations of a folder.
#[derive(Clone, Debug)]
pub struct ThreadPage {
    /// Each conversation's messages in reading order, with their reply depth.
    pub threads: Vec<Vec<(MessageSummary, usize)>>,
    pub total_threads: u32,
    pub page: u32,
    pub page_size: u32,
    /// How many of the newest messages were threaded (the folder may hold more).
    pub window: u32,
    pub folder_total: u32,
}

/// A change in a folder, as a watcher (IMAP IDLE) or a POP3 check announces it to open tabs.
#[derive(Clone, Debug)]
pub struct MailEvent {
    pub folder: FolderName,
    pub messages: u32,
    pub unseen: u32,
    /// Messages that arrived since the last event (newest first, a few at most).
    pub arrived: Vec<MessageSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_percent_is_bounded_and_rounds_down() {
        let q = |used, limit| Quota { used, limit }.percent();
        assert_eq!(q(0, 100), 0);
        assert_eq!(q(899, 1000), 89);
        assert_eq!(q(900, 1000), 90);
        assert_eq!(q(2000, 1000), 100, "over quota still shows a full bar");
        assert_eq!(q(5, 0), 0, "no limit, no bar");
    }

    #[test]
    fn section_paths_parse_strictly() {
        assert_eq!(Section::parse("2.1").unwrap().to_string(), "2.1");
        for bad in ["", "0", "1..2", "a", "1.0", "-1"] {
            assert!(Section::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn folder_names_refuse_only_nul() {
        assert!(FolderName::new("a\0b").is_none());
        assert_eq!(FolderName::new("c1\u{85}x").unwrap().as_str(), "c1\u{85}x");
        assert!(FolderName::new("").is_none());
        assert!(FolderName::new("inbox").unwrap().is_inbox());
        assert_eq!(FolderName::new("Été/2025").unwrap().as_str(), "Été/2025");
    }

    #[test]
    fn toolbar_actions_come_to_one_step_each() {
        let inbox = FolderName::inbox();
        let trash = FolderName::new("Trash").unwrap();
        let del = |confirmed| Action::Delete { confirmed };
        assert_eq!(del(false).needs(), Some(SpecialUse::Trash));
        assert_eq!(
            del(false).step(&inbox, Some(trash.clone())),
            Step::Move(trash.clone())
        );
        assert_eq!(del(false).step(&trash, Some(trash.clone())), Step::Confirm);
        assert_eq!(del(true).step(&trash, Some(trash.clone())), Step::Expunge);
        assert_eq!(Action::NotSpam.step(&inbox, None), Step::Stay);
        assert_eq!(
            Action::MarkRead.step(&inbox, None),
            Step::SetFlag(FlagChange::Seen(true))
        );
        assert_eq!(Action::Archive.step(&inbox, None), Step::Stay);
    }
}
