//! Courrier's own files under the data directory (not mail): users' settings and the attachments of
//! messages being written. No HTTP here.

pub mod compose;
pub mod secret;
pub mod settings;

/// A failure of Courrier's own storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored data unreadable: {0}")]
    Corrupt(String),
    #[error("not found")]
    NotFound,
}

/// File-name form of an address (or any key): letters, digits, `-_@` kept, the rest (dots included, so
/// no `..`) percent-encoded; two different keys never share a file.
pub(crate) fn file_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.to_lowercase().bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'@' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
