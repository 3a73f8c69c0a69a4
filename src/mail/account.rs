//! Who the user is to the mail servers: their credentials and the servers that hold their mail.
//!
//! The password in clear lives only here, in memory (the session record holds it sealed):
//! `Credentials` never prints it (its `Debug` is redacted) and wipes it when dropped.

use std::fmt;
use std::sync::Arc;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// The address and password a user typed at login.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Credentials {
    address: String,
    password: String,
}

impl Credentials {
    pub fn new(address: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            address: address.into(),
            password: password.into(),
        }
    }

    /// The login address, e.g. `alice@example.org`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The secret; only protocol code calls this.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("address", &self.address)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How a connection to a mail server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS before login.
    StartTls,
    /// No encryption: only for a server on the same host or a trusted network.
    None,
}

/// A mail server endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

/// The TLS client settings shared by every connection (trusted roots, possibly an extra CA file).
#[derive(Clone)]
pub struct TlsSettings {
    pub config: Arc<rustls::ClientConfig>,
    /// The extra CA certificates (PEM) trusted besides the public roots, for the SMTP client, which
    /// builds its own TLS configuration.
    pub extra_ca_pem: Option<Arc<Vec<u8>>>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsSettings")
    }
}

/// The servers of one mail domain.
#[derive(Clone, Debug)]
pub struct Servers {
    pub imap: Server,
    pub pop3: Server,
    pub smtp: Server,
    /// How the domain's users may reach their mail.
    pub protocols: Protocols,
}

/// How mail is read: kept on the server and synchronised (IMAP), or downloaded into Courrier's own
/// store (POP3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    Imap,
    Pop3,
}

/// Which protocols a domain offers its users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocols {
    Imap,
    Pop3,
    /// The user chooses at login.
    Both,
}

impl Protocols {
    /// The protocol used for a user's choice (`None`: no choice made): the choice when the domain
    /// allows it, the domain's own protocol otherwise, IMAP when both are allowed and none was chosen.
    pub fn resolve(self, choice: Option<Protocol>) -> Protocol {
        match (self, choice) {
            (Protocols::Imap, _) => Protocol::Imap,
            (Protocols::Pop3, _) => Protocol::Pop3,
            (Protocols::Both, Some(p)) => p,
            (Protocols::Both, None) => Protocol::Imap,
        }
    }
}
