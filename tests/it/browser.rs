//! In a real browser: the compose form's script saves drafts on its own and uploads files with a
//! progress bar, and no script error shows in the console.

use std::time::Duration;

use thirtyfour::prelude::*;

use crate::support::browser::Browser;
use crate::support::imap_probe::Probe;
use crate::support::{TestApp, new_account};

#[tokio::test]
async fn compose_autosaves_and_attaches_in_the_browser() {
    let app = TestApp::with(&[("COURRIER_UI_AUTOSAVE_SECS", "2")]).await;
    let acct = new_account("browser-compose");
    let browser = Browser::start().await;
    let d = &browser.driver;
    browser
        .login(&app.base, &acct.address, &acct.password)
        .await;
    d.goto(format!("{}/compose", app.base)).await.unwrap();
    d.find(By::Id("to"))
        .await
        .unwrap()
        .send_keys("Bob <bob@example.test>")
        .await
        .unwrap();
    d.find(By::Id("subject"))
        .await
        .unwrap()
        .send_keys("Écrit dans le navigateur")
        .await
        .unwrap();
    d.find(By::Id("body"))
        .await
        .unwrap()
        .send_keys("Un texte qui ne doit pas se perdre.")
        .await
        .unwrap();

    // Autosave: the status line says so and the draft is on the server.
    let status = d.find(By::Id("autosave-status")).await.unwrap();
    let mut said = String::new();
    for _ in 0..50 {
        said = status.text().await.unwrap();
        if said.starts_with("Draft saved at") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(said.starts_with("Draft saved at"), "status: {said:?}");
    let mut probe = Probe::connect(&acct).await;
    assert_eq!(probe.uids("Drafts").await.len(), 1);

    // Attach through the script's upload (with its progress bar): the page comes back with the file.
    let path = std::env::temp_dir().join(format!("courrier-upload-{}.txt", rand::random::<u32>()));
    std::fs::write(&path, "contenu joint").unwrap();
    d.find(By::Id("files"))
        .await
        .unwrap()
        .send_keys(path.display().to_string())
        .await
        .unwrap();
    d.find(By::Id("attach-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let listed = d
        .query(By::Css("#attachments li .name"))
        .first()
        .await
        .expect("the attachment is listed");
    assert_eq!(
        listed.text().await.unwrap(),
        path.file_name().unwrap().to_string_lossy()
    );
    let body = d
        .find(By::Id("body"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        body.contains("Un texte qui ne doit pas se perdre."),
        "text kept: {body:?}"
    );
    let _ = std::fs::remove_file(path);
    browser.quit().await;
}

#[tokio::test]
async fn new_mail_appears_in_the_open_list_and_the_title() {
    let app = TestApp::start().await;
    let acct = new_account("browser-live");
    let browser = Browser::start().await;
    let d = &browser.driver;
    browser
        .login(&app.base, &acct.address, &acct.password)
        .await;
    // Let the page's event stream connect before the other device writes.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut phone = Probe::connect(&acct).await;
    phone
        .append(
            "INBOX",
            "",
            &crate::support::imap_probe::simple_message(
                "Zoé <zoe@example.test>",
                "Arrivé pendant la lecture",
                "x",
            ),
        )
        .await;
    // The list is replaced under our feet when it reloads: read it again until it shows the message.
    assert!(
        text_soon(d, "main.list", |t| t.contains("Arrivé pendant la lecture")).await,
        "the list updated without a reload"
    );
    assert!(
        d.title().await.unwrap().starts_with("(1) "),
        "unread count in the tab title"
    );
    assert!(
        text_soon(
            d,
            ".sidebar li[data-folder-url=\"/mail/INBOX\"] .unseen",
            |t| t == "1"
        )
        .await,
        "unread count in the sidebar"
    );
    browser.quit().await;
}

#[tokio::test]
async fn select_all_on_the_page_then_act() {
    let app = TestApp::start().await;
    let acct = new_account("browser-select");
    let mut phone = Probe::connect(&acct).await;
    for i in 0..3 {
        phone
            .append(
                "INBOX",
                "",
                &crate::support::imap_probe::simple_message(
                    "a@example.test",
                    &format!("À lire {i}"),
                    "x",
                ),
            )
            .await;
    }
    let browser = Browser::start().await;
    let d = &browser.driver;
    browser
        .login(&app.base, &acct.address, &acct.password)
        .await;
    d.find(By::Id("select-page"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    d.find(By::Css("button[name=action][value=read]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    d.query(By::Id("flash"))
        .first()
        .await
        .expect("a notice after the action");
    for uid in 1..=3 {
        assert!(
            phone.flags("INBOX", uid).await.contains("\\Seen"),
            "message {uid} read"
        );
    }
    browser.quit().await;
}

/// True once the element's text satisfies `ok` (within 4 s), tolerating an element replaced between
/// finding and reading it.
async fn text_soon(d: &WebDriver, css: &str, ok: impl Fn(&str) -> bool) -> bool {
    for _ in 0..40 {
        if let Ok(el) = d.find(By::Css(css)).await
            && let Ok(text) = el.text().await
            && ok(&text)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
