//! Acting on mail from the list and the message page; each result checked through a second IMAP
//! connection, which is what the user's phone would see.

use reqwest::StatusCode;

use crate::support::form_token;
use crate::support::imap_probe::{Probe, simple_message};
use crate::support::proxy::FaultProxy;
use crate::support::{Account, TestApp, new_account};

async fn with_messages(app: &TestApp, tag: &str, n: usize) -> (Account, Probe) {
    let acct = new_account(tag);
    let mut probe = Probe::connect(&acct).await;
    for i in 1..=n {
        probe
            .append(
                "INBOX",
                "",
                &simple_message("a@example.test", &format!("Sujet {i}"), "x"),
            )
            .await;
    }
    app.login(&acct).await;
    (acct, probe)
}

async fn act(app: &TestApp, folder_path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = app.page(folder_path).await;
    let token = form_token(&page);
    let mut form: Vec<(&str, &str)> = vec![("csrf", &token)];
    form.extend_from_slice(fields);
    app.post_form(&format!("{folder_path}/actions"), &form, "en")
        .await
}

#[tokio::test]
async fn flags_change_here_and_everywhere() {
    let app = TestApp::start().await;
    let (_, mut probe) = with_messages(&app, "act-flags", 3).await;
    let r = act(
        &app,
        "/mail/INBOX",
        &[
            ("uid", "1"),
            ("uid", "3"),
            ("action", "read"),
            ("back", "/mail/INBOX"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(probe.flags("INBOX", 1).await.contains("\\Seen"));
    assert!(!probe.flags("INBOX", 2).await.contains("\\Seen"));
    assert!(probe.flags("INBOX", 3).await.contains("\\Seen"));
    act(&app, "/mail/INBOX", &[("uid", "2"), ("action", "flag")]).await;
    assert!(probe.flags("INBOX", 2).await.contains("\\Flagged"));
    act(&app, "/mail/INBOX", &[("uid", "1"), ("action", "unread")]).await;
    assert!(!probe.flags("INBOX", 1).await.contains("\\Seen"));
    let page = app.page("/mail/INBOX").await;
    assert!(page.contains("Done."), "the user is told");
    // Nothing selected: said, nothing done.
    act(&app, "/mail/INBOX", &[("action", "read")]).await;
    assert!(
        app.page("/mail/INBOX")
            .await
            .contains("Select one or more messages first.")
    );
}

#[tokio::test]
async fn move_delete_archive_spam_and_back() {
    let app = TestApp::start().await;
    let (_, mut probe) = with_messages(&app, "act-move", 4).await;
    probe.create("Été 2025").await;
    act(
        &app,
        "/mail/INBOX",
        &[("uid", "1"), ("action", "move"), ("target", "Été 2025")],
    )
    .await;
    assert_eq!(probe.uids("Été 2025").await.len(), 1);
    assert!(app.page("/mail/INBOX").await.contains("Moved to Été 2025."));
    act(&app, "/mail/INBOX", &[("uid", "2"), ("action", "delete")]).await;
    assert_eq!(probe.uids("Trash").await.len(), 1, "delete moves to Trash");
    act(&app, "/mail/INBOX", &[("uid", "3"), ("action", "archive")]).await;
    assert_eq!(probe.uids("Archive").await.len(), 1);
    act(&app, "/mail/INBOX", &[("uid", "4"), ("action", "spam")]).await;
    let junk = probe.uids("Junk").await;
    assert_eq!(junk.len(), 1);
    assert!(probe.uids("INBOX").await.is_empty());
    act(
        &app,
        "/mail/Junk",
        &[("uid", &junk[0].to_string()), ("action", "notspam")],
    )
    .await;
    assert_eq!(
        probe.uids("INBOX").await.len(),
        1,
        "not spam: back in the inbox"
    );
}

#[tokio::test]
async fn deleting_in_trash_and_emptying_ask_first() {
    let app = TestApp::start().await;
    let (_, mut probe) = with_messages(&app, "act-trash", 3).await;
    act(
        &app,
        "/mail/INBOX",
        &[
            ("uid", "1"),
            ("uid", "2"),
            ("uid", "3"),
            ("action", "delete"),
        ],
    )
    .await;
    let trash = probe.uids("Trash").await;
    assert_eq!(trash.len(), 3);
    let first = trash[0].to_string();
    let r = act(
        &app,
        "/mail/Trash",
        &[("uid", &first), ("action", "delete")],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a confirmation page, not a deletion"
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("deleted for good"));
    assert_eq!(probe.uids("Trash").await.len(), 3, "nothing deleted yet");
    act(
        &app,
        "/mail/Trash",
        &[("uid", &first), ("action", "delete"), ("confirm", "1")],
    )
    .await;
    assert_eq!(probe.uids("Trash").await.len(), 2);

    let page = app.page("/mail/Trash").await;
    let token = form_token(&page);
    let r = app
        .post_form("/mail/Trash/empty", &[("csrf", &token)], "en")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(probe.uids("Trash").await.len(), 2, "still asks first");
    let r = app
        .post_form(
            "/mail/Trash/empty",
            &[("csrf", &token), ("confirm", "1")],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(probe.uids("Trash").await.is_empty());
    let r = app
        .post_form(
            "/mail/INBOX/empty",
            &[("csrf", &token), ("confirm", "1")],
            "en",
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "the inbox cannot be emptied"
    );
}

#[tokio::test]
async fn all_messages_of_a_folder_beyond_the_page() {
    let app = TestApp::with(&[("COURRIER_UI_PAGE_SIZE", "5")]).await;
    let (_, mut probe) = with_messages(&app, "act-all", 12).await;
    let page = app.page("/mail/INBOX").await;
    assert!(page.contains("All 12 messages of this folder"));
    act(&app, "/mail/INBOX", &[("all", "1"), ("action", "archive")]).await;
    assert_eq!(probe.uids("Archive").await.len(), 12);
    assert!(probe.uids("INBOX").await.is_empty());
}

#[tokio::test]
async fn actions_need_the_form_token() {
    let app = TestApp::start().await;
    let (_, mut probe) = with_messages(&app, "act-csrf", 1).await;
    let r = app
        .post_form(
            "/mail/INBOX/actions",
            &[("csrf", "forged"), ("uid", "1"), ("action", "delete")],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(probe.uids("INBOX").await.len(), 1);
}

#[tokio::test]
async fn move_works_on_servers_without_move() {
    let proxy = FaultProxy::start().await;
    proxy.hide_move();
    let app = TestApp::behind(&proxy).await;
    let (_, mut probe) = with_messages(&app, "act-nomove", 3).await;
    act(&app, "/mail/INBOX", &[("uid", "2"), ("action", "archive")]).await;
    assert_eq!(probe.uids("Archive").await.len(), 1);
    assert_eq!(
        probe.uids("INBOX").await,
        vec![1, 3],
        "copied, then only that one expunged"
    );
    assert!(proxy.saw_command("UID COPY 2 "), "the fallback was taken");
    assert!(!proxy.saw_command("UID MOVE"));
}
