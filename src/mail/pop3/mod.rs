//! POP3 accounts: the protocol client. (Downloading into Courrier's own store comes on top of it.)

pub mod client;
pub mod sync;
