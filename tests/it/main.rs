//! Courrier's integration tests: one binary, against the real Dovecot and Postfix that
//! `scripts/mailstack` runs on loopback. Each test gets its own mail account and its own Courrier
//! instance on a free port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod actions;
mod browser;
mod compose;
mod deploy;
mod faults;
mod folders;
mod hostile;
mod hostile_browser;
mod hostile_headers;
mod hostile_headers_browser;
mod legit_browser;
mod live;
mod login;
mod mailbox;
mod message;
mod operations;
mod pool;
mod pop3;
mod pop3_web;
mod restart;
mod search;
mod security;
mod sessions;
mod threads;
