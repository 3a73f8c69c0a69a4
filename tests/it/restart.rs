//! Sessions outlive the process: an upgrade restarts Courrier, and its users go on where they were.
//! The session record is on disk; the password it needs is sealed in it under the server's key;
//! the new process logs in again for it once.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::compose::{field, open_form, post};
use crate::pop3_web::{app_with_choice, login_pop};
use crate::support::imap_probe::{Probe, simple_message};
use crate::support::mailstack::{dovecot_logins, pop3_logins};
use crate::support::{TestApp, new_account};

#[tokio::test]
async fn a_restart_keeps_the_user_logged_in_and_what_they_were_writing() {
    let app = TestApp::start().await;
    let acct = new_account("restart-imap");
    Probe::connect(&acct)
        .await
        .append("INBOX", "", &simple_message("a@example.test", "Avant", "x"))
        .await;
    app.login(&acct).await;
    assert!(app.page("/mail/INBOX").await.contains("Avant"));
    // Half a message, with an attachment already uploaded.
    let (form, page) = open_form(&app, "/compose").await;
    let compose_id = field(&page, "compose_id");
    let form = form
        .text("to", "bob@example.test")
        .text("subject", "Pendant la mise à jour")
        .text("body", "Début du texte")
        .part(
            "files",
            Part::bytes(b"plan".to_vec())
                .file_name("plan.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
        .text("action", "attach");
    assert_eq!(post(&app, form).await.status(), StatusCode::OK);
    let logins = dovecot_logins(&acct.address);

    let app = app.restart().await;
    let inbox = app.page("/mail/INBOX").await;
    assert!(inbox.contains("Avant"), "still logged in, mail shown");
    app.page("/mail/INBOX").await;
    app.page("/settings").await;
    assert_eq!(
        dovecot_logins(&acct.address) - logins,
        1,
        "one IMAP login for the session after the restart, not one per page"
    );
    // The form goes on: same compose directory, attachment included.
    let page = app.page("/compose").await;
    let csrf = field(&page, "csrf");
    let form = Form::new()
        .text("csrf", csrf)
        .text("compose_id", compose_id)
        .text("message_id", field(&page, "message_id"))
        .text("to", "bob@example.test")
        .text("subject", "Pendant la mise à jour")
        .text("body", "Début du texte, et la suite")
        .text("action", "save");
    let r = post(&app, form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut probe = Probe::connect(&acct).await;
    let drafts = probe.uids("Drafts").await;
    assert_eq!(drafts.len(), 1);
    let raw = String::from_utf8_lossy(&probe.fetch("Drafts", drafts[0]).await).into_owned();
    assert!(
        raw.contains("plan.txt"),
        "the attachment uploaded before the restart"
    );
    assert!(raw.contains("la suite"));
}

#[tokio::test]
async fn a_pop3_session_survives_a_restart_too() {
    let (app, _dir) = app_with_choice("3600").await;
    let acct = new_account("restart-pop");
    Probe::connect(&acct)
        .await
        .append(
            "INBOX",
            "",
            &simple_message("a@example.test", "Téléchargé", "x"),
        )
        .await;
    login_pop(&app, &acct).await;
    assert!(app.page("/mail/INBOX").await.contains("Téléchargé"));
    let logins = pop3_logins(&acct.address);
    let app = app.restart().await;
    assert!(app.page("/mail/INBOX").await.contains("Téléchargé"));
    app.page("/mail/INBOX").await;
    assert!(
        pop3_logins(&acct.address) - logins <= 1,
        "at most the login of the check"
    );
}

/// A new key makes sealed passwords unreadable: the user is asked to log in again, and told why.
#[tokio::test]
async fn a_new_key_signs_everyone_out_and_says_why() {
    let app = TestApp::start().await;
    let acct = new_account("restart-key");
    app.login(&acct).await;
    app.page("/mail/INBOX").await;
    let key = app.state.config.data_dir.join("secret.key");
    let app = app
        .restart_with(|| {
            std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
        })
        .await;
    let r = app.get("/mail/INBOX").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.contains("expired=key"), "{to}");
    let login = app.page(&to).await;
    assert!(
        login.contains("signed out after a server update"),
        "{login}"
    );
    // The session is gone: no loop, the next page is the plain login.
    let r = app.get("/mail/INBOX").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        !r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("expired=key")
    );
}
