//! Dialing a mail server: TCP with a timeout, then TLS when asked, into one stream type that every
//! protocol client (IMAP, later POP3) can use.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::MailError;
use super::account::{Server, TlsSettings};

/// A connection that is either plain TCP or TLS over TCP.
#[derive(Debug)]
pub enum MailStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Opens a TCP connection to the server, classifying failures as "unreachable".
pub async fn dial(server: &Server, timeout: Duration) -> Result<TcpStream, MailError> {
    let addr = (server.host.as_str(), server.port);
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => {
            tcp.set_nodelay(true).ok();
            Ok(tcp)
        }
        Ok(Err(e)) => Err(MailError::Unreachable(format!(
            "{}:{}: {e}",
            server.host, server.port
        ))),
        Err(_) => Err(MailError::Unreachable(format!(
            "{}:{}: connection timed out",
            server.host, server.port
        ))),
    }
}

/// Runs the TLS handshake over an open TCP connection, verifying the certificate for `host`.
pub async fn tls_handshake(
    tcp: TcpStream,
    host: &str,
    tls: &TlsSettings,
    timeout: Duration,
) -> Result<MailStream, MailError> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| MailError::Tls(format!("invalid server name {host}: {e}")))?;
    let connector = TlsConnector::from(tls.config.clone());
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(MailStream::Tls(Box::new(s))),
        Ok(Err(e)) => Err(MailError::Tls(e.to_string())),
        Err(_) => Err(MailError::Tls("TLS handshake timed out".into())),
    }
}

/// Whether the server answers with a greeting that starts with `expected` (`* OK` for IMAP, `+OK`
/// for POP3, `220` for SMTP) within `timeout`: connect (and TLS for implicit-TLS servers), read one
/// line, hang up. What a readiness check needs, and no more (no login).
pub async fn greets(
    server: &Server,
    tls: &TlsSettings,
    expected: &str,
    timeout: Duration,
) -> Result<(), MailError> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let check = async {
        let tcp = dial(server, timeout).await?;
        let stream = match server.security {
            super::account::Security::Tls => tls_handshake(tcp, &server.host, tls, timeout).await?,
            _ => MailStream::Plain(tcp),
        };
        let mut line = String::new();
        tokio::io::BufReader::new(stream.take(1024))
            .read_line(&mut line)
            .await
            .map_err(|e| MailError::ConnectionLost(e.to_string()))?;
        if line.starts_with(expected) {
            Ok(())
        } else {
            Err(MailError::Refused(format!("greeting: {}", line.trim_end())))
        }
    };
    tokio::time::timeout(timeout, check)
        .await
        .map_err(|_| MailError::Timeout)?
}

impl AsyncRead for MailStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MailStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
