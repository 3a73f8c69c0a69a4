//! POP3 accounts: the protocol client, the download engine, and the accounts at run time.

pub mod account;
pub mod client;
pub mod sync;
