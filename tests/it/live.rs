//! Live sync: what another device does reaches an open page within seconds, through one watcher per
//! folder and session however many tabs are open.

use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::support::imap_probe::{Probe, simple_message};
use crate::support::mailstack::restart_imap;
use crate::support::{TestApp, new_account};

/// An open `/events` stream, read event by event.
pub(crate) struct Events {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

impl Events {
    pub(crate) async fn open(app: &TestApp, folder: &str) -> Events {
        let r = app
            .client
            .get(format!("{}/events?folder={folder}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Events {
            stream: Box::pin(r.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The data of the next `mail` event matching `pred`, waiting at most `within`.
    pub(crate) async fn next_matching(
        &mut self,
        within: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if !block.contains("event: mail") {
                    continue;
                }
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap_or("{}");
                let v: serde_json::Value = serde_json::from_str(data).unwrap();
                if pred(&v) {
                    return v;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(other) => panic!("event stream ended: {other:?}"),
                Err(_) => panic!("no matching event within {within:?}"),
            }
        }
    }
}

#[tokio::test]
async fn changes_by_another_device_reach_the_page_within_two_seconds() {
    let app = TestApp::start().await;
    let acct = new_account("live");
    app.login(&acct).await;
    let mut events = Events::open(&app, "INBOX").await;
    // The watcher starts by telling the current state.
    events
        .next_matching(Duration::from_secs(5), |v| v["messages"] == 0)
        .await;

    let mut phone = Probe::connect(&acct).await;
    let t = Instant::now();
    phone
        .append(
            "INBOX",
            "",
            &simple_message("Zoé <zoe@example.test>", "Nouveau message en direct", "x"),
        )
        .await;
    let v = events
        .next_matching(Duration::from_secs(2), |v| v["messages"] == 1)
        .await;
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(v["unseen"], 1);
    assert_eq!(v["arrived"][0]["subject"], "Nouveau message en direct");
    assert_eq!(v["arrived"][0]["from"], "Zoé");
    assert_eq!(v["arrived"][0]["url"], "/mail/INBOX/1");

    phone.ok("SELECT INBOX").await;
    phone.ok("UID STORE 1 +FLAGS (\\Seen)").await;
    events
        .next_matching(Duration::from_secs(2), |v| v["unseen"] == 0)
        .await;

    phone.ok("UID STORE 1 +FLAGS (\\Deleted)").await;
    phone.ok("EXPUNGE").await;
    events
        .next_matching(Duration::from_secs(2), |v| v["messages"] == 0)
        .await;
}

#[tokio::test]
async fn five_tabs_share_one_watcher_which_stops_with_the_last_tab() {
    let app = TestApp::start().await;
    let acct = new_account("live-tabs");
    app.login(&acct).await;
    app.page("/mail/INBOX").await;
    let logins_before = app.state.pool.login_count();
    let mut tabs = Vec::new();
    for _ in 0..5 {
        let mut e = Events::open(&app, "INBOX").await;
        e.next_matching(Duration::from_secs(5), |_| true).await;
        tabs.push(e);
    }
    assert_eq!(app.state.watchers.count(), 1, "one watcher for five tabs");
    assert_eq!(
        app.state.pool.login_count() - logins_before,
        1,
        "one more IMAP connection in all"
    );
    // Pages still load while the watcher idles: it never takes a pooled connection.
    app.page("/mail/INBOX").await;
    drop(tabs);
    let t = Instant::now();
    while app.state.watchers.count() > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "watcher did not stop"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Restarts Dovecot: run alone with the other `--ignored` tests.
#[tokio::test]
#[ignore = "restarts the shared Dovecot; run alone with --ignored"]
async fn the_watcher_reconnects_after_a_server_restart() {
    let app = TestApp::start().await;
    let acct = new_account("live-restart");
    app.login(&acct).await;
    let mut events = Events::open(&app, "INBOX").await;
    events.next_matching(Duration::from_secs(5), |_| true).await;
    restart_imap();
    let mut phone = Probe::connect(&acct).await;
    phone
        .append(
            "INBOX",
            "",
            &simple_message("a@example.test", "Après redémarrage", "x"),
        )
        .await;
    let v = events
        .next_matching(Duration::from_secs(10), |v| v["messages"] == 1)
        .await;
    assert_eq!(v["folder"], "INBOX");
}

#[tokio::test]
async fn logging_out_stops_the_watcher() {
    let app = TestApp::start().await;
    let acct = new_account("live-logout");
    app.login(&acct).await;
    let page = app.page("/mail/INBOX").await;
    let mut events = Events::open(&app, "INBOX").await;
    events.next_matching(Duration::from_secs(5), |_| true).await;
    assert_eq!(app.state.watchers.count(), 1);
    let key = "name=\"csrf\" value=\"";
    let s = page.find(key).unwrap() + key.len();
    let token = page[s..s + page[s..].find('"').unwrap()].to_owned();
    app.post_form("/logout", &[("csrf", &token)], "en").await;
    let t = Instant::now();
    while app.state.watchers.count() > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "watcher outlived the session"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
