//! One authenticated IMAP connection, the folder it has selected, and the only way to run a command on
//! it: [`Conn::command`], which always reads the server's answer to the end.
//!
//! async-imap's typed command streams must be drained by the caller, and after a parse error they end
//! quietly instead of failing (see the crate notes); reading every response ourselves up to the tagged
//! completion avoids both traps. Any I/O error, EOF, BYE or timeout marks the connection broken, and the
//! pool throws a broken connection away instead of handing it to the next request.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_imap::Session;
use imap_proto::{Capability, MailboxDatum, Response, ResponseCode, Status, StatusAttribute};

use super::codec;
use crate::mail::net::MailStream;
use crate::mail::{FolderName, MailError};

/// The state of the selected folder, kept so that a page view does not re-SELECT.
#[derive(Clone, Debug)]
pub struct Selected {
    pub folder: FolderName,
    pub uid_validity: u32,
    pub exists: u32,
}

/// An authenticated IMAP connection.
pub struct Conn {
    session: Session<MailStream>,
    caps: HashSet<String>,
    selected: Option<Selected>,
    broken: bool,
    timeout: Duration,
    pub(crate) last_used: Instant,
    /// The quota and when it was read: it changes slowly, and computing it costs the server time that
    /// grows with the mailbox, so a page does not ask for it again within a minute.
    pub(crate) quota_cache: Option<(Instant, Option<crate::mail::Quota>)>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("selected", &self.selected)
            .field("broken", &self.broken)
            .finish()
    }
}

impl Conn {
    pub(crate) async fn new(
        session: Session<MailStream>,
        timeout: Duration,
    ) -> Result<Self, MailError> {
        let mut conn = Conn {
            session,
            caps: HashSet::new(),
            selected: None,
            broken: false,
            timeout,
            last_used: Instant::now(),
            quota_cache: None,
        };
        let mut caps = HashSet::new();
        conn.command_each("CAPABILITY", |r| {
            if let Response::Capabilities(list) = r {
                caps.extend(list.iter().map(capability_name));
            }
        })
        .await?;
        conn.caps = caps;
        Ok(conn)
    }

    /// True if the server advertised the capability (upper-case name, e.g. `MOVE`).
    pub fn has_capability(&self, cap: &str) -> bool {
        self.caps.contains(cap)
    }

    /// True once an error made the connection unusable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Runs one command, ignoring its untagged data.
    pub async fn command(&mut self, command: &str) -> Result<(), MailError> {
        self.command_each(command, |_| {}).await
    }

    /// Runs one command and hands every untagged response it produced to `each`. A NO or BAD completion
    /// is `MailError::Refused` (the connection stays usable); anything else abnormal breaks it.
    pub async fn command_each(
        &mut self,
        command: &str,
        each: impl FnMut(&Response<'_>) + Send,
    ) -> Result<(), MailError> {
        if self.broken {
            return Err(MailError::ConnectionLost(
                "connection already broken".into(),
            ));
        }
        self.last_used = Instant::now();
        let started = self.last_used;
        let timeout = self.timeout;
        // Broken until the answer has been read to its end: if anything unwinds in between (a panic
        // in `each`), the pool throws the connection away instead of reusing a half-read stream.
        self.broken = true;
        let result = tokio::time::timeout(timeout, self.command_inner(command, each)).await;
        crate::metrics::metrics().imap_command(command, started.elapsed());
        match result {
            Ok(Ok(v)) => {
                self.broken = false;
                Ok(v)
            }
            Ok(Err(e)) => {
                if e.poisons_connection() {
                    self.selected = None;
                } else {
                    self.broken = false;
                }
                Err(e)
            }
            Err(_) => {
                // The answer may still arrive later; nobody may read this connection again.
                self.broken = true;
                self.selected = None;
                Err(MailError::Timeout)
            }
        }
    }

    async fn command_inner(
        &mut self,
        command: &str,
        mut each: impl FnMut(&Response<'_>) + Send,
    ) -> Result<(), MailError> {
        let tag = self
            .session
            .run_command(command)
            .await
            .map_err(|e| MailError::ConnectionLost(e.to_string()))?;
        loop {
            let resp = guarded(self.session.read_response())
                .await
                .map_err(|e| MailError::ConnectionLost(e.to_string()))?
                .ok_or_else(|| MailError::ConnectionLost("server closed the connection".into()))?;
            match resp.parsed() {
                Response::Done {
                    tag: t,
                    status,
                    outcome,
                } if *t == tag => {
                    let text = outcome.information.as_deref().unwrap_or("").to_owned();
                    return match status {
                        Status::Ok => Ok(()),
                        Status::No | Status::Bad => Err(MailError::Refused(text)),
                        _ => Err(MailError::ConnectionLost(text)),
                    };
                }
                Response::Done { .. } => {
                    // A completion for another tag cannot happen with one command in flight.
                    return Err(MailError::ConnectionLost(
                        "unexpected tagged response".into(),
                    ));
                }
                Response::Data {
                    status: Status::Bye,
                    outcome,
                } => {
                    let text = outcome.information.as_deref().unwrap_or("BYE").to_owned();
                    return Err(MailError::ConnectionLost(text));
                }
                r @ (Response::MailboxData(MailboxDatum::Exists(_)) | Response::Expunge(_)) => {
                    self.track(r);
                    each(r);
                }
                other => each(other),
            }
        }
    }

    /// Selects a folder (read-write), or reuses the current selection after a NOOP that brings the
    /// message count up to date.
    pub async fn select(&mut self, folder: &FolderName) -> Result<Selected, MailError> {
        if let Some(sel) = &self.selected
            && &sel.folder == folder
        {
            self.command("NOOP").await?;
            if let Some(sel) = &self.selected {
                return Ok(sel.clone());
            }
        }
        self.selected = None;
        let cmd = format!("SELECT {}", codec::quote_mailbox(folder));
        let mut exists = None;
        let mut uid_validity = None;
        let result = self
            .command_each(&cmd, |r| match r {
                Response::MailboxData(MailboxDatum::Exists(n)) => exists = Some(*n),
                Response::Data {
                    outcome:
                        imap_proto::Outcome {
                            code: Some(ResponseCode::UidValidity(v)),
                            ..
                        },
                    ..
                } => uid_validity = Some(*v),
                _ => {}
            })
            .await;
        match result {
            Err(MailError::Refused(_)) => return Err(MailError::FolderNotFound),
            other => other?,
        }
        // A SELECT that succeeds without EXISTS or UIDVALIDITY means we lost track of the stream.
        let (Some(exists), Some(uid_validity)) = (exists, uid_validity) else {
            self.broken = true;
            return Err(MailError::ConnectionLost(
                "SELECT without EXISTS/UIDVALIDITY".into(),
            ));
        };
        let sel = Selected {
            folder: folder.clone(),
            uid_validity,
            exists,
        };
        self.selected = Some(sel.clone());
        Ok(sel)
    }

    /// Appends a message to a folder with the given flags (e.g. `(\\Seen)`). Uses async-imap's APPEND,
    /// which waits for the server's continuation before sending the literal.
    pub async fn append(
        &mut self,
        folder: &FolderName,
        flags: &str,
        message: &[u8],
    ) -> Result<(), MailError> {
        if self.broken {
            return Err(MailError::ConnectionLost(
                "connection already broken".into(),
            ));
        }
        self.last_used = Instant::now();
        // The EXISTS this causes goes to async-imap's side channel, not through `command_each`: forget
        // the selection so the next SELECT counts again.
        self.selected = None;
        let mailbox = codec::encode_mutf7(folder.as_str());
        let fut = self.session.append(&mailbox, Some(flags), None, message);
        self.broken = true;
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(())) => {
                self.broken = false;
                Ok(())
            }
            Ok(Err(async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m))) => {
                self.broken = false;
                Err(MailError::Refused(m))
            }
            // async-imap says `Append` when the server answered something other than the `+`
            // continuation (typically `NO [OVERQUOTA]`): refused, and the literal was never sent,
            // but what was read is unknown, so the connection is not reused.
            Ok(Err(async_imap::error::Error::Append)) => {
                Err(MailError::Refused("the server refused the message".into()))
            }
            Ok(Err(e)) => {
                self.broken = true;
                Err(MailError::ConnectionLost(e.to_string()))
            }
            Err(_) => {
                self.broken = true;
                Err(MailError::Timeout)
            }
        }
    }

    /// Waits in IDLE (RFC 2177) until the server reports a change to the selected folder or `wait`
    /// runs out, then ends IDLE. Returns true when something changed. Only the watcher's own
    /// connection idles; pooled connections never do.
    pub async fn idle(&mut self, wait: Duration) -> Result<bool, MailError> {
        if self.broken {
            return Err(MailError::ConnectionLost(
                "connection already broken".into(),
            ));
        }
        self.broken = true;
        let lost = |e: &dyn std::fmt::Display| MailError::ConnectionLost(e.to_string());
        let tag = self
            .session
            .run_command("IDLE")
            .await
            .map_err(|e| lost(&e))?;
        let first = tokio::time::timeout(self.timeout, guarded(self.session.read_response()))
            .await
            .map_err(|_| MailError::Timeout)?
            .map_err(|e| lost(&e))?
            .ok_or_else(|| MailError::ConnectionLost("closed before IDLE".into()))?;
        match first.parsed() {
            Response::Continue { .. } => {}
            Response::Done { .. } => {
                self.broken = false;
                return Err(MailError::Refused("IDLE refused".into()));
            }
            _ => {}
        }
        let mut changed = false;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, guarded(self.session.read_response())).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(lost(&e)),
                Ok(Ok(None)) => return Err(MailError::ConnectionLost("closed during IDLE".into())),
                Ok(Ok(Some(r))) => match r.parsed() {
                    Response::Data {
                        status: Status::Bye,
                        ..
                    } => {
                        return Err(MailError::ConnectionLost("BYE during IDLE".into()));
                    }
                    Response::MailboxData(MailboxDatum::Exists(_))
                    | Response::MailboxData(MailboxDatum::Recent(_))
                    | Response::Expunge(_)
                    | Response::Fetch(..)
                    | Response::Vanished { .. } => {
                        self.track(r.parsed());
                        // No waiting for more: Dovecot already gathers changes for 500 ms before
                        // telling idling clients, and what comes after DONE is read below.
                        changed = true;
                        break;
                    }
                    _ => {}
                },
            }
        }
        self.session
            .run_command_untagged("DONE")
            .await
            .map_err(|e| lost(&e))?;
        loop {
            let r = tokio::time::timeout(self.timeout, guarded(self.session.read_response()))
                .await
                .map_err(|_| MailError::Timeout)?
                .map_err(|e| lost(&e))?
                .ok_or_else(|| MailError::ConnectionLost("closed after IDLE".into()))?;
            match r.parsed() {
                Response::Done { tag: t, .. } if *t == tag => break,
                Response::MailboxData(MailboxDatum::Exists(_))
                | Response::Expunge(_)
                | Response::Fetch(..) => {
                    self.track(r.parsed());
                    changed = true;
                }
                _ => {}
            }
        }
        self.broken = false;
        self.last_used = Instant::now();
        Ok(changed)
    }

    /// Keeps the selected folder's message count in step with EXISTS and EXPUNGE responses.
    fn track(&mut self, r: &Response<'_>) {
        if let Some(sel) = &mut self.selected {
            match r {
                Response::MailboxData(MailboxDatum::Exists(n)) => sel.exists = *n,
                Response::Expunge(_) => sel.exists = sel.exists.saturating_sub(1),
                _ => {}
            }
        }
    }

    /// Confirms the connection still answers (used before reusing a connection that sat idle).
    pub async fn check_alive(&mut self) -> Result<(), MailError> {
        self.command("NOOP").await
    }

    /// Logs out politely; errors do not matter any more at this point.
    pub async fn logout(mut self) {
        if !self.broken {
            let _ = tokio::time::timeout(Duration::from_secs(2), self.session.logout()).await;
        }
    }

    /// Reads a `STATUS`-style attribute list into (messages, unseen).
    pub(crate) fn status_counts(attrs: &[StatusAttribute]) -> (Option<u32>, Option<u32>) {
        let mut messages = None;
        let mut unseen = None;
        for a in attrs {
            match a {
                StatusAttribute::Messages(n) => messages = Some(*n),
                StatusAttribute::Unseen(n) => unseen = Some(*n),
                _ => {}
            }
        }
        (messages, unseen)
    }
}

/// The upper-case name of a capability, e.g. `AUTH=PLAIN`, `MOVE`.
pub(crate) fn capability_name(c: &Capability<'_>) -> String {
    match c {
        Capability::Imap4rev1 => "IMAP4REV1".into(),
        Capability::Auth(m) => format!("AUTH={}", m.to_ascii_uppercase()),
        Capability::Atom(a) => a.to_ascii_uppercase(),
    }
}

/// Awaits a read from the server. A panic inside the response parser (imap-proto 0.17 panics on some
/// malformed answers, such as a non-ASCII byte right after a response code) becomes an I/O error, so
/// the connection is given up like any other broken one instead of taking its task down.
pub(crate) async fn guarded<T>(
    read: impl Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(read)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("unparsable response from the server")))
}
