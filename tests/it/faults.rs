//! Faults a real server rarely shows on demand, injected by a proxy in front of Dovecot: the user
//! still gets their page, or a clear "try again" page, and never has to log in again.

use reqwest::StatusCode;

use crate::support::imap_probe::{Probe, simple_message};
use crate::support::proxy::FaultProxy;
use crate::support::{TestApp, new_account};

#[tokio::test]
async fn a_malformed_server_reply_is_survived_on_a_new_connection() {
    let proxy = FaultProxy::start().await;
    let app = TestApp::behind(&proxy).await;
    let acct = new_account("fault-garble");
    let mut probe = Probe::connect(&acct).await;
    probe
        .append(
            "INBOX",
            "",
            &simple_message("a@example.test", "Toujours lisible", "x"),
        )
        .await;
    app.login(&acct).await;
    proxy.garble_next_fetch();
    let page = app.page("/mail/INBOX").await;
    assert_eq!(proxy.fired(), 1, "the fault was injected");
    assert!(page.contains("Toujours lisible"));
    assert_eq!(
        app.state.pool.login_count(),
        2,
        "the broken connection was replaced"
    );
    // And the replacement keeps serving.
    assert!(app.page("/mail/INBOX/1").await.contains("Toujours lisible"));
}

#[tokio::test]
async fn a_connection_cut_mid_fetch_is_retried() {
    let proxy = FaultProxy::start().await;
    let app = TestApp::behind(&proxy).await;
    let acct = new_account("fault-cut");
    let mut probe = Probe::connect(&acct).await;
    let body = "0123456789abcdef".repeat(64 * 1024);
    let msg = simple_message("big@example.test", "Gros", &body);
    probe.append("INBOX", "", &msg).await;
    app.login(&acct).await;
    proxy.cut_next_response_after(200 * 1024);
    let r = app.get("/mail/INBOX/1/raw").await;
    assert_eq!(r.status(), StatusCode::OK);
    let got = r.bytes().await.unwrap();
    assert_eq!(proxy.fired(), 1);
    assert_eq!(got.len(), msg.len(), "the whole message, fetched again");
}

#[tokio::test]
async fn a_server_outage_gives_a_clear_page_and_no_new_login() {
    let proxy = FaultProxy::start().await;
    let app = TestApp::behind(&proxy).await;
    let acct = new_account("fault-down");
    app.login(&acct).await;
    app.page("/mail/INBOX").await;
    proxy.set_down(true);
    let r = app.get("/mail/INBOX").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("The mail server cannot be reached right now"),
        "{body}"
    );
    let fr = app
        .get_lang("/mail/INBOX", "fr")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        fr.contains("Le serveur de messagerie est injoignable"),
        "{fr}"
    );
    proxy.set_down(false);
    let page = app.page("/mail/INBOX").await;
    assert!(
        page.contains(&acct.address),
        "back without logging in again"
    );
}
