//! Courrier, a webmail for IMAP mailboxes.
//!
//! Reading order: [`config`] (what the provider set), [`mail`] (the protocols, free of HTTP),
//! [`i18n`] (French and English), then [`web`] (pages and handlers) and [`app`] (wiring and serving).

/// The application: shared state, router and server.
pub mod app;
/// Configuration: embedded defaults, a TOML file, `COURRIER_<SECTION>_<KEY>` overrides, validation.
pub mod config;
/// Languages and formatting of dates and sizes.
pub mod i18n;
/// Mail: protocol clients and message handling, with no knowledge of HTTP.
pub mod mail;
/// What an operator watches: Prometheus metrics.
pub mod metrics;
/// Courrier's own storage: settings and messages being written.
pub mod store;
/// The web interface: routes, handlers, templates, errors.
pub mod web;
