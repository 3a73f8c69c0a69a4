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

mod download {
    use super::*;
    use courrier::mail::FolderName;
    use courrier::mail::local::LocalStore;
    use courrier::mail::pop3::sync::{SyncOptions, sync};

    use crate::support::proxy::FaultProxy;

    struct Setup {
        acct: Account,
        probe: Probe,
        dir: std::path::PathBuf,
        store: LocalStore,
    }

    impl Setup {
        async fn new(tag: &str, n: usize) -> Setup {
            let acct = new_account(tag);
            let mut probe = Probe::connect(&acct).await;
            for i in 0..n {
                probe
                    .append(
                        "INBOX",
                        "",
                        &simple_message(
                            "a@example.test",
                            &format!("POP {i}"),
                            &"texte ".repeat(200),
                        ),
                    )
                    .await;
            }
            let dir = std::env::temp_dir().join(format!("courrier-pop-{}", rand::random::<u64>()));
            let store = LocalStore::new(dir.join("Maildir"));
            Setup {
                acct,
                probe,
                dir,
                store,
            }
        }

        fn ledger(&self) -> std::path::PathBuf {
            self.dir.join("ledger.toml")
        }

        async fn run(&self, opts: SyncOptions) -> courrier::mail::pop3::sync::SyncReport {
            let pop = open(&self.acct, POP3S, Security::Tls).await.unwrap();
            sync(pop, &self.store, &self.ledger(), opts).await.unwrap()
        }

        async fn local(&self) -> usize {
            self.store.count(&FolderName::inbox()).await.unwrap()
        }
    }

    const DAY: i64 = 86_400;

    fn keep(days: Option<u32>, now: i64) -> SyncOptions {
        SyncOptions {
            keep_copy: true,
            delete_after_days: days,
            now,
        }
    }

    #[tokio::test]
    async fn keep_a_copy_downloads_once_and_leaves_the_server_alone() {
        let mut s = Setup::new("pop-keep", 5).await;
        let r = s.run(keep(None, 1_000 * DAY)).await;
        assert_eq!((r.downloaded, r.deleted_on_server), (5, 0));
        assert_eq!(s.local().await, 5);
        assert_eq!(s.probe.uids("INBOX").await.len(), 5, "still on the server");
        let r = s.run(keep(None, 1_000 * DAY)).await;
        assert_eq!(r.downloaded, 0, "tracked by UIDL: never twice");
        assert_eq!(s.local().await, 5);
        s.probe
            .append(
                "INBOX",
                "",
                &simple_message("a@example.test", "Nouveau", "x"),
            )
            .await;
        assert_eq!(s.run(keep(None, 1_000 * DAY)).await.downloaded, 1);
        assert_eq!(s.local().await, 6);
    }

    #[tokio::test]
    async fn without_a_copy_the_server_is_emptied_after_the_local_copy_is_safe() {
        let mut s = Setup::new("pop-nokeep", 4).await;
        let r = s
            .run(SyncOptions {
                keep_copy: false,
                delete_after_days: None,
                now: 0,
            })
            .await;
        assert_eq!((r.downloaded, r.deleted_on_server), (4, 4));
        assert_eq!(s.local().await, 4);
        assert!(s.probe.uids("INBOX").await.is_empty());
    }

    #[tokio::test]
    async fn delete_after_n_days_counts_from_the_download() {
        let mut s = Setup::new("pop-days", 3).await;
        let day0 = 20_000 * DAY;
        s.run(keep(Some(7), day0)).await;
        assert_eq!(s.probe.uids("INBOX").await.len(), 3);
        let r = s.run(keep(Some(7), day0 + 6 * DAY)).await;
        assert_eq!(r.deleted_on_server, 0, "not yet");
        assert_eq!(s.probe.uids("INBOX").await.len(), 3);
        let r = s.run(keep(Some(7), day0 + 7 * DAY)).await;
        assert_eq!(r.deleted_on_server, 3);
        assert!(s.probe.uids("INBOX").await.is_empty());
        assert_eq!(s.local().await, 3, "the local copies stay");
    }

    #[tokio::test]
    async fn a_connection_cut_mid_download_loses_nothing_and_duplicates_nothing() {
        let mut s = Setup::new("pop-cut", 6).await;
        let proxy = FaultProxy::start_to(POP3).await;
        // Past the greeting, login and UIDL, inside the third or so RETR.
        proxy.cut_next_response_after(3_000);
        let tls = tls_settings(Some(&stack().ca_file)).unwrap();
        let server = Server {
            host: "127.0.0.1".into(),
            port: proxy.port,
            security: Security::None,
        };
        let creds = Credentials::new(s.acct.address.clone(), s.acct.password.clone());
        let pop = client::connect(&server, &tls, &creds, Duration::from_secs(10))
            .await
            .unwrap();
        let opts = SyncOptions {
            keep_copy: false,
            delete_after_days: None,
            now: 0,
        };
        let cut = sync(pop, &s.store, &s.ledger(), opts).await;
        assert!(cut.is_err(), "the cut is reported");
        assert_eq!(proxy.fired(), 1);
        let partial = s.local().await;
        assert!(partial < 6, "cut before the end ({partial})");
        assert_eq!(
            s.probe.uids("INBOX").await.len(),
            6,
            "nothing deleted on the server without QUIT"
        );
        let r = s.run(opts).await;
        assert_eq!(
            r.downloaded,
            6 - partial,
            "the rest, not the ones already safe"
        );
        assert_eq!(s.local().await, 6, "each message exactly once");
        assert!(s.probe.uids("INBOX").await.is_empty());
    }
}
