//! Mail itself, free of any web concern: the words the rest of Courrier speaks (in `types`: folders,
//! UIDs, flags, message summaries) and the protocol clients that fetch them.
//!
//! Nothing in this module knows about HTTP, templates or sessions; the web layer calls in with typed
//! values and gets owned data back. A *folder name* here is always the user-visible UTF-8 path (with the
//! server's hierarchy delimiter); its IMAP wire form (modified UTF-7) is computed at the protocol edge.

pub mod account;
pub mod address;
pub mod backend;
pub mod compose;
pub mod display;
pub mod imap;
pub mod local;
pub mod mailbox;
pub mod net;
pub mod outbox;
pub mod parse;
pub mod pop3;
pub mod prefill;
pub mod sanitize;
pub mod shown;
pub mod smtp;
pub mod thread;
mod types;

pub use types::*;
