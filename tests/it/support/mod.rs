//! Shared test support: the mail stack, fresh accounts, a Courrier instance per test, an HTTP client
//! that keeps cookies, and a second IMAP connection playing "another device".

pub mod app;
pub mod browser;
pub mod hostile_check;
pub mod imap_probe;
pub mod mailstack;
pub mod proxy;

pub use app::{TestApp, browser_logged_in, form_token};
pub use mailstack::{Account, new_account};
