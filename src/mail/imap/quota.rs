//! The storage quota (RFC 2087), read at most once a minute per connection: computing it costs the
//! server time that grows with the mailbox.

use imap_proto::Response;

use super::conn::Conn;
use crate::mail::MailError;

/// The storage quota of the inbox's quota root, when the server has QUOTA and sets one.
pub async fn quota(conn: &mut Conn) -> Result<Option<crate::mail::Quota>, MailError> {
    if !conn.has_capability("QUOTA") {
        return Ok(None);
    }
    if let Some((at, q)) = conn.quota_cache
        && at.elapsed() < std::time::Duration::from_secs(60)
    {
        return Ok(q);
    }
    let q = read_quota(conn).await?;
    conn.quota_cache = Some((std::time::Instant::now(), q));
    Ok(q)
}

async fn read_quota(conn: &mut Conn) -> Result<Option<crate::mail::Quota>, MailError> {
    let mut found = None;
    let result = conn
        .command_each("GETQUOTAROOT INBOX", |r| {
            if let Response::Quota(q) = r {
                for res in &q.resources {
                    if matches!(res.name, imap_proto::rfc2087::QuotaResourceName::Storage)
                        && found.is_none()
                    {
                        found = Some(crate::mail::Quota {
                            used: res.usage * 1024,
                            limit: res.limit * 1024,
                        });
                    }
                }
            }
        })
        .await;
    match result {
        // No quota root for this user: no quota to show.
        Err(MailError::Refused(_)) => Ok(None),
        Err(e) => Err(e),
        Ok(()) => Ok(found),
    }
}
