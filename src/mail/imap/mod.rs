//! IMAP operations the pages need, as functions over one leased connection ([`Conn`]). Each reads
//! everything it needs into owned values, so the connection can go back to the pool before a page is
//! rendered.
//!
//! One concern per file: `conn.rs` (one connection and the only way to run a command on it),
//! `connect.rs` (dialling and logging in, which makes a `Conn`), `pool.rs` (connections leased per
//! user), `codec.rs` (folder names and strings on the wire), `folders.rs` (the folder list, special
//! folders, counts, and managing folders), `search.rs` (pages of a folder, sorted and searched, and
//! search across folders), `summary.rs` (the FETCH of list lines, and new arrivals), `threads.rs`
//! (conversations), `fetch.rs` (one message, one part, the original), `quota.rs` (the storage
//! quota), `actions.rs` (moves and removal), `backend.rs` (all of it as a `Backend`) and
//! `watch.rs` (live updates over IDLE). Uses go one way: `connect` and every operation use `conn`,
//! which uses only `codec`; `search` uses `folders` and `summary`, and `threads` uses `summary`;
//! `pool` uses `connect`; `backend` and `watch` use the operations, which never use them.

pub mod actions;
pub mod backend;
pub mod codec;
pub mod conn;
pub mod connect;
mod fetch;
pub mod folders;
pub mod pool;
mod quota;
mod search;
mod summary;
mod threads;
pub mod watch;

pub use conn::Conn;
pub use fetch::{fetch_message, fetch_part, fetch_raw};
pub(crate) use folders::sort_folders;
pub use folders::{folder_status, list_folders, special_folder};
pub use pool::{ImapPool, PoolConfig, Retry};
pub use quota::quota;
pub(crate) use search::sort_text;
pub use search::{find_by_message_id, list_page, list_query, search_all, search_criteria};
pub use summary::new_arrivals;
pub use threads::thread_page;
