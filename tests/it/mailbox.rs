//! The folder page: the sidebar with special folders first in the user's language, nested and
//! non-ASCII folders reachable, unread counts, and a message list paged newest first.

use reqwest::StatusCode;

use crate::support::imap_probe::{Probe, simple_message};
use crate::support::{TestApp, new_account};

#[tokio::test]
async fn sidebar_lists_special_nested_and_non_ascii_folders() {
    let app = TestApp::start().await;
    let acct = new_account("folders");
    let mut probe = Probe::connect(&acct).await;
    probe.create("Été 2025").await;
    probe.create("Archive/Projets").await;
    probe.create("Clients \"VIP\" & co").await;
    probe
        .append(
            "Été 2025",
            "",
            &simple_message("Zoé <zoe@example.test>", "Dans le dossier été", "x"),
        )
        .await;
    app.login(&acct).await;

    let fr = app
        .get_lang("/mail/INBOX", "fr")
        .await
        .text()
        .await
        .unwrap();
    let fr = html_escape::decode_html_entities(&fr).into_owned();
    for name in [
        "Boîte de réception",
        "Brouillons",
        "Envoyés",
        "Corbeille",
        "Indésirables",
        "Été 2025",
        "Projets",
    ] {
        assert!(fr.contains(name), "missing {name}");
    }
    // Special folders come first, in the usual order.
    let pos = |s: &str| fr.find(s).unwrap();
    assert!(pos("Boîte de réception") < pos("Brouillons"));
    assert!(pos("Brouillons") < pos("Envoyés"));
    assert!(pos("Envoyés") < pos("Corbeille"));
    assert!(pos("Corbeille") < pos("Été 2025"));

    // The non-ASCII folder has one unread message and opens through its percent-encoded URL.
    let page = app.page("/mail/%C3%89t%C3%A9%202025").await;
    assert!(page.contains("Dans le dossier été"), "{page}");
    let page = app.page("/mail/Archive%2FProjets").await;
    assert!(page.contains("This folder is empty."));
    let page = app.page("/mail/Clients%20%22VIP%22%20%26%20co").await;
    assert!(page.contains("This folder is empty."));
    assert!(
        fr.contains("href=\"/mail/%C3%89t%C3%A9%202025\""),
        "sidebar link is percent-encoded"
    );
}

#[tokio::test]
async fn unknown_folder_is_a_404_page() {
    let app = TestApp::start().await;
    let acct = new_account("nofolder");
    app.login(&acct).await;
    let r = app.get("/mail/Nope%20Nope").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.unwrap();
    assert!(body.contains("This folder does not exist"), "{body}");
    let r = app.get("/mail/INBOX%0D%0AA%20LOGOUT").await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "CR/LF in a folder name never reaches IMAP"
    );
}

#[tokio::test]
async fn pages_go_newest_first_with_older_and_newer_links() {
    let app = TestApp::with(&[("COURRIER_UI_PAGE_SIZE", "20")]).await;
    let acct = new_account("paging");
    let mut probe = Probe::connect(&acct).await;
    for i in 1..=45 {
        let flags = if i % 2 == 0 { "\\Seen" } else { "" };
        probe
            .append(
                "INBOX",
                flags,
                &simple_message(
                    "Bob <bob@example.test>",
                    &format!("Message {i:03}"),
                    "hello",
                ),
            )
            .await;
    }
    app.login(&acct).await;
    let first = app.page("/mail/INBOX").await;
    assert!(first.contains("Message 045") && first.contains("Message 026"));
    assert!(!first.contains("Message 025"));
    assert!(
        first.find("Message 045").unwrap() < first.find("Message 026").unwrap(),
        "newest first"
    );
    assert!(first.contains("Page 1 of 3 (45 messages)"));
    assert!(first.contains("href=\"/mail/INBOX?page=2\""));
    assert!(!first.contains("rel=\"prev\""));
    // Unread state: odd-numbered messages were appended without \Seen.
    let row = |body: &str, subject: &str| -> String {
        let at = body.find(subject).unwrap();
        let start = body[..at].rfind("<tr").unwrap();
        body[start..at].to_owned()
    };
    assert!(row(&first, "Message 045").contains("unread"));
    assert!(!row(&first, "Message 044").contains("unread"));

    let last = app.page("/mail/INBOX?page=3").await;
    assert!(last.contains("Message 005") && last.contains("Message 001"));
    assert!(!last.contains("Message 006"));
    assert!(!last.contains("rel=\"next\""));
    assert!(last.contains("href=\"/mail/INBOX?page=2\""));
    // Past the end: the last page, not an error.
    let past = app.page("/mail/INBOX?page=99").await;
    assert!(past.contains("Message 001"));
}
