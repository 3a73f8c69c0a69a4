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

/// SIGTERM, as an orchestrator sends before an upgrade: event streams end with a reconnect hint,
/// the process exits by itself, cleanly, well within the deadline, and says so.
#[tokio::test]
async fn sigterm_ends_event_streams_and_stops_cleanly() {
    let server = crate::security::Logged::start(&[]).await;
    let acct = crate::support::new_account("sigterm");
    let (browser, r) = crate::support::browser_logged_in(&server.base, &acct).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mut events = browser
        .get(format!("{}/events?folder=INBOX", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    // The stream is open (its first bytes: the watcher's state).
    let first = tokio::time::timeout(Duration::from_secs(10), events.chunk())
        .await
        .expect("an event within 10 s")
        .unwrap();
    assert!(first.is_some());
    let pid = server.child.id().to_string();
    let start = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), events.chunk())
        .await
        .expect("the stream ends, it does not hang")
        .unwrap_or(None)
    {
        rest.extend_from_slice(&chunk);
    }
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("retry: 2000"), "a reconnect hint: {rest}");
    let mut server = server;
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
    let log = server.stop();
    assert!(
        log.contains("stopping: finishing requests in flight"),
        "{log}"
    );
    assert!(log.contains("stopped"), "{log}");
}

/// The container's contract, without a container: the binary as an unprivileged user, configured
/// only from the environment as the Dockerfile sets it, and its own `--healthcheck` answering.
#[tokio::test]
async fn the_image_entrypoint_runs_unprivileged_from_the_environment() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = std::env::temp_dir().join(format!("courrier-image-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&data).unwrap();
    let chown = std::process::Command::new("chown")
        .args(["nobody", data.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(chown.success());
    let env = crate::support::app::test_env(&[
        ("COURRIER_SERVER_LISTEN", &format!("0.0.0.0:{port}")),
        ("COURRIER_SERVER_DATA_DIR", data.to_str().unwrap()),
    ]);
    // The binary where any user may run it, as /usr/local/bin in the image.
    let bin = data.with_extension("bin");
    std::fs::copy(env!("CARGO_BIN_EXE_courrier"), &bin).unwrap();
    let run = |args: &[&str]| {
        use std::os::unix::process::CommandExt;
        // nobody:nogroup, as the image's own unprivileged user.
        let mut c = std::process::Command::new(&bin);
        c.args(args)
            .env_clear()
            .envs(env.clone())
            .uid(65534)
            .gid(65534);
        c
    };
    let before = run(&["--healthcheck"]).output().unwrap();
    assert!(!before.status.success(), "nothing runs yet");
    let mut child = run(&[]).spawn().unwrap();
    let mut healthy = false;
    for _ in 0..100 {
        if run(&["--healthcheck"]).status().unwrap().success() {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let key = std::fs::metadata(data.join("secret.key"));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(
        healthy,
        "--healthcheck reached /healthz on 0.0.0.0's loopback"
    );
    assert!(status.success(), "{status:?}");
    let key = key.expect("the key made in the data directory");
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    assert_ne!(key.uid(), 0, "written by the unprivileged user");
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_file(&bin);
}

/// The metrics listener: latency by route pattern (never a user's path), IMAP command latency by
/// name, logins, pool connections; nothing that names a user.
#[tokio::test]
async fn metrics_count_by_route_pattern_and_name_no_user() {
    let app = TestApp::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_base = format!("http://{}", listener.local_addr().unwrap());
    let router = courrier::app::metrics_router(app.state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let acct = crate::support::new_account("metrics");
    app.login(&acct).await;
    app.page("/mail/INBOX").await;
    app.page("/mail/INBOX?page=2").await;
    let r = reqwest::get(format!("{metrics_base}/metrics"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text().await.unwrap();
    for expected in [
        "courrier_http_request_duration_seconds_count{route=\"/mail/{folder}\",method=\"GET\",status=\"200\"}",
        "courrier_logins_total{outcome=\"ok\"}",
        "courrier_imap_command_duration_seconds_count{command=\"SELECT\"}",
        "courrier_imap_connections{state=\"open\"}",
        "courrier_event_streams_open",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    assert!(!text.contains(&acct.address), "no address in the metrics");
    assert!(!text.contains("INBOX?page"), "no raw path");
    // Not on the users' listener.
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND);
}

/// Mail servers that accept a connection and never answer: the user gets a clear page within
/// the deadline, and the instance keeps serving others meanwhile.
#[tokio::test]
async fn a_mail_server_that_never_answers_gives_a_clear_error_in_time() {
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = hung.local_addr().unwrap().port().to_string();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            open.push(s);
        }
    });
    let app = TestApp::with(&[
        ("COURRIER_IMAP_PORT", &port),
        ("COURRIER_POP3_PORT", &port),
        ("COURRIER_DOMAINS_PROTOCOLS", "both"),
        ("COURRIER_POOL_COMMAND_TIMEOUT_SECS", "3"),
    ])
    .await;
    let acct = crate::support::new_account("hung");
    for (protocol, within) in [("imap", 15), ("pop3", 15)] {
        let start = Instant::now();
        let fields = [
            ("email", acct.address.as_str()),
            ("password", acct.password.as_str()),
            ("protocol", protocol),
        ];
        let login = app.post_login(&fields, "en");
        let other = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let t = Instant::now();
            assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
            t.elapsed()
        };
        let (r, healthz_took) = tokio::join!(login, other);
        let took = start.elapsed();
        assert!(
            healthz_took < Duration::from_secs(1),
            "others are served meanwhile"
        );
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{protocol}: the login page again"
        );
        let page = html_escape::decode_html_entities(&r.text().await.unwrap()).into_owned();
        assert!(
            page.contains("did not answer in time") || page.contains("cannot be reached"),
            "{protocol}: {page}"
        );
        assert!(took < Duration::from_secs(within), "{protocol}: {took:?}");
    }
    held.abort();
}
