//! Opening an authenticated IMAP connection: dial, TLS or STARTTLS, then AUTHENTICATE PLAIN (or LOGIN
//! when the server does not offer PLAIN), with every failure classified for the login form.

use std::collections::HashSet;
use std::time::Duration;

use async_imap::Client;
use imap_proto::{Response, ResponseCode, Status};

use super::conn::{Conn, capability_name};
use crate::mail::MailError;
use crate::mail::account::{Credentials, Security, Server, TlsSettings};
use crate::mail::net::{self, MailStream};

/// How long to wait for the TCP connection, the TLS handshake and each login step.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

struct PlainAuth<'a>(&'a Credentials);

impl async_imap::Authenticator for PlainAuth<'_> {
    type Response = Vec<u8>;
    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        // RFC 4616: authzid NUL authcid NUL passwd; an empty authzid means "act as myself".
        let mut v = Vec::with_capacity(self.0.address().len() + self.0.password().len() + 2);
        v.push(0);
        v.extend_from_slice(self.0.address().as_bytes());
        v.push(0);
        v.extend_from_slice(self.0.password().as_bytes());
        v
    }
}

/// Connects and logs in. `command_timeout` bounds each later command on the connection. A panic in
/// the response parser while logging in (see [`super::conn::guarded`]) is a lost connection.
pub async fn connect(
    server: &Server,
    tls: &TlsSettings,
    creds: &Credentials,
    command_timeout: Duration,
) -> Result<Conn, MailError> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(connect_unguarded(server, tls, creds, command_timeout))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            Err(MailError::ConnectionLost(
                "unparsable response from the server".into(),
            ))
        })
}

async fn connect_unguarded(
    server: &Server,
    tls: &TlsSettings,
    creds: &Credentials,
    command_timeout: Duration,
) -> Result<Conn, MailError> {
    let tcp = net::dial(server, CONNECT_TIMEOUT).await?;
    let stream = match server.security {
        Security::Tls => net::tls_handshake(tcp, &server.host, tls, CONNECT_TIMEOUT).await?,
        Security::StartTls => {
            let mut client = Client::new(MailStream::Plain(tcp));
            // Capabilities announced before TLS may change after it: they are not used.
            read_greeting(&mut client).await?;
            step(client.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(|e| match e {
                    MailError::Refused(m) => MailError::Tls(format!("STARTTLS refused: {m}")),
                    other => other,
                })?;
            let MailStream::Plain(tcp) = client.into_inner() else {
                return Err(MailError::Tls(
                    "STARTTLS on a stream that is secured already".into(),
                ));
            };
            // After STARTTLS the server sends no second greeting (RFC 3501 section 6.2.1).
            let tls_stream = net::tls_handshake(tcp, &server.host, tls, CONNECT_TIMEOUT).await?;
            return login(Client::new(tls_stream), None, creds, command_timeout).await;
        }
        Security::None => MailStream::Plain(tcp),
    };
    let mut client = Client::new(stream);
    let caps = read_greeting(&mut client).await?;
    login(client, caps, creds, command_timeout).await
}

/// Reads the greeting and returns the capabilities it announced, if any (RFC 3501 section 7.1).
async fn read_greeting(
    client: &mut Client<MailStream>,
) -> Result<Option<HashSet<String>>, MailError> {
    let greeting = tokio::time::timeout(CONNECT_TIMEOUT, client.read_response())
        .await
        .map_err(|_| MailError::Timeout)?
        .map_err(|e| MailError::ConnectionLost(e.to_string()))?
        .ok_or_else(|| MailError::ConnectionLost("closed before greeting".into()))?;
    match greeting.parsed() {
        Response::Data {
            status: Status::Ok | Status::PreAuth,
            outcome,
        } => Ok(match &outcome.code {
            Some(ResponseCode::Capabilities(list)) => {
                Some(list.iter().map(capability_name).collect())
            }
            _ => None,
        }),
        other => Err(MailError::Refused(format!(
            "unexpected greeting: {other:?}"
        ))),
    }
}

/// AUTHENTICATE PLAIN carries any UTF-8 password, which LOGIN's quoted strings cannot; it is tried
/// unless the greeting said the server lacks it, and LOGIN is the fallback when the server rejects the
/// command itself (BAD).
async fn login(
    client: Client<MailStream>,
    caps: Option<HashSet<String>>,
    creds: &Credentials,
    command_timeout: Duration,
) -> Result<Conn, MailError> {
    let try_plain = caps.is_none_or(|c| c.contains("AUTH=PLAIN"));
    let attempt = if try_plain {
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            client.authenticate("PLAIN", PlainAuth(creds)),
        )
        .await
        {
            Ok(Err((async_imap::error::Error::Bad(_), client))) => {
                tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    client.login(creds.address(), creds.password()),
                )
                .await
            }
            other => other,
        }
    } else {
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            client.login(creds.address(), creds.password()),
        )
        .await
    };
    match attempt {
        Err(_) => Err(MailError::Timeout),
        Ok(Ok(session)) => Conn::new(session, command_timeout).await,
        Ok(Err((e, _client))) => Err(match e {
            async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_) => {
                MailError::AuthFailed
            }
            async_imap::error::Error::Validate(_) => MailError::AuthFailed,
            other => MailError::ConnectionLost(other.to_string()),
        }),
    }
}

async fn step<T>(fut: impl Future<Output = async_imap::error::Result<T>>) -> Result<T, MailError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, fut).await {
        Err(_) => Err(MailError::Timeout),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m))) => {
            Err(MailError::Refused(m))
        }
        Ok(Err(e)) => Err(MailError::ConnectionLost(e.to_string())),
    }
}
