//! Managing folders and the quota, checked against what the server (and so every other device) has.

use courrier::i18n::Lang;
use reqwest::StatusCode;

use crate::support::form_token;
use crate::support::imap_probe::{Probe, mutf7, simple_message};
use crate::support::{Account, TestApp, new_account};

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let token = form_token(&app.page("/folders").await);
    let mut form: Vec<(&str, &str)> = vec![("csrf", &token)];
    form.extend_from_slice(fields);
    app.post_form(path, &form, "en").await
}

async fn setup(tag: &str) -> (TestApp, Account, Probe) {
    let app = TestApp::start().await;
    let acct = new_account(tag);
    app.login(&acct).await;
    let probe = Probe::connect(&acct).await;
    (app, acct, probe)
}

#[tokio::test]
async fn create_nested_rename_and_delete_with_content() {
    let (app, _, mut probe) = setup("folders-crud").await;
    let r = post(
        &app,
        "/folders/create",
        &[("name", "Été 2026"), ("parent", "Archive")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(probe.list().await.contains(&mutf7("Archive/Été 2026")));
    let page = html_escape::decode_html_entities(&app.page("/folders").await).into_owned();
    assert!(page.contains("Folder Archive/Été 2026 created."));
    assert!(
        app.page("/mail/INBOX")
            .await
            .contains("/mail/Archive%2F%C3%89t%C3%A9%202026"),
        "in the sidebar"
    );

    post(
        &app,
        "/folders/create",
        &[("name", "Dossiers clients"), ("parent", "Archive/Été 2026")],
    )
    .await;
    probe
        .append(
            "Archive/Été 2026",
            "",
            &simple_message("a@example.test", "Dedans", "x"),
        )
        .await;
    probe
        .append(
            "Archive/Été 2026/Dossiers clients",
            "",
            &simple_message("a@example.test", "Plus bas", "x"),
        )
        .await;

    post(
        &app,
        "/folders/rename",
        &[("folder", "Archive/Été 2026"), ("name", "Hiver 2027")],
    )
    .await;
    let names = probe.list().await;
    assert!(names.contains(&mutf7("Archive/Hiver 2027")));
    assert!(
        names.contains(&mutf7("Archive/Hiver 2027/Dossiers clients")),
        "children follow"
    );
    assert!(!names.contains(&mutf7("Archive/Été 2026")));
    assert_eq!(
        probe.uids("Archive/Hiver 2027").await.len(),
        1,
        "messages follow"
    );

    let r = post(&app, "/folders/delete", &[("folder", "Archive/Hiver 2027")]).await;
    assert_eq!(r.status(), StatusCode::OK, "asks first");
    assert!(r.text().await.unwrap().contains("will be deleted for good"));
    assert!(probe.list().await.contains(&mutf7("Archive/Hiver 2027")));
    post(
        &app,
        "/folders/delete",
        &[("folder", "Archive/Hiver 2027"), ("confirm", "1")],
    )
    .await;
    let names = probe.list().await;
    assert!(!names.iter().any(|n| n.contains("Hiver")), "{names:?}");
}

#[tokio::test]
async fn special_folders_are_protected_and_bad_names_refused() {
    let (app, _, mut probe) = setup("folders-protect").await;
    post(
        &app,
        "/folders/rename",
        &[("folder", "Trash"), ("name", "Poubelle")],
    )
    .await;
    assert!(app.page("/folders").await.contains("Special folders"));
    post(
        &app,
        "/folders/delete",
        &[("folder", "INBOX"), ("confirm", "1")],
    )
    .await;
    assert!(app.page("/folders").await.contains("Special folders"));
    let names = probe.list().await;
    assert!(names.contains(&"Trash".to_string()) && names.contains(&"INBOX".to_string()));
    post(&app, "/folders/create", &[("name", "a/b")]).await;
    assert!(app.page("/folders").await.contains("cannot be used"));
    post(&app, "/folders/create", &[("name", "Sent")]).await;
    assert!(app.page("/folders").await.contains("exists already"));
    let r = app
        .post_form(
            "/folders/create",
            &[("csrf", "forged"), ("name", "X")],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unsubscribed_folders_leave_the_sidebar_only() {
    let (app, _, mut probe) = setup("folders-sub").await;
    probe.create("Lettres").await;
    assert!(app.page("/mail/INBOX").await.contains("/mail/Lettres\""));
    post(
        &app,
        "/folders/subscribe",
        &[("folder", "Lettres"), ("subscribed", "0")],
    )
    .await;
    assert!(!app.page("/mail/INBOX").await.contains("/mail/Lettres\""));
    assert!(
        app.page("/folders").await.contains("Lettres"),
        "still managed"
    );
    assert!(
        app.page("/mail/Lettres")
            .await
            .contains("This folder is empty."),
        "still reachable"
    );
    post(
        &app,
        "/folders/subscribe",
        &[("folder", "Lettres"), ("subscribed", "1")],
    )
    .await;
    assert!(app.page("/mail/INBOX").await.contains("/mail/Lettres\""));
}

#[tokio::test]
async fn the_quota_shown_is_the_servers() {
    let (app, _, mut probe) = setup("quota").await;
    let body = "x".repeat(300 * 1024);
    probe
        .append(
            "INBOX",
            "",
            &simple_message("a@example.test", "Volumineux", &body),
        )
        .await;
    let out = probe.ok("GETQUOTAROOT INBOX").await;
    let line = out.lines().find(|l| l.contains("STORAGE")).unwrap();
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let (used, limit) = (nums[nums.len() - 2] * 1024, nums[nums.len() - 1] * 1024);
    assert!(used >= 300 * 1024);
    let expected = format!(
        "{} of {} used",
        Lang::En.format_size(used),
        Lang::En.format_size(limit)
    );
    let page = app.page("/mail/INBOX").await;
    assert!(page.contains(&expected), "expected {expected:?}");
}
