//! Sending: one SMTP submission per message, authenticated with the user's own credentials, through
//! lettre. Failures are classified so that the compose form can say what happened in plain words.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials as SmtpCredentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncTransport, Tokio1Executor};

use super::account::{Credentials, Security, Server, TlsSettings};

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the server refused the login")]
    AuthFailed,
    #[error("the server cannot be reached: {0}")]
    Unreachable(String),
    #[error("TLS failure: {0}")]
    Tls(String),
    #[error("a recipient was refused: {0}")]
    RecipientRejected(String),
    #[error("the message is too big for the server: {0}")]
    TooBig(String),
    #[error("the server refused the message: {0}")]
    Rejected(String),
    #[error("temporary failure, try again: {0}")]
    Temporary(String),
    #[error("the server did not answer in time")]
    Timeout,
}

const TIMEOUT: Duration = Duration::from_secs(60);

/// Sends `message` (already formatted) to the envelope's recipients.
pub async fn send(
    server: &Server,
    tls: &TlsSettings,
    creds: &Credentials,
    envelope: &Envelope,
    message: &[u8],
) -> Result<(), SendError> {
    let params = || -> Result<TlsParameters, SendError> {
        let mut b = TlsParameters::builder(server.host.clone());
        if let Some(pem) = &tls.extra_ca_pem {
            let cert =
                Certificate::from_pem(pem).map_err(|e| SendError::Tls(format!("CA file: {e}")))?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls().map_err(|e| SendError::Tls(e.to_string()))
    };
    let tls_mode = match server.security {
        Security::Tls => Tls::Wrapper(params()?),
        Security::StartTls => Tls::Required(params()?),
        Security::None => Tls::None,
    };
    let transport: AsyncSmtpTransport<Tokio1Executor> =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
            .port(server.port)
            .tls(tls_mode)
            .credentials(SmtpCredentials::new(
                creds.address().to_owned(),
                creds.password().to_owned(),
            ))
            .timeout(Some(TIMEOUT))
            .build();
    match transport.send_raw(envelope, message).await {
        Ok(_) => Ok(()),
        Err(e) => Err(classify(&e)),
    }
}

fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let text = e.to_string();
    if e.is_timeout() {
        return SendError::Timeout;
    }
    if e.is_tls() {
        return SendError::Tls(text);
    }
    if let Some(code) = e.status() {
        let code = code.to_string();
        return match code.as_str() {
            // RFC 4954 section 6: 535 credentials invalid, 534 mechanism too weak, 530 required.
            "535" | "534" | "530" => SendError::AuthFailed,
            "552" | "523" => SendError::TooBig(text),
            "550" | "551" | "553" | "501" | "504" | "510" | "511" | "513" => {
                SendError::RecipientRejected(text)
            }
            c if c.starts_with('4') => SendError::Temporary(text),
            _ => SendError::Rejected(text),
        };
    }
    if e.is_response() && text.to_lowercase().contains("size") {
        return SendError::TooBig(text);
    }
    SendError::Unreachable(text)
}
