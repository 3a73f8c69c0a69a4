//! Logging in and out: the right password gets in, and each kind of failure says what went wrong, in
//! the user's language, with the address kept in the form.

use reqwest::StatusCode;

use crate::support::form_token;
use crate::support::mailstack::IMAPS_PORT;
use crate::support::{TestApp, new_account};

#[tokio::test]
async fn good_password_opens_the_inbox_with_a_safe_cookie() {
    let app = TestApp::start().await;
    let acct = new_account("login-ok");
    let r = app.try_login(&acct).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/mail/INBOX");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain-http public URL: {cookie}"
    );
    let inbox = app.page("/mail/INBOX").await;
    assert!(
        inbox.contains(&acct.address),
        "address shown when logged in"
    );
    assert!(inbox.contains("Inbox"));
    // The password is nowhere in what the browser gets.
    assert!(!cookie.contains(&acct.password) && !inbox.contains(&acct.password));
}

#[tokio::test]
async fn wrong_password_says_so_and_keeps_the_address() {
    let app = TestApp::start().await;
    let acct = new_account("login-bad");
    for (lang, expected) in [
        ("en", "The address or password is wrong."),
        (
            "fr-FR,fr;q=0.9",
            "L'adresse ou le mot de passe est incorrect.",
        ),
    ] {
        let r = app
            .post_login(
                &[("email", &acct.address), ("password", "not-the-password")],
                lang,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let body = html_escape::decode_html_entities(&r.text().await.unwrap()).into_owned();
        assert!(body.contains(expected), "{lang}: {body}");
        assert!(
            body.contains(&format!("value=\"{}\"", acct.address)),
            "address kept"
        );
    }
    // Still not logged in.
    let r = app.get("/mail/INBOX").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}

#[tokio::test]
async fn unknown_domain_is_refused_before_any_server_is_asked() {
    let app = TestApp::with(&[("COURRIER_DOMAINS_DEFAULT_SERVER", "false")]).await;
    let r = app
        .post_login(
            &[("email", "someone@elsewhere.test"), ("password", "x")],
            "en",
        )
        .await;
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Mail for this domain is not served here"),
        "{body}"
    );
    assert!(body.contains("someone@elsewhere.test"));
    let r = app
        .post_login(&[("email", "not-an-address"), ("password", "x")], "fr")
        .await;
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Saisissez votre adresse électronique complète"),
        "{body}"
    );
}

#[tokio::test]
async fn unreachable_server_says_try_later() {
    // Nothing listens on port 9 of loopback.
    let app = TestApp::with(&[("COURRIER_IMAP_PORT", "9")]).await;
    let acct = new_account("login-unreach");
    let r = app.try_login(&acct).await;
    let body = r.text().await.unwrap();
    assert!(
        body.contains("The mail server cannot be reached right now"),
        "{body}"
    );
    assert!(body.contains(&acct.address));
}

#[tokio::test]
async fn untrusted_certificate_is_a_tls_error_not_a_wrong_password() {
    // Implicit TLS to Dovecot, but without the stack's CA: the self-signed certificate is refused.
    let port = IMAPS_PORT.to_string();
    let app = TestApp::with(&[
        ("COURRIER_IMAP_PORT", &port),
        ("COURRIER_IMAP_SECURITY", "tls"),
        ("COURRIER_TLS_CA_FILE", ""),
    ])
    .await;
    let acct = new_account("login-tls");
    let r = app.try_login(&acct).await;
    let body = r.text().await.unwrap();
    assert!(
        body.contains("A secure connection to the mail server could not be established"),
        "{body}"
    );
}

#[tokio::test]
async fn implicit_tls_with_the_ca_logs_in() {
    let port = IMAPS_PORT.to_string();
    let app = TestApp::with(&[
        ("COURRIER_IMAP_PORT", &port),
        ("COURRIER_IMAP_SECURITY", "tls"),
    ])
    .await;
    let acct = new_account("login-imaps");
    app.login(&acct).await;
    app.page("/mail/INBOX").await;
}

#[tokio::test]
async fn logout_ends_the_session_and_needs_the_form_token() {
    let app = TestApp::start().await;
    let acct = new_account("logout");
    app.login(&acct).await;
    let page = app.page("/mail/INBOX").await;
    let token = form_token(&page);
    // Without the token (a cross-site form), nothing happens.
    let r = app.post_form("/logout", &[("csrf", "forged")], "en").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.page("/mail/INBOX").await;
    let r = app.post_form("/logout", &[("csrf", &token)], "en").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = app.get("/mail/INBOX").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "logged out");
    assert!(!app.state.pool.knows("anything"));
}

#[tokio::test]
async fn login_returns_to_the_page_first_asked_for() {
    let app = TestApp::start().await;
    let acct = new_account("login-next");
    let r = app.get("/mail/Sent").await;
    assert_eq!(r.headers()["location"], "/login?next=%2Fmail%2FSent");
    let r = app
        .post_login(
            &[
                ("email", &acct.address),
                ("password", &acct.password),
                ("next", "/mail/Sent"),
            ],
            "en",
        )
        .await;
    assert_eq!(r.headers()["location"], "/mail/Sent");
    // An off-site "next" is ignored.
    let r = app
        .post_login(
            &[
                ("email", &acct.address),
                ("password", &acct.password),
                ("next", "//evil.example/"),
            ],
            "en",
        )
        .await;
    assert_eq!(r.headers()["location"], "/mail/INBOX");
}

#[tokio::test]
async fn https_public_url_makes_the_cookie_secure_and_sends_hsts() {
    let app = TestApp::with(&[("COURRIER_SERVER_PUBLIC_URL", "https://mail.example.org")]).await;
    let acct = new_account("login-https");
    let r = app.try_login(&acct).await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(r.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = TestApp::start().await;
    let r = app.get("/login").await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        !r.headers().contains_key("strict-transport-security"),
        "no HSTS over plain http"
    );
}
