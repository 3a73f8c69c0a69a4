//! The POP3 client against the real Dovecot POP3 server: every way of securing it, the commands a
//! download needs, the maildrop lock, and deletions that only happen at QUIT.

use std::time::Duration;

use courrier::config::tls_settings;
use courrier::mail::MailError;
use courrier::mail::account::{Credentials, Security, Server};
use courrier::mail::pop3::client::{self, Pop3};

use crate::support::imap_probe::{Probe, simple_message};
use crate::support::mailstack::stack;
use crate::support::{Account, new_account};

const POP3: u16 = 10110;
const POP3S: u16 = 10995;

async fn open(acct: &Account, port: u16, security: Security) -> Result<Pop3, MailError> {
    open_waiting(acct, port, security, Duration::from_secs(10)).await
}

async fn open_waiting(
    acct: &Account,
    port: u16,
    security: Security,
    timeout: Duration,
) -> Result<Pop3, MailError> {
    let tls = tls_settings(Some(&stack().ca_file)).unwrap();
    let server = Server {
        host: "127.0.0.1".into(),
        port,
        security,
    };
    client::connect(
        &server,
        &tls,
        &Credentials::new(acct.address.clone(), acct.password.clone()),
        timeout,
    )
    .await
}

#[tokio::test]
async fn pop3s_stls_and_plain_all_log_in() {
    let acct = new_account("pop3-secure");
    for (port, sec) in [
        (POP3S, Security::Tls),
        (POP3, Security::StartTls),
        (POP3, Security::None),
    ] {
        let p = open(&acct, port, sec)
            .await
            .unwrap_or_else(|e| panic!("{sec:?}: {e}"));
        p.quit().await.unwrap();
    }
    let wrong = Account {
        password: "wrong".into(),
        ..acct.clone()
    };
    assert!(matches!(
        open(&wrong, POP3S, Security::Tls).await,
        Err(MailError::AuthFailed)
    ));
}

#[tokio::test]
async fn stat_uidl_top_retr_and_delete_at_quit() {
    let acct = new_account("pop3-cmds");
    let mut probe = Probe::connect(&acct).await;
    let first = simple_message(
        "a@example.test",
        "Premier",
        "ligne un\r\n.ligne qui commence par un point",
    );
    let second = simple_message("b@example.test", "Second", "deux");
    probe.append("INBOX", "", &first).await;
    probe.append("INBOX", "", &second).await;

    let mut p = open(&acct, POP3S, Security::Tls).await.unwrap();
    let (count, size) = p.stat().await.unwrap();
    assert_eq!(count, 2);
    assert!(size >= (first.len() + second.len()) as u64 - 4);
    let uidl = p.uidl().await.unwrap();
    assert_eq!(uidl.len(), 2);
    assert_ne!(uidl[0].1, uidl[1].1, "unique ids");
    assert_eq!(p.list().await.unwrap().len(), 2);
    let top = String::from_utf8(p.top(2, 0).await.unwrap()).unwrap();
    assert!(top.contains("Subject: Second") && !top.contains("deux"));
    assert_eq!(
        p.retr(1).await.unwrap(),
        first,
        "byte for byte, dot-stuffing undone"
    );
    p.dele(1).await.unwrap();
    p.rset().await.unwrap();
    p.dele(2).await.unwrap();
    p.quit().await.unwrap();
    assert_eq!(
        probe.uids("INBOX").await.len(),
        1,
        "only the message marked at QUIT is gone"
    );

    // The same unique id on the next session: what a download ledger relies on.
    let mut p = open(&acct, POP3S, Security::Tls).await.unwrap();
    assert_eq!(p.uidl().await.unwrap()[0].1, uidl[0].1);
    p.quit().await.unwrap();
}

#[tokio::test]
async fn a_second_session_is_told_the_maildrop_is_in_use() {
    let acct = new_account("pop3-lock");
    let holder = open(&acct, POP3S, Security::Tls).await.unwrap();
    // Dovecot waits about 12 s for the lock before saying [IN-USE].
    let second = open_waiting(&acct, POP3S, Security::Tls, Duration::from_secs(30)).await;
    assert!(matches!(second, Err(MailError::InUse)), "{second:?}");
    holder.quit().await.unwrap();
    let again = open(&acct, POP3S, Security::Tls).await.unwrap();
    again.quit().await.unwrap();
}
