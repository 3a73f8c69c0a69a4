//! Sorting and searching a folder: the order and the hits a user expects, with the server's SORT and
//! without it, non-ASCII terms, filters, and results paged like a folder.

use crate::support::imap_probe::Probe;
use crate::support::proxy::FaultProxy;
use crate::support::{Account, TestApp, new_account};

fn message(from: &str, subject: &str, date: &str, body: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: x@example.test\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{}@t>\r\nMIME-Version: 1.0\r\n{extra_headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        rand::random::<u64>()
    )
    .into_bytes()
}

/// Three messages whose arrival, date, sender, subject and size orders all differ.
async fn three(app: &TestApp, tag: &str) -> Account {
    let acct = new_account(tag);
    let mut probe = Probe::connect(&acct).await;
    probe
        .append(
            "INBOX",
            "",
            &message(
                "Zoé <zoe@example.test>",
                "Beta",
                "Tue, 3 Mar 2026 10:00:00 +0000",
                &"z".repeat(3000),
                "",
            ),
        )
        .await;
    probe
        .append(
            "INBOX",
            "\\Flagged",
            &message(
                "Alain <alain@example.test>",
                "Re: Gamma",
                "Sat, 3 Jan 2026 10:00:00 +0000",
                "la réunion de mardi",
                "",
            ),
        )
        .await;
    probe
        .append(
            "INBOX",
            "\\Seen",
            &message(
                "Marc <marc@example.test>",
                "Alpha",
                "Tue, 3 Feb 2026 10:00:00 +0000",
                &"m".repeat(1500),
                "",
            ),
        )
        .await;
    app.login(&acct).await;
    acct
}

/// The subjects of the list, in page order.
fn subjects(page: &str) -> Vec<String> {
    page.split("<td class=\"subject\"><a href=\"")
        .skip(1)
        .map(|s| {
            let s = &s[s.find('>').unwrap() + 1..];
            // The subject is isolated (`<bdi>`) against right-to-left text.
            s[..s.find("</a>").unwrap()]
                .replace("<bdi>", "")
                .replace("</bdi>", "")
        })
        .collect()
}

async fn check_orders(app: &TestApp) {
    let order =
        |q: &'static str| async move { subjects(&app.page(&format!("/mail/INBOX{q}")).await) };
    assert_eq!(
        order("").await,
        ["Alpha", "Re: Gamma", "Beta"],
        "newest arrival first"
    );
    assert_eq!(order("?sort=date").await, ["Beta", "Alpha", "Re: Gamma"]);
    assert_eq!(
        order("?sort=date&order=asc").await,
        ["Re: Gamma", "Alpha", "Beta"]
    );
    assert_eq!(
        order("?sort=from&order=asc").await,
        ["Re: Gamma", "Alpha", "Beta"],
        "Alain, Marc, Zoé"
    );
    assert_eq!(
        order("?sort=subject&order=asc").await,
        ["Alpha", "Beta", "Re: Gamma"],
        "Re: ignored"
    );
    assert_eq!(order("?sort=size").await, ["Beta", "Alpha", "Re: Gamma"]);
}

#[tokio::test]
async fn sorting_by_each_column() {
    let app = TestApp::start().await;
    three(&app, "sort").await;
    check_orders(&app).await;
    let page = app.page("/mail/INBOX?sort=from&order=asc").await;
    assert!(
        page.contains("href=\"/mail/INBOX?sort=from\""),
        "clicking again reverses: {page}"
    );
}

#[tokio::test]
async fn sorting_without_server_sort_gives_the_same_order() {
    let proxy = FaultProxy::start().await;
    proxy.hide_capability("SORT");
    let app = TestApp::behind(&proxy).await;
    three(&app, "sort-fallback").await;
    check_orders(&app).await;
    assert!(!proxy.saw_command("UID SORT"), "the fallback was used");
    assert!(proxy.saw_command("UID SEARCH"));
}

#[tokio::test]
async fn searching_text_and_filters() {
    let app = TestApp::start().await;
    three(&app, "search").await;
    let app = &app;
    let hits =
        |q: &'static str| async move { subjects(&app.page(&format!("/mail/INBOX{q}")).await) };
    assert_eq!(
        hits("?q=r%C3%A9union").await,
        ["Re: Gamma"],
        "non-ASCII term in the body"
    );
    assert_eq!(hits("?q=alpha").await, ["Alpha"], "subject, any case");
    assert_eq!(
        hits("?q=zoe%40example.test").await,
        ["Beta"],
        "sender address"
    );
    assert_eq!(hits("?unread=1").await, ["Re: Gamma", "Beta"]);
    assert_eq!(hits("?flagged=1").await, ["Re: Gamma"]);
    assert_eq!(hits("?unread=1&flagged=1").await, ["Re: Gamma"]);
    let tomorrow = (chrono::Local::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let page = app.page(&format!("/mail/INBOX?since={tomorrow}")).await;
    assert!(page.contains("No message matches."));
    let yesterday = (chrono::Local::now() - chrono::Duration::days(1)).format("%Y-%m-%d");
    assert_eq!(
        subjects(&app.page(&format!("/mail/INBOX?since={yesterday}")).await).len(),
        3
    );
    // Quotes, parentheses and CR/LF in a search are text, never IMAP syntax.
    let page = app
        .page("/mail/INBOX?q=%22x%22%29%20LOGOUT%0D%0AA1%20NOOP")
        .await;
    assert!(page.contains("No message matches."));
    assert_eq!(
        subjects(&app.page("/mail/INBOX").await).len(),
        3,
        "the session still works"
    );
}

#[tokio::test]
async fn attachment_filter_and_paged_results() {
    let app = TestApp::with(&[("COURRIER_UI_PAGE_SIZE", "10")]).await;
    let acct = new_account("search-pages");
    let mut probe = Probe::connect(&acct).await;
    for i in 0..25 {
        probe
            .append(
                "INBOX",
                "",
                &message(
                    "a@example.test",
                    &format!("Rapport {i:02}"),
                    "Mon, 2 Feb 2026 10:00:00 +0000",
                    "texte",
                    "",
                ),
            )
            .await;
    }
    let fixture = std::fs::read(format!(
        "{}/tests/fixtures/messages/attachment.eml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    probe.append("INBOX", "", &fixture).await;
    app.login(&acct).await;
    let page = app.page("/mail/INBOX?q=rapport").await;
    assert!(
        page.contains("Page 1 of 3 (25 messages)"),
        "results paged like a folder"
    );
    let links = html_escape::decode_html_entities(&page).into_owned();
    assert!(
        links.contains("href=\"/mail/INBOX?q=rapport&page=2\""),
        "the search stays in the links"
    );
    let last = app.page("/mail/INBOX?q=rapport&page=3").await;
    assert_eq!(subjects(&last).len(), 5);
    let with = subjects(&app.page("/mail/INBOX?attachments=1").await);
    assert_eq!(with.len(), 1);
    assert!(with[0].contains("ATTACH-3b8e"));
}

#[tokio::test]
async fn search_across_all_folders() {
    let app = TestApp::start().await;
    let acct = new_account("search-all");
    let mut probe = Probe::connect(&acct).await;
    probe.create("Projets/Été").await;
    probe
        .append(
            "INBOX",
            "",
            &message(
                "a@example.test",
                "Projet Lune : budget",
                "Mon, 2 Feb 2026 10:00:00 +0000",
                "x",
                "",
            ),
        )
        .await;
    probe
        .append(
            "Projets/Été",
            "",
            &message(
                "b@example.test",
                "Compte rendu",
                "Tue, 3 Feb 2026 10:00:00 +0000",
                "le projet lune avance",
                "",
            ),
        )
        .await;
    probe
        .append(
            "Archive",
            "",
            &message(
                "c@example.test",
                "Sans rapport",
                "Wed, 4 Feb 2026 10:00:00 +0000",
                "rien",
                "",
            ),
        )
        .await;
    app.login(&acct).await;
    let page = app.page("/search?q=lune").await;
    let found = subjects(&page);
    assert_eq!(
        found,
        ["Compte rendu", "Projet Lune : budget"],
        "newest first, every folder"
    );
    let text = html_escape::decode_html_entities(&page).into_owned();
    assert!(
        text.contains("><bdi>Été</bdi></a>"),
        "the folder of each hit is shown"
    );
    assert!(
        page.contains("href=\"/mail/Projets%2F%C3%89t%C3%A9/1\""),
        "hits open in their folder"
    );
    assert!(!text.contains("Sans rapport"));
}
