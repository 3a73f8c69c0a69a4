//! The per-user IMAP pool as the user experiences it: no LOGIN per page, concurrent requests, a
//! cancelled request, idle connections closed and reopened, and a mail server restart, all without an
//! error page or a new login.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::imap_probe::{Probe, simple_message};
use crate::support::mailstack::{dovecot_logins, restart_imap};
use crate::support::{TestApp, new_account};

#[tokio::test]
async fn many_pages_cost_one_login() {
    let app = TestApp::start().await;
    let acct = new_account("pool-one");
    let before = dovecot_logins(&acct.address);
    app.login(&acct).await;
    for i in 0..30 {
        let path = if i % 2 == 0 {
            "/mail/INBOX"
        } else {
            "/mail/Sent"
        };
        app.page(path).await;
    }
    assert_eq!(app.state.pool.login_count(), 1);
    assert_eq!(
        dovecot_logins(&acct.address) - before,
        1,
        "Dovecot saw one login"
    );
}

#[tokio::test]
async fn concurrent_requests_of_one_user_all_succeed() {
    let app = TestApp::start().await;
    let acct = new_account("pool-conc");
    let mut probe = Probe::connect(&acct).await;
    for i in 0..5 {
        probe
            .append(
                "INBOX",
                "",
                &simple_message("a@example.test", &format!("Concurrent {i}"), "x"),
            )
            .await;
    }
    app.login(&acct).await;
    let (a, b, c, d, e, f) = tokio::join!(
        app.get("/mail/INBOX"),
        app.get("/mail/INBOX/1"),
        app.get("/mail/Sent"),
        app.get("/mail/INBOX/2"),
        app.get("/mail/INBOX/3/raw"),
        app.get("/mail/INBOX"),
    );
    for r in [a, b, c, d, e, f] {
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert!(app.state.pool.login_count() <= 3, "bounded per user");
    let page = app.page("/mail/INBOX").await;
    assert!(page.contains("Concurrent 4") && page.contains("Concurrent 0"));
}

#[tokio::test]
async fn a_request_abandoned_mid_fetch_leaves_the_connection_clean() {
    let app = TestApp::start().await;
    let acct = new_account("pool-cancel");
    let mut probe = Probe::connect(&acct).await;
    let big = "Ligne de texte assez longue pour faire du volume. ".repeat(120_000);
    probe
        .append(
            "INBOX",
            "",
            &simple_message("big@example.test", "Gros message", &big),
        )
        .await;
    probe
        .append(
            "INBOX",
            "",
            &simple_message("small@example.test", "Petit message", "MARKER-SMALL"),
        )
        .await;
    app.login(&acct).await;
    let impatient = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_millis(3))
        .build()
        .unwrap();
    // Share the session cookie with the impatient client.
    let (_, cookie) = crate::support::app::login_by_cookie(&app, &acct).await;
    for _ in 0..8 {
        let _ = impatient
            .get(format!("{}/mail/INBOX/1/raw", app.base))
            .header("cookie", &cookie)
            .send()
            .await;
    }
    let r = app
        .client
        .get(format!("{}/mail/INBOX/2", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("MARKER-SMALL"),
        "the next request reads its own answer"
    );
    let raw = app
        .client
        .get(format!("{}/mail/INBOX/1/raw", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(raw.len() > 5_000_000);
    assert!(
        app.state.pool.login_count() <= 4,
        "connections were reused, not leaked"
    );
}

#[tokio::test]
async fn idle_connections_close_and_reopen_without_the_user_noticing() {
    let app = TestApp::with(&[("COURRIER_POOL_IDLE_TIMEOUT_SECS", "1")]).await;
    let acct = new_account("pool-idle");
    app.login(&acct).await;
    app.page("/mail/INBOX").await;
    assert_eq!(app.state.pool.login_count(), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    app.page("/mail/INBOX").await;
    assert_eq!(
        app.state.pool.login_count(),
        2,
        "the reaped connection was reopened"
    );
}

/// Restarts Dovecot, which drops every IMAP connection of every test: it runs on its own
/// (`cargo test -- --ignored`, done by scripts/test after the main run).
#[tokio::test]
#[ignore = "restarts the shared Dovecot; run alone with --ignored"]
async fn mail_server_restart_is_invisible_to_the_user() {
    let app = TestApp::start().await;
    let acct = new_account("pool-restart");
    let mut probe = Probe::connect(&acct).await;
    probe
        .append(
            "INBOX",
            "",
            &simple_message("a@example.test", "Avant le redémarrage", "x"),
        )
        .await;
    drop(probe);
    app.login(&acct).await;
    assert!(
        app.page("/mail/INBOX")
            .await
            .contains("Avant le redémarrage")
    );
    restart_imap();
    // The pooled connection is dead; the next page reconnects and retries by itself.
    let page = app.page("/mail/INBOX").await;
    assert!(page.contains("Avant le redémarrage"));
    assert_eq!(app.state.pool.login_count(), 2);
    let page = app.page("/mail/INBOX/1").await;
    assert!(page.contains("Avant le redémarrage"));
}

#[tokio::test]
async fn the_total_cap_closes_idle_connections_of_others_instead_of_failing() {
    let app = TestApp::with(&[("COURRIER_POOL_MAX_TOTAL", "2")]).await;
    let users: Vec<_> = (0..4)
        .map(|i| new_account(&format!("pool-cap{i}")))
        .collect();
    let mut browsers = Vec::new();
    for u in &users {
        let b = app.other_browser();
        b.login(u).await;
        browsers.push(b);
    }
    // Every user still gets their pages, each time on a connection that had to make room.
    for (b, u) in browsers.iter().zip(&users) {
        let page = b.page("/mail/INBOX").await;
        assert!(page.contains(&u.address));
    }
}
