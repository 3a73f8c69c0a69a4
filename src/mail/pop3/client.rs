//! A POP3 client (RFC 1939, with CAPA and STLS from RFC 2449/2595 and SASL PLAIN from RFC 5034):
//! implicit TLS or STLS or plain, USER/PASS or AUTH PLAIN, STAT, UIDL, LIST, TOP, RETR, DELE, RSET,
//! NOOP, QUIT. Multi-line answers are read to their final `.` with dot-unstuffing and a size cap;
//! every exchange has a timeout.
//!
//! async-pop was the crate to consider: it has no STLS and its TLS features bring an old rustls, so
//! this small client is Courrier's own.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::mail::MailError;
use crate::mail::account::{Credentials, Security, Server, TlsSettings};
use crate::mail::net::{self, MailStream};

/// Largest multi-line answer accepted (a message fetched with RETR).
pub const MAX_MULTILINE: usize = 64 * 1024 * 1024;

/// Longest one-line answer accepted (RFC 2449 section 4 allows 512 octets; servers' greetings and
/// errors stay far below this).
pub const MAX_LINE: usize = 64 * 1024;

/// An authenticated POP3 session (the maildrop is locked by the server while it lasts). The stream
/// is a [`MailStream`] from [`connect`]; the parameter exists so that tests and fuzzing can run the
/// protocol over an in-memory stream (see [`over_stream`]).
pub struct Pop3<S = MailStream> {
    stream: BufReader<S>,
    timeout: Duration,
    caps: HashSet<String>,
}

impl<S> std::fmt::Debug for Pop3<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3").field("caps", &self.caps).finish()
    }
}

/// Connects, secures and authenticates.
pub async fn connect(
    server: &Server,
    tls: &TlsSettings,
    creds: &Credentials,
    timeout: Duration,
) -> Result<Pop3, MailError> {
    let tcp = net::dial(server, timeout).await?;
    let stream = match server.security {
        Security::Tls => net::tls_handshake(tcp, &server.host, tls, timeout).await?,
        _ => MailStream::Plain(tcp),
    };
    let mut p = Pop3 {
        stream: BufReader::new(stream),
        timeout,
        caps: HashSet::new(),
    };
    p.expect_ok_line().await?;
    p.capa().await;
    if server.security == Security::StartTls {
        if !p.caps.contains("STLS") {
            return Err(MailError::Tls("the server does not offer STLS".into()));
        }
        p.simple("STLS").await.map_err(|e| match e {
            MailError::Refused(m) => MailError::Tls(format!("STLS refused: {m}")),
            other => other,
        })?;
        let MailStream::Plain(tcp) = p.stream.into_inner() else {
            return Err(MailError::Tls(
                "STLS on a stream that is secured already".into(),
            ));
        };
        let secured = net::tls_handshake(tcp, &server.host, tls, timeout).await?;
        p = Pop3 {
            stream: BufReader::new(secured),
            timeout,
            caps: HashSet::new(),
        };
        // RFC 2595 section 4: capabilities may differ after TLS.
        p.capa().await;
    }
    p.authenticate(creds).await?;
    Ok(p)
}

/// Runs the greeting, CAPA and the login over a stream that is already connected (and secured, or
/// deliberately plain), as [`connect`] does after dialing. Courrier itself always goes through
/// [`connect`]; this is the seam that lets tests and the fuzz targets play a scripted server without
/// a socket.
#[doc(hidden)]
pub async fn over_stream<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    creds: &Credentials,
    timeout: Duration,
) -> Result<Pop3<S>, MailError> {
    let mut p = Pop3 {
        stream: BufReader::new(stream),
        timeout,
        caps: HashSet::new(),
    };
    p.expect_ok_line().await?;
    p.capa().await;
    p.authenticate(creds).await?;
    Ok(p)
}

/// What `-ERR` said, classified: `[IN-USE]` (RFC 2449 response codes) means another session holds the
/// maildrop lock; `[AUTH]` or any failure during login means wrong credentials.
fn err_kind(line: &str, during_auth: bool) -> MailError {
    let text = line.trim_start_matches("-ERR").trim().to_owned();
    if text.starts_with("[IN-USE]") {
        MailError::InUse
    } else if during_auth || text.starts_with("[AUTH]") {
        MailError::AuthFailed
    } else {
        MailError::Refused(text)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Pop3<S> {
    async fn authenticate(&mut self, creds: &Credentials) -> Result<(), MailError> {
        let plain = self.caps.iter().any(|c| {
            c.starts_with("SASL")
                && c.split_whitespace()
                    .any(|m| m.eq_ignore_ascii_case("PLAIN"))
        });
        if plain {
            let token = base64::engine::general_purpose::STANDARD.encode(format!(
                "\0{}\0{}",
                creds.address(),
                creds.password()
            ));
            self.send(&format!("AUTH PLAIN {token}")).await?;
            let line = self.read_line().await?;
            return if line.starts_with("+OK") {
                Ok(())
            } else {
                Err(err_kind(&line, !line.contains("[IN-USE]")))
            };
        }
        if creds.address().contains(['\r', '\n']) || creds.password().contains(['\r', '\n']) {
            return Err(MailError::AuthFailed);
        }
        self.send(&format!("USER {}", creds.address())).await?;
        let line = self.read_line().await?;
        if !line.starts_with("+OK") {
            return Err(err_kind(&line, true));
        }
        self.send(&format!("PASS {}", creds.password())).await?;
        let line = self.read_line().await?;
        if line.starts_with("+OK") {
            Ok(())
        } else {
            Err(err_kind(&line, !line.contains("[IN-USE]")))
        }
    }

    /// True if the server announced this capability (first word, upper case), e.g. `TOP`, `UIDL`.
    pub fn has_capability(&self, cap: &str) -> bool {
        self.caps
            .iter()
            .any(|c| c.split_whitespace().next() == Some(cap))
    }

    async fn capa(&mut self) {
        if self.send("CAPA").await.is_err() {
            return;
        }
        match self.read_line().await {
            Ok(l) if l.starts_with("+OK") => {
                if let Ok(body) = self.read_multiline().await {
                    self.caps = String::from_utf8_lossy(&body)
                        .lines()
                        .map(|l| l.trim().to_ascii_uppercase())
                        .filter(|l| !l.is_empty())
                        .collect();
                }
            }
            _ => {}
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), MailError> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let w = self.stream.get_mut();
        tokio::time::timeout(self.timeout, async {
            w.write_all(&bytes).await?;
            w.flush().await
        })
        .await
        .map_err(|_| MailError::Timeout)?
        .map_err(|e| MailError::ConnectionLost(e.to_string()))
    }

    async fn read_line(&mut self) -> Result<String, MailError> {
        let mut buf = Vec::new();
        // Bounded: a server that never ends its line must not make the client buffer without end.
        let mut limited = (&mut self.stream).take(MAX_LINE as u64 + 1);
        let n = tokio::time::timeout(self.timeout, limited.read_until(b'\n', &mut buf))
            .await
            .map_err(|_| MailError::Timeout)?
            .map_err(|e| MailError::ConnectionLost(e.to_string()))?;
        if n == 0 {
            return Err(MailError::ConnectionLost(
                "server closed the connection".into(),
            ));
        }
        if n > MAX_LINE {
            return Err(MailError::ConnectionLost(format!(
                "an answer line longer than {MAX_LINE} bytes"
            )));
        }
        Ok(String::from_utf8_lossy(&buf).trim_end().to_owned())
    }

    async fn expect_ok_line(&mut self) -> Result<String, MailError> {
        let line = self.read_line().await?;
        if line.starts_with("+OK") {
            Ok(line)
        } else {
            Err(err_kind(&line, false))
        }
    }

    /// A command with a one-line answer; returns the text after `+OK`.
    async fn simple(&mut self, command: &str) -> Result<String, MailError> {
        self.send(command).await?;
        let line = self.expect_ok_line().await?;
        Ok(line.trim_start_matches("+OK").trim().to_owned())
    }

    /// Reads a multi-line body up to the terminating `.` line, undoing dot-stuffing (RFC 1939
    /// section 3); lines keep their CRLF.
    async fn read_multiline(&mut self) -> Result<Vec<u8>, MailError> {
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            // One line may not exceed what is left of the cap (plus a stuffed dot and one byte to
            // tell "too long" from "exactly full"), however long the server makes it.
            let left = (MAX_MULTILINE - out.len()) as u64 + 2;
            let mut limited = (&mut self.stream).take(left);
            let n = tokio::time::timeout(self.timeout, limited.read_until(b'\n', &mut line))
                .await
                .map_err(|_| MailError::Timeout)?
                .map_err(|e| MailError::ConnectionLost(e.to_string()))?;
            if n == 0 {
                return Err(MailError::ConnectionLost(
                    "closed in a multi-line answer".into(),
                ));
            }
            if line == b".\r\n" || line == b".\n" {
                return Ok(out);
            }
            let content = if line.starts_with(b"..") {
                &line[1..]
            } else {
                &line[..]
            };
            if out.len() + content.len() > MAX_MULTILINE {
                return Err(MailError::Refused("answer too large".into()));
            }
            out.extend_from_slice(content);
        }
    }

    async fn multi(&mut self, command: &str) -> Result<Vec<u8>, MailError> {
        self.send(command).await?;
        self.expect_ok_line().await?;
        self.read_multiline().await
    }

    /// Number of messages and their total size.
    pub async fn stat(&mut self) -> Result<(u32, u64), MailError> {
        let text = self.simple("STAT").await?;
        let mut it = text.split_whitespace();
        let count = it.next().and_then(|n| n.parse().ok());
        let size = it.next().and_then(|n| n.parse().ok());
        match (count, size) {
            (Some(c), Some(s)) => Ok((c, s)),
            _ => Err(MailError::ConnectionLost(format!(
                "malformed STAT answer {text:?}"
            ))),
        }
    }

    /// Message numbers and their unique ids.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, String)>, MailError> {
        let body = self.multi("UIDL").await?;
        Ok(pairs(&body)
            .into_iter()
            .filter(|(_, uid)| {
                !uid.is_empty()
                    && uid.len() <= 70
                    && uid.bytes().all(|b| (0x21..=0x7e).contains(&b))
            })
            .collect())
    }

    /// Message numbers and their sizes.
    pub async fn list(&mut self) -> Result<Vec<(u32, u64)>, MailError> {
        let body = self.multi("LIST").await?;
        Ok(pairs(&body)
            .into_iter()
            .filter_map(|(n, s)| s.parse().ok().map(|s| (n, s)))
            .collect())
    }

    /// The headers and the first `lines` body lines of a message.
    pub async fn top(&mut self, n: u32, lines: u32) -> Result<Vec<u8>, MailError> {
        self.multi(&format!("TOP {n} {lines}")).await
    }

    /// The whole message.
    pub async fn retr(&mut self, n: u32) -> Result<Vec<u8>, MailError> {
        self.multi(&format!("RETR {n}")).await
    }

    /// Marks a message for deletion when the session ends with QUIT.
    pub async fn dele(&mut self, n: u32) -> Result<(), MailError> {
        self.simple(&format!("DELE {n}")).await.map(|_| ())
    }

    /// Unmarks every message marked for deletion.
    pub async fn rset(&mut self) -> Result<(), MailError> {
        self.simple("RSET").await.map(|_| ())
    }

    pub async fn noop(&mut self) -> Result<(), MailError> {
        self.simple("NOOP").await.map(|_| ())
    }

    /// Ends the session: the server now deletes what was marked, and releases the lock.
    pub async fn quit(mut self) -> Result<(), MailError> {
        self.simple("QUIT").await.map(|_| ())
    }
}

/// `n value` lines of UIDL and LIST.
fn pairs(body: &[u8]) -> Vec<(u32, String)> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let n = it.next()?.parse().ok()?;
            Some((n, it.next().unwrap_or("").to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A scripted server on loopback: for each expected command prefix, the answer to send.
    async fn fake(script: Vec<(&'static str, &'static str)>) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"+OK ready\r\n").await.unwrap();
            let mut buf = vec![0u8; 4096];
            for (expect, answer) in script {
                let mut got = Vec::new();
                while !got.ends_with(b"\r\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                let line = String::from_utf8_lossy(&got);
                assert!(line.starts_with(expect), "expected {expect}, got {line}");
                s.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        Server {
            host: "127.0.0.1".into(),
            port,
            security: Security::None,
        }
    }

    fn tls() -> TlsSettings {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        TlsSettings {
            config: std::sync::Arc::new(config),
            extra_ca_pem: None,
        }
    }

    #[tokio::test]
    async fn multiline_answers_are_unstuffed() {
        let server = fake(vec![
            ("CAPA", "+OK\r\nUIDL\r\nTOP\r\nUSER\r\n.\r\n"),
            ("USER a@b.c", "+OK\r\n"),
            ("PASS pw", "+OK logged in\r\n"),
            (
                "RETR 1",
                "+OK 20 octets\r\nSubject: x\r\n\r\n..hidden dot\r\n.\r\n",
            ),
            ("UIDL", "+OK\r\n1 00000001abc\r\n2 00000002abc\r\n.\r\n"),
        ])
        .await;
        let mut p = connect(
            &server,
            &tls(),
            &Credentials::new("a@b.c", "pw"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert!(p.has_capability("TOP"));
        assert_eq!(
            p.retr(1).await.unwrap(),
            b"Subject: x\r\n\r\n.hidden dot\r\n"
        );
        assert_eq!(
            p.uidl().await.unwrap(),
            vec![
                (1, "00000001abc".to_string()),
                (2, "00000002abc".to_string())
            ]
        );
    }

    #[tokio::test]
    async fn a_locked_maildrop_is_told_apart_from_a_wrong_password() {
        let server = fake(vec![
            ("CAPA", "+OK\r\nUSER\r\n.\r\n"),
            ("USER", "+OK\r\n"),
            (
                "PASS",
                "-ERR [IN-USE] Mailbox is locked by another POP3 session\r\n",
            ),
        ])
        .await;
        let e = connect(
            &server,
            &tls(),
            &Credentials::new("a@b.c", "pw"),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, MailError::InUse), "{e:?}");
        let server = fake(vec![
            ("CAPA", "+OK\r\nUSER\r\n.\r\n"),
            ("USER", "+OK\r\n"),
            ("PASS", "-ERR [AUTH] Authentication failed.\r\n"),
        ])
        .await;
        let e = connect(
            &server,
            &tls(),
            &Credentials::new("a@b.c", "pw"),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, MailError::AuthFailed), "{e:?}");
    }

    #[tokio::test]
    async fn the_client_runs_over_any_stream() {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        server
            .write_all(
                b"+OK ready\r\n+OK\r\nUSER\r\n.\r\n+OK\r\n+OK in\r\n+OK 2 320\r\n\
                  +OK\r\n1 aaa\r\n2 bbb\r\n.\r\n",
            )
            .await
            .unwrap();
        let mut p = over_stream(
            client,
            &Credentials::new("a@b.c", "pw"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(p.stat().await.unwrap(), (2, 320));
        assert_eq!(
            p.uidl().await.unwrap(),
            vec![(1, "aaa".to_string()), (2, "bbb".to_string())]
        );
        drop(p);
        let mut sent = String::new();
        server.read_to_string(&mut sent).await.unwrap();
        assert_eq!(sent, "CAPA\r\nUSER a@b.c\r\nPASS pw\r\nSTAT\r\nUIDL\r\n");
    }

    /// Found by fuzzing (tests/fixtures/fuzz/pop3_responses/status-line-without-end): a line that
    /// never ends was read into memory for as long as the server kept sending.
    #[tokio::test]
    async fn a_line_without_end_is_given_up_at_the_cap() {
        let (client, mut server) = tokio::io::duplex(4096);
        let flood = tokio::spawn(async move {
            let chunk = [b'x'; 4096];
            let mut sent = 0;
            while server.write_all(&chunk).await.is_ok() {
                sent += chunk.len();
            }
            sent
        });
        let e = over_stream(
            client,
            &Credentials::new("a@b.c", "pw"),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, MailError::ConnectionLost(_)), "{e:?}");
        assert!(flood.await.unwrap() <= MAX_LINE + 2 * 4096);
    }

    #[tokio::test]
    async fn a_cut_in_the_middle_of_retr_is_an_error_not_a_short_message() {
        let server = fake(vec![
            ("CAPA", "+OK\r\nUSER\r\n.\r\n"),
            ("USER", "+OK\r\n"),
            ("PASS", "+OK\r\n"),
            ("RETR 1", "+OK\r\nSubject: half\r\n"),
        ])
        .await;
        let mut p = connect(
            &server,
            &tls(),
            &Credentials::new("a@b.c", "pw"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert!(matches!(p.retr(1).await, Err(MailError::ConnectionLost(_))));
    }
}
