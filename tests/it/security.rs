//! Who gets in, and what a forged request can do: the login form's token, throttling of wrong
//! passwords (per account and per client, the client taken from X-Forwarded-For only behind a
//! trusted proxy), session fixation, logout, the token on every state-changing request, IMAP
//! command injection through what users type, and no secret in the log at any level.

use reqwest::{Client, StatusCode, redirect};
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};

use crate::support::app::{login_by_cookie, session_cookie};
use crate::support::form_token;
use crate::support::imap_probe::{Probe, simple_message};
use crate::support::mailstack::dovecot_logins;
use crate::support::{TestApp, new_account};

/// A browser whose cookies the test handles itself, to see and replay session ids.
fn bare_client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// Posts the login form from client address `from` (an `X-Forwarded-For` header).
async fn login_from(app: &TestApp, from: &str, email: &str, password: &str) -> String {
    let page = app
        .client
        .get(format!("{}/login", app.base))
        .header("x-forwarded-for", from)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = form_token(&page);
    let r = app
        .client
        .post(format!("{}/login", app.base))
        .header("x-forwarded-for", from)
        .header("accept-language", "en")
        .form(&[("email", email), ("password", password), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    if r.status() == StatusCode::SEE_OTHER {
        return "logged in".into();
    }
    r.text().await.unwrap()
}

#[tokio::test]
async fn a_login_without_the_form_token_tries_nothing() {
    let app = TestApp::start().await;
    let acct = new_account("sec-login-csrf");
    // A form posted from another site: right password, no token.
    let r = app
        .post_form(
            "/login",
            &[("email", &acct.address), ("password", &acct.password)],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(body.contains("This sign-in page had expired"), "{body}");
    assert_eq!(dovecot_logins(&acct.address), 0, "the server was not asked");
    assert_eq!(app.get("/mail/INBOX").await.status(), StatusCode::SEE_OTHER);
    // Nor does another browser's token work.
    let other = app.other_browser();
    let foreign = form_token(&other.page("/login").await);
    app.page("/login").await;
    let r = app
        .post_form(
            "/login",
            &[
                ("email", &acct.address),
                ("password", &acct.password),
                ("csrf", &foreign),
            ],
            "fr",
        )
        .await;
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Cette page de connexion avait expiré"),
        "{body}"
    );
    assert_eq!(dovecot_logins(&acct.address), 0);
    // The form as shown works.
    app.login(&acct).await;
}

#[tokio::test]
async fn wrong_passwords_are_throttled_and_the_owner_still_gets_in() {
    let app = TestApp::with(&[("COURRIER_SERVER_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let acct = new_account("sec-throttle");
    let (home, attacker, elsewhere) = ("192.0.2.10", "198.51.100.5", "203.0.113.7");
    // The owner logged in from home before.
    assert_eq!(
        login_from(&app, home, &acct.address, &acct.password).await,
        "logged in"
    );
    let logins = dovecot_logins(&acct.address);
    let fresh = app.other_browser();
    for _ in 0..5 {
        let body = login_from(&fresh, attacker, &acct.address, "guess").await;
        assert!(body.contains("The address or password is wrong"), "{body}");
    }
    let body = login_from(&fresh, attacker, &acct.address, "guess").await;
    assert!(body.contains("Too many attempts. Wait"), "{body}");
    // The account waits from any address not known for it, even with the right password...
    let body = login_from(&fresh, elsewhere, &acct.address, &acct.password).await;
    assert!(body.contains("Too many attempts. Wait"), "{body}");
    assert_eq!(
        dovecot_logins(&acct.address),
        logins,
        "throttled attempts never reach the server"
    );
    // ...but its owner, from home, is not locked out.
    let owner = app.other_browser();
    assert_eq!(
        login_from(&owner, home, &acct.address, &acct.password).await,
        "logged in"
    );
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_does_not_escape_throttling() {
    let app = TestApp::start().await;
    let acct = new_account("sec-xff");
    for i in 0..5 {
        let from = format!("198.51.100.{i}");
        login_from(&app, &from, &acct.address, "guess").await;
    }
    // A new "address" in the header changes nothing: the peer is not a trusted proxy.
    let body = login_from(&app, "203.0.113.99", &acct.address, &acct.password).await;
    assert!(body.contains("Too many attempts. Wait"), "{body}");
}

#[tokio::test]
async fn the_session_id_changes_at_login_and_dies_at_logout() {
    let app = TestApp::start().await;
    let acct = new_account("sec-fixation");
    let client = bare_client();
    let (planted, session) = login_by_cookie(&app, &acct).await;
    assert_ne!(
        session, planted,
        "an id known before login is worth nothing after it"
    );
    let get = |cookie: String| {
        let client = client.clone();
        let url = format!("{}/mail/INBOX", app.base);
        async move {
            client
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(get(planted.clone()).await.status(), StatusCode::SEE_OTHER);
    let page = get(session.clone()).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = form_token(&page.text().await.unwrap());
    // Logging out is a POST with the token; afterwards the id opens nothing.
    let r = client
        .get(format!("{}/logout", app.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = client
        .post(format!("{}/logout", app.base))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(get(session).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_state_changing_request_needs_the_session_token() {
    let app = TestApp::start().await;
    let acct = new_account("sec-csrf-all");
    let mut probe = Probe::connect(&acct).await;
    probe
        .append(
            "INBOX",
            "",
            &simple_message("a@example.test", "Garde-moi", "x"),
        )
        .await;
    app.login(&acct).await;
    let other = app.other_browser();
    other.login(&new_account("sec-csrf-other")).await;
    let foreign = form_token(&other.page("/mail/INBOX").await);
    let uid = probe.uids("INBOX").await[0].to_string();
    let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "/mail/INBOX/actions",
            vec![("uid", &uid), ("action", "delete")],
        ),
        ("/mail/INBOX/empty", vec![("confirm", "1")]),
        ("/folders/create", vec![("name", "Forgé"), ("parent", "")]),
        (
            "/folders/delete",
            vec![("folder", "INBOX"), ("confirm", "1")],
        ),
        (
            "/folders/subscribe",
            vec![("folder", "INBOX"), ("subscribed", "0")],
        ),
        (
            "/settings",
            vec![("display_name", "Forged"), ("signature", "x")],
        ),
        ("/logout", vec![]),
    ];
    for (path, fields) in &forms {
        for token in [None, Some(foreign.as_str())] {
            let mut f = fields.clone();
            if let Some(t) = token {
                f.push(("csrf", t));
            }
            let r = app.post_form(path, &f, "en").await;
            assert_eq!(
                r.status(),
                StatusCode::BAD_REQUEST,
                "{path} with token {token:?}"
            );
        }
    }
    // A forged compose post sends nothing.
    let form = reqwest::multipart::Form::new()
        .text("csrf", foreign.clone())
        .text("to", acct.address.clone())
        .text("subject", "Forged")
        .text("body", "x")
        .text("action", "send");
    let r = app
        .client
        .post(format!("{}/compose", app.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), StatusCode::SEE_OTHER, "not sent");
    // Nothing changed, and the session lives.
    assert_eq!(probe.uids("INBOX").await.len(), 1);
    assert!(!probe.list().await.iter().any(|f| f.contains("Forg")));
    assert!(app.page("/settings").await.contains("value=\"\""));
    app.page("/mail/INBOX").await;
}

#[tokio::test]
async fn what_users_type_cannot_inject_imap_commands() {
    let app = TestApp::start().await;
    let acct = new_account("sec-inject");
    let mut probe = Probe::connect(&acct).await;
    probe
        .append(
            "INBOX",
            "",
            &simple_message("a@example.test", "Témoin", "x"),
        )
        .await;
    app.login(&acct).await;
    let page = app.page("/mail/INBOX").await;
    let token = form_token(&page);
    for q in [
        "x\r\nA1 DELETE INBOX",
        "\") OR ALL\r\nA2 CREATE Pwned",
        "{5}\r\nhello",
        "\\\" \\",
    ] {
        let url = format!("/mail/INBOX?q={}", urlencode(q));
        assert_eq!(app.get(&url).await.status(), StatusCode::OK, "{q:?}");
        let url = format!("/search?q={}", urlencode(q));
        assert_eq!(app.get(&url).await.status(), StatusCode::OK, "{q:?}");
    }
    for name in ["a\r\nA3 DELETE INBOX", "b\" \"c", "Pwned {3}\r\nabc"] {
        app.post_form(
            "/folders/create",
            &[("csrf", &token), ("name", name), ("parent", "")],
            "en",
        )
        .await;
    }
    let folders = probe.list().await;
    assert!(folders.iter().any(|f| f.contains("INBOX")), "{folders:?}");
    assert!(!folders.iter().any(|f| f == "Pwned"), "{folders:?}");
    assert!(
        !folders.iter().any(|f| f.contains('\r') || f.contains('\n')),
        "{folders:?}"
    );
    assert_eq!(probe.uids("INBOX").await.len(), 1, "INBOX intact");
    assert!(app.page("/mail/INBOX").await.contains("Témoin"));
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The real binary, its log (everything, at `trace`) going to a file the test reads afterwards.
pub(crate) struct Logged {
    pub(crate) child: std::process::Child,
    log: std::path::PathBuf,
    pub(crate) base: String,
}

impl Logged {
    pub(crate) async fn start(extra: &[(&str, &str)]) -> Logged {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let mut settings = vec![("COURRIER_SERVER_LISTEN", listen.as_str())];
        settings.extend_from_slice(extra);
        let log =
            std::env::temp_dir().join(format!("courrier-log-{}-{port}.txt", std::process::id()));
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_courrier"))
            .env_clear()
            .envs(crate::support::app::test_env(&settings))
            // The most an operator could ask for.
            .env("RUST_LOG", "trace,async_imap=trace,lettre=trace")
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap())
            .spawn()
            .unwrap();
        let base = format!("http://{listen}");
        for _ in 0..100 {
            if reqwest::get(format!("{base}/login")).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Logged { child, log, base }
    }

    pub(crate) fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        text
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test]
async fn passwords_and_session_ids_never_reach_the_log() {
    let server = Logged::start(&[]).await;
    let alice = new_account("log-alice");
    let bob = new_account("log-bob");
    let browser = Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let login = |password: String| {
        let (browser, base, address) =
            (browser.clone(), server.base.clone(), alice.address.clone());
        async move { crate::support::app::log_in(&browser, &base, &address, &password).await }
    };
    let wrong = "Wr0ng-Secret-Typed-By-Mistake";
    assert_eq!(login(wrong.to_owned()).await.status(), StatusCode::OK);
    let r = login(alice.password.clone()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "logged in");
    let cookie = session_cookie(&r).expect("a session cookie");
    // Something that uses the password again: IMAP pages, and SMTP to send.
    let page = browser
        .get(format!("{}/compose", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", form_token(&page))
        .text("to", bob.address.clone())
        .text("subject", "Journal")
        .text("body", "Rien de secret ici.")
        .text("action", "send");
    let r = browser
        .post(format!("{}/compose", server.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sent");
    let mut probe = Probe::connect(&bob).await;
    probe.wait_for("INBOX", 1).await;

    let log = server.stop();
    assert!(
        log.contains("Courrier is serving") && log.lines().count() > 20,
        "the log was captured ({} lines)",
        log.lines().count()
    );
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let session_id = cookie.split_once('=').unwrap().1;
    for (what, secret) in [
        ("the password", alice.password.clone()),
        ("a wrong password", wrong.to_owned()),
        (
            "SASL PLAIN",
            b64(&format!("\0{}\0{}", alice.address, alice.password)),
        ),
        ("SMTP AUTH LOGIN", b64(&alice.password)),
        ("the session id", session_id.to_owned()),
    ] {
        assert!(!log.contains(&secret), "{what} is in the log");
    }
}

/// Rewrites the stored record of a session, as the passing of time would.
async fn age_session(app: &TestApp, cookie: &str, change: impl FnOnce(&mut Record)) {
    let id: Id = cookie.split_once('=').unwrap().1.parse().unwrap();
    let mut record = app.state.sessions.load(&id).await.unwrap().expect("stored");
    change(&mut record);
    app.state.sessions.save(&record).await.unwrap();
}

#[tokio::test]
async fn a_session_ends_when_idle_and_after_its_lifetime_however_active() {
    let app = TestApp::start().await;
    let acct = new_account("sec-expiry");
    let inbox = |cookie: String| {
        let url = format!("{}/mail/INBOX", app.base);
        async move {
            bare_client()
                .get(url)
                .header("cookie", cookie)
                .header("accept-language", "en")
                .send()
                .await
                .unwrap()
        }
    };
    let pool_key = |cookie: String| {
        let sessions = app.state.sessions.clone();
        async move {
            let id: Id = cookie.split_once('=').unwrap().1.parse().unwrap();
            let record = sessions.load(&id).await.unwrap().unwrap();
            record.data["user"]["pool_key"].as_str().unwrap().to_owned()
        }
    };

    // Active, but logged in 12 hours and a minute ago: sent to the login page, told why, and the
    // password held for it is gone.
    let session = login_by_cookie(&app, &acct).await.1;
    assert_eq!(inbox(session.clone()).await.status(), StatusCode::OK);
    let key = pool_key(session.clone()).await;
    assert!(app.state.pool.knows(&key));
    age_session(&app, &session, |r| {
        let login_at = r.data["user"]["login_at"].as_i64().unwrap();
        r.data.get_mut("user").unwrap()["login_at"] = (login_at - 12 * 3600 - 60).into();
    })
    .await;
    let r = inbox(session.clone()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let login = r.headers()["location"].to_str().unwrap().to_owned();
    let page = app.page(&login).await;
    assert!(page.contains("Your session has ended"), "{login}: {page}");
    assert!(!app.state.pool.knows(&key), "the password was dropped");
    assert_eq!(inbox(session).await.status(), StatusCode::SEE_OTHER);

    // Idle past its timeout: the id opens nothing, and the purge forgets it.
    let session = login_by_cookie(&app, &acct).await.1;
    assert_eq!(inbox(session.clone()).await.status(), StatusCode::OK);
    age_session(&app, &session, |r| {
        r.expiry_date = OffsetDateTime::now_utc() - tower_sessions::cookie::time::Duration::SECOND;
    })
    .await;
    assert_eq!(inbox(session.clone()).await.status(), StatusCode::SEE_OTHER);
    let before = app.state.sessions.len();
    assert!(app.state.sessions.purge() >= 1);
    assert!(app.state.sessions.len() < before);
}

/// A form that cannot be read (not a form at all, a field given twice where one is expected) gets
/// Courrier's own error page in the reader's language, and changes nothing.
#[tokio::test]
async fn a_form_that_cannot_be_read_gets_the_error_page_in_the_users_language() {
    let app = TestApp::start().await;
    let acct = new_account("sec-bad-form");
    app.login(&acct).await;
    let token = form_token(&app.page("/settings").await);
    let send = |content_type: &'static str, body: String| {
        app.client
            .post(format!("{}/settings", app.base))
            .header("accept-language", "fr")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let twice = format!("csrf={token}&display_name=Un&display_name=Deux&signature=x");
    let json = format!(r#"{{"csrf":"{token}","display_name":"Forged"}}"#);
    for (ct, body) in [
        ("application/x-www-form-urlencoded", twice),
        ("application/json", json),
    ] {
        let r = send(ct, body).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{ct}");
        let page = r.text().await.unwrap();
        let text = html_escape::decode_html_entities(&page).into_owned();
        assert!(text.contains("Cette requête n'est pas valide"), "{text}");
        assert!(
            !page.contains("Failed to deserialize"),
            "not the framework's text"
        );
    }
    let settings = app.page("/settings").await;
    assert!(!settings.contains("Forged") && !settings.contains("Deux"));
}

/// A URL that cannot be read (a page number that is not one, a UID that is not one, a path that
/// does not decode) gets Courrier's own page in the reader's language, never the framework's text.
#[tokio::test]
async fn a_url_that_cannot_be_read_gets_the_error_page_in_the_users_language() {
    let app = TestApp::start().await;
    let acct = new_account("sec-bad-url");
    app.login(&acct).await;
    for (path, status, words) in [
        (
            "/search?q=x&page=abc",
            StatusCode::BAD_REQUEST,
            "Cette requête n'est pas valide",
        ),
        (
            "/compose?uid=-1",
            StatusCode::BAD_REQUEST,
            "Cette requête n'est pas valide",
        ),
        ("/mail/INBOX/abc", StatusCode::NOT_FOUND, "Ce message"),
        (
            "/mail/%FF%FE",
            StatusCode::BAD_REQUEST,
            "Cette requête n'est pas valide",
        ),
    ] {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .header("accept-language", "fr")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path}");
        let text = html_escape::decode_html_entities(&r.text().await.unwrap()).into_owned();
        assert!(text.contains(words), "{path}: {text}");
        assert!(!text.contains("Failed to deserialize"), "{path}");
        assert!(!text.contains("Invalid URL"), "{path}");
    }
}

/// `log.format = "json"`: one object a line, the lines of a request carrying its id, and still no
/// password or session id at the most detailed level.
#[tokio::test]
async fn json_logs_are_an_object_a_line_with_the_request_id_and_no_secret() {
    let server = Logged::start(&[("COURRIER_LOG_FORMAT", "json")]).await;
    let alice = new_account("log-json");
    let (browser, r) = crate::support::browser_logged_in(&server.base, &alice).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = session_cookie(&r).expect("a session cookie");
    let r = browser
        .get(format!("{}/mail/INBOX", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let log = server.stop();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 10, "{} lines", lines.len());
    assert!(
        lines.iter().any(|l| l["span"]["id"] == id.as_str()),
        "a line of the request {id} carries its id"
    );
    let session_id = cookie.split_once('=').unwrap().1;
    assert!(!log.contains(&alice.password), "the password is in the log");
    assert!(!log.contains(session_id), "the session id is in the log");
}
