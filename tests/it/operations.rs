//! What operators and their load balancers rely on: health and readiness answers.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::support::TestApp;

#[tokio::test]
async fn healthz_and_readyz_answer_without_login_or_cookie() {
    let app = TestApp::start().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session for a probe"
    );
    assert_eq!(r.text().await.unwrap(), "ok\n");
    let r = app.get("/readyz").await;
    assert!(r.headers().get("set-cookie").is_none());
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("session store: ok"), "{body}");
    assert!(body.contains("imap 127.0.0.1:10143: ok"), "{body}");
    assert!(body.contains("smtp 127.0.0.1:10587: ok"), "{body}");
}

/// A mail server that accepts and never greets, or that is down, makes the instance not ready,
/// and says which, within the deadline.
#[tokio::test]
async fn readyz_names_a_mail_server_that_does_not_greet() {
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_port = hung.local_addr().unwrap().port().to_string();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            open.push(s);
        }
    });
    let app = TestApp::with(&[("COURRIER_IMAP_PORT", &hung_port)]).await;
    let start = Instant::now();
    let r = app.get("/readyz").await;
    let took = start.elapsed();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = r.text().await.unwrap();
    assert!(
        took < Duration::from_secs(5),
        "answered within the deadline: {took:?}"
    );
    assert!(
        body.contains(&format!("imap 127.0.0.1:{hung_port}: ")),
        "{body}"
    );
    assert!(
        !body.contains(&format!("imap 127.0.0.1:{hung_port}: ok")),
        "{body}"
    );
    assert!(body.contains("smtp 127.0.0.1:10587: ok"), "{body}");
    held.abort();

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let app = TestApp::with(&[("COURRIER_SMTP_PORT", &closed)]).await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = r.text().await.unwrap();
    assert!(body.contains("imap 127.0.0.1:10143: ok"), "{body}");
    assert!(
        body.contains(&format!("smtp 127.0.0.1:{closed}: mail server unreachable")),
        "{body}"
    );
}
