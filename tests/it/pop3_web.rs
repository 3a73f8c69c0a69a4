//! POP3 accounts through the pages, against the real Dovecot POP3 server: the choice at login, the
//! download at login and on "Check mail", the options (keep a copy, delete when deleted here), the
//! pages working on the local store, sending into the local Sent, the lock held by another program,
//! and new mail pushed to an open page.

use std::time::Duration;

use reqwest::StatusCode;

use crate::compose::{open_form, post};
use crate::live::Events;
use crate::support::form_token;
use crate::support::imap_probe::{Probe, simple_message};
use crate::support::mailstack::pop3_logins;
use crate::support::{Account, TestApp, new_account};

/// Courrier letting users choose, with its own data directory, checking every `interval` seconds.
pub(crate) async fn app_with_choice(interval: &str) -> (TestApp, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("courrier-popweb-{}", rand::random::<u64>()));
    let app = TestApp::with(&[
        ("COURRIER_DOMAINS_PROTOCOLS", "both"),
        ("COURRIER_POP3_HOST", "127.0.0.1"),
        ("COURRIER_POP3_PORT", "10110"),
        ("COURRIER_POP3_SECURITY", "starttls"),
        ("COURRIER_POP3_CHECK_INTERVAL_SECS", interval),
        ("COURRIER_SERVER_DATA_DIR", dir.to_str().unwrap()),
    ])
    .await;
    (app, dir)
}

pub(crate) async fn login_pop(app: &TestApp, acct: &Account) {
    let r = app
        .post_login(
            &[
                ("email", &acct.address),
                ("password", &acct.password),
                ("protocol", "pop3"),
            ],
            "en",
        )
        .await;
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, StatusCode::SEE_OTHER, "POP3 login failed: {body}");
}

/// Message files in the account's local Maildir folder (`""` for the inbox, `.Sent` ...).
fn local_files(dir: &std::path::Path, acct: &Account, folder: &str) -> Vec<std::path::PathBuf> {
    let key: String = acct
        .address
        .to_lowercase()
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'@' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let root = dir.join("accounts").join(key).join("Maildir").join(folder);
    ["new", "cur"]
        .iter()
        .filter_map(|s| std::fs::read_dir(root.join(s)).ok())
        .flat_map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())))
        .collect()
}

/// The href of the first message link of a list page whose line contains `text`.
fn message_url(page: &str, text: &str) -> String {
    let at = page
        .find(text)
        .unwrap_or_else(|| panic!("{text} not listed"));
    let start = page[..at].rfind("href=\"/mail/").expect("a message link") + 6;
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// The UID of the message whose list line contains `text`.
fn uid_of(page: &str, text: &str) -> String {
    message_url(page, text)
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// Saves the POP3 options in Settings (`keep`, `delete_here`: checkboxes ticked).
async fn set_options(app: &TestApp, token: &str, keep: bool, delete_here: bool) {
    let mut form = vec![
        ("csrf", token),
        ("display_name", ""),
        ("signature", ""),
        ("pop_days", "14"),
    ];
    if keep {
        form.push(("pop_keep_copy", "1"));
    }
    if delete_here {
        form.push(("pop_delete_here", "1"));
    }
    let r = app.post_form("/settings", &form, "en").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_login_page_offers_the_choice_only_where_the_provider_allows_it() {
    let (app, _) = app_with_choice("60").await;
    let page = app.page("/login").await;
    assert!(page.contains("IMAP (recommended: synchronised)"), "{page}");
    assert!(page.contains("POP3 (downloaded)"));
    assert!(page.contains("A copy is left on the server unless you change that"));
    let fr = app.get_lang("/login", "fr").await.text().await.unwrap();
    assert!(fr.contains("POP3 (téléchargé)"), "{fr}");
    let imap_only = TestApp::start().await;
    assert!(!imap_only.page("/login").await.contains("POP3"));
}

#[tokio::test]
async fn a_pop_account_downloads_at_login_and_reads_like_imap() {
    let (app, dir) = app_with_choice("60").await;
    let acct = new_account("popweb-read");
    let mut probe = Probe::connect(&acct).await;
    probe
        .append(
            "INBOX",
            "",
            &simple_message("zoe@example.test", "Réunion de lundi", "On se voit à 10 h."),
        )
        .await;
    let attachment = std::fs::read(format!(
        "{}/tests/fixtures/messages/attachment.eml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    probe.append("INBOX", "", &attachment).await;
    login_pop(&app, &acct).await;

    let inbox = app.page("/mail/INBOX").await;
    assert!(inbox.contains("Réunion de lundi"), "{inbox}");
    assert!(
        inbox.contains("Check mail"),
        "a POP account has a Check mail button"
    );
    assert!(inbox.contains("Last checked"));
    assert_eq!(local_files(&dir, &acct, "").len(), 2, "both stored locally");
    assert_eq!(
        probe.uids("INBOX").await.len(),
        2,
        "a copy stays on the server by default"
    );

    // Reading marks read locally; the server copy is not touched.
    let url = message_url(&inbox, "Réunion de lundi");
    let msg = app.page(&url).await;
    assert!(msg.contains("On se voit à 10 h."), "{msg}");
    let again = app.page("/mail/INBOX").await;
    let line_start = again[..again.find("Réunion de lundi").unwrap()]
        .rfind("<tr")
        .unwrap();
    assert!(
        !again[line_start..]
            .split('>')
            .next()
            .unwrap()
            .contains("unread"),
        "read once opened"
    );

    // The attachment and the original download.
    let att_url = message_url(&inbox, "ATTACH-3b8e");
    let att_page = app.page(&att_url).await;
    let part = att_page
        .split("href=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .find(|h| h.contains("/part/"))
        .expect("an attachment link")
        .to_owned();
    let r = app.get(&part.replace("&amp;", "&")).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(!r.bytes().await.unwrap().is_empty());
    let raw = app.get(&format!("{}/raw", url)).await;
    assert_eq!(raw.status(), 200);
    assert!(
        String::from_utf8_lossy(&raw.bytes().await.unwrap()).contains("Subject: Réunion de lundi")
    );
}

#[tokio::test]
async fn folders_moves_search_sort_and_delete_work_on_the_local_store() {
    let (app, dir) = app_with_choice("60").await;
    let acct = new_account("popweb-pages");
    let mut probe = Probe::connect(&acct).await;
    for (from, subject, body) in [
        ("a@example.test", "Banane", "fruit jaune"),
        ("b@example.test", "Ananas", "fruit piquant"),
        ("c@example.test", "Cerise", "rouge et ronde"),
    ] {
        probe
            .append("INBOX", "", &simple_message(from, subject, body))
            .await;
    }
    login_pop(&app, &acct).await;
    let inbox = app.page("/mail/INBOX").await;
    let token = form_token(&inbox);

    // Sorting by subject, A to Z.
    let sorted = app.page("/mail/INBOX?sort=subject&order=asc").await;
    let pos = |s: &str| sorted.find(s).unwrap_or_else(|| panic!("{s}"));
    assert!(pos("Ananas") < pos("Banane") && pos("Banane") < pos("Cerise"));

    // Searching the body text.
    let found = app.page("/mail/INBOX?q=piquant").await;
    assert!(
        found.contains("Ananas") && !found.contains("Banane"),
        "{found}"
    );
    let everywhere = app.page("/search?q=ronde").await;
    assert!(everywhere.contains("Cerise"), "{everywhere}");

    // A new folder, and a move into it.
    let r = app
        .post_form(
            "/folders/create",
            &[("csrf", &token), ("name", "Fruits"), ("parent", "")],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let uid = uid_of(&inbox, "Banane");
    let r = app
        .post_form(
            "/mail/INBOX/actions",
            &[
                ("csrf", &token),
                ("uid", &uid),
                ("action", "move"),
                ("target", "Fruits"),
            ],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let fruits = app.page("/mail/Fruits").await;
    assert!(fruits.contains("Banane"), "{fruits}");
    assert!(!app.page("/mail/INBOX").await.contains("Banane"));
    assert_eq!(local_files(&dir, &acct, ".Fruits").len(), 1);

    // Delete goes to the local Trash; the server keeps its copy (the option is off).
    let uid = uid_of(&inbox, "Cerise");
    app.post_form(
        "/mail/INBOX/actions",
        &[("csrf", &token), ("uid", &uid), ("action", "delete")],
        "en",
    )
    .await;
    assert!(app.page("/mail/Trash").await.contains("Cerise"));
    let r = app.post_form("/check", &[("csrf", &token)], "en").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(probe.uids("INBOX").await.len(), 3);
    assert!(
        !app.page("/mail/INBOX").await.contains("Cerise"),
        "a message deleted here is not downloaded again"
    );
}

#[tokio::test]
async fn options_keep_copy_off_and_delete_when_deleted_here_act_on_the_server() {
    let (app, _) = app_with_choice("60").await;
    let acct = new_account("popweb-opts");
    let mut probe = Probe::connect(&acct).await;
    probe
        .append("INBOX", "", &simple_message("a@example.test", "Un", "1"))
        .await;
    probe
        .append("INBOX", "", &simple_message("b@example.test", "Deux", "2"))
        .await;
    login_pop(&app, &acct).await;
    let settings = app.page("/settings").await;
    assert!(settings.contains("Keep a copy of messages on the server"));
    assert!(
        settings.contains("id=\"pop_keep_copy\" checked"),
        "on by default"
    );
    let token = form_token(&settings);

    // Keep a copy, but delete it when deleted here.
    set_options(&app, &token, true, true).await;
    let inbox = app.page("/mail/INBOX").await;
    let uid = uid_of(&inbox, "Deux");
    app.post_form(
        "/mail/INBOX/actions",
        &[("csrf", &token), ("uid", &uid), ("action", "delete")],
        "en",
    )
    .await;
    app.post_form("/check", &[("csrf", &token)], "en").await;
    let left = probe.uids("INBOX").await;
    assert_eq!(
        left.len(),
        1,
        "only the message deleted here left the server"
    );
    assert!(String::from_utf8_lossy(&probe.fetch("INBOX", left[0]).await).contains("Subject: Un"));
    assert!(
        app.page("/mail/Trash").await.contains("Deux"),
        "still in the local Trash"
    );

    // No copy at all: the next check empties the server, after storing what is new.
    set_options(&app, &token, false, false).await;
    probe
        .append("INBOX", "", &simple_message("c@example.test", "Trois", "3"))
        .await;
    let r = app.post_form("/check", &[("csrf", &token)], "en").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let inbox = app.page("/mail/INBOX").await;
    assert!(inbox.contains("New messages downloaded: 1"), "{inbox}");
    assert!(inbox.contains("Trois") && inbox.contains("Un"));
    assert!(probe.uids("INBOX").await.is_empty(), "server emptied");
}

#[tokio::test]
async fn mail_sent_and_drafts_of_a_pop_account_are_stored_locally() {
    let (app, dir) = app_with_choice("60").await;
    let acct = new_account("popweb-send");
    let bob = new_account("popweb-bob");
    login_pop(&app, &acct).await;
    let (form, _) = open_form(&app, "/compose").await;
    let form = form
        .text("to", bob.address.clone())
        .text("subject", "Depuis un compte POP")
        .text("body", "Bonjour Bob")
        .text("action", "save");
    let r = post(&app, form).await;
    assert!(
        r.status().is_redirection() || r.status() == 200,
        "{}",
        r.status()
    );
    assert_eq!(
        local_files(&dir, &acct, ".Drafts").len(),
        1,
        "draft saved locally"
    );

    let drafts = app.page("/mail/Drafts").await;
    let draft_uid = uid_of(&drafts, "Depuis un compte POP");
    let (form, page) = open_form(&app, &format!("/compose?draft={draft_uid}")).await;
    assert!(page.contains("Bonjour Bob"), "the draft resumes");
    let form = form
        .text("to", bob.address.clone())
        .text("subject", "Depuis un compte POP")
        .text("body", "Bonjour Bob")
        .text("action", "send");
    let r = post(&app, form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let sent = app.page("/mail/Sent").await;
    assert!(sent.contains("Depuis un compte POP"), "{sent}");
    assert!(
        local_files(&dir, &acct, ".Drafts").is_empty(),
        "the draft is gone once sent"
    );
    let mut bob_probe = Probe::connect(&bob).await;
    let got = bob_probe.wait_for("INBOX", 1).await;
    assert!(
        String::from_utf8_lossy(&bob_probe.fetch("INBOX", got[0]).await).contains("Bonjour Bob")
    );
}

#[tokio::test]
async fn a_mailbox_locked_elsewhere_says_so_and_new_mail_is_pushed_later() {
    let (app, _) = app_with_choice("1").await;
    let acct = new_account("popweb-lock");
    login_pop(&app, &acct).await;
    let inbox = app.page("/mail/INBOX").await;
    let token = form_token(&inbox);

    // Another program holds the maildrop.
    let tls =
        courrier::config::tls_settings(Some(&crate::support::mailstack::stack().ca_file)).unwrap();
    let server = courrier::mail::account::Server {
        host: "127.0.0.1".into(),
        port: 10995,
        security: courrier::mail::account::Security::Tls,
    };
    let holder = courrier::mail::pop3::client::connect(
        &server,
        &tls,
        &courrier::mail::account::Credentials::new(acct.address.clone(), acct.password.clone()),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let r = app.post_form("/check", &[("csrf", &token)], "en").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = app.page("/mail/INBOX").await;
    assert!(
        page.contains("Your mailbox is in use by another program; retrying."),
        "{page}"
    );
    let fr = app
        .get_lang("/mail/INBOX", "fr")
        .await
        .text()
        .await
        .unwrap();
    assert!(fr.contains("utilisée par un autre logiciel"), "{fr}");
    holder.quit().await.unwrap();

    // Once free, the periodic check downloads new mail and tells the open page.
    let mut events = Events::open(&app, "INBOX").await;
    let mut probe = Probe::connect(&acct).await;
    probe
        .append(
            "INBOX",
            "",
            &simple_message("n@example.test", "Enfin libre", "x"),
        )
        .await;
    let ev = events
        .next_matching(Duration::from_secs(40), |v| v["messages"] == 1)
        .await;
    assert_eq!(ev["arrived"][0]["subject"], "Enfin libre");
    assert!(app.page("/mail/INBOX").await.contains("Enfin libre"));
}

#[tokio::test]
async fn two_tabs_and_two_browsers_share_one_pop_session() {
    let (app, dir) = app_with_choice("60").await;
    let acct = new_account("popweb-share");
    let mut probe = Probe::connect(&acct).await;
    for i in 0..20 {
        probe
            .append(
                "INBOX",
                "",
                &simple_message("s@example.test", &format!("Lot {i}"), &"x".repeat(20_000)),
            )
            .await;
    }
    login_pop(&app, &acct).await;
    let other = app.other_browser();
    login_pop(&other, &acct).await;
    assert_eq!(pop3_logins(&acct.address), 2, "one download at each login");
    let t1 = form_token(&app.page("/settings").await);
    let t2 = form_token(&other.page("/settings").await);
    for i in 20..40 {
        probe
            .append(
                "INBOX",
                "",
                &simple_message("s@example.test", &format!("Lot {i}"), &"x".repeat(20_000)),
            )
            .await;
    }
    // Both ask at once: one POP3 session serves both, so neither waits for the lock and is told
    // the mailbox is in use (a second session would be, by Dovecot, after about 12 s).
    let (f1, f2) = ([("csrf", t1.as_str())], [("csrf", t2.as_str())]);
    let (a, b) = tokio::join!(
        app.post_form("/check", &f1, "en"),
        other.post_form("/check", &f2, "en"),
    );
    assert_eq!(
        (a.status(), b.status()),
        (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER)
    );
    for browser in [&app, &other] {
        let page = browser.page("/mail/INBOX").await;
        assert!(!page.contains("in use by another program"), "{page}");
        assert!(page.contains("Lot 39") && page.contains("Lot 0"));
    }
    assert_eq!(
        local_files(&dir, &acct, "").len(),
        40,
        "each message stored once"
    );
    assert_eq!(
        pop3_logins(&acct.address),
        3,
        "one POP3 session for both checks"
    );
}

#[tokio::test]
async fn a_reply_from_a_pop_account_reaches_the_sender_and_marks_the_original() {
    let (app, dir) = app_with_choice("60").await;
    let acct = new_account("popweb-reply");
    let bob = new_account("popweb-rbob");
    let mut probe = Probe::connect(&acct).await;
    let question = format!(
        "From: Bob <{}>\r\nTo: {}\r\nSubject: Question\r\nMessage-ID: <q-{}@example.test>\r\nDate: Mon, 3 Nov 2026 10:00:00 +0100\r\n\r\nTu viens ?\r\n",
        bob.address,
        acct.address,
        rand::random::<u32>()
    );
    probe.append("INBOX", "", question.as_bytes()).await;
    probe
        .append(
            "INBOX",
            "",
            format!(
                "From: Bob <{}>\r\nSubject: Re: Question\r\nIn-Reply-To: <q-0@x>\r\nReferences: {}\r\n\r\nPS\r\n",
                bob.address,
                question
                    .lines()
                    .find(|l| l.starts_with("Message-ID"))
                    .unwrap()
                    .trim_start_matches("Message-ID: ")
            )
            .as_bytes(),
        )
        .await;
    login_pop(&app, &acct).await;

    // The two messages make one conversation.
    let threads = app.page("/mail/INBOX?view=threads").await;
    assert!(
        threads.contains("thread-start") && threads.contains("depth-1"),
        "{threads}"
    );

    let inbox = app.page("/mail/INBOX").await;
    let uid = uid_of(&inbox, ">Question<");
    let (form, page) =
        open_form(&app, &format!("/compose?mode=reply&folder=INBOX&uid={uid}")).await;
    assert!(page.contains("Re: Question"), "{page}");
    let form = form
        .text("to", bob.address.clone())
        .text("subject", "Re: Question")
        .text("body", "Oui, j'arrive.\n\n> Tu viens ?")
        .text("action", "send");
    assert_eq!(post(&app, form).await.status(), StatusCode::SEE_OTHER);

    let mut bob_probe = Probe::connect(&bob).await;
    let got = bob_probe.wait_for("INBOX", 1).await;
    let received = String::from_utf8_lossy(&bob_probe.fetch("INBOX", got[0]).await).into_owned();
    assert!(received.contains("Oui, j'arrive."), "{received}");
    assert!(
        received.contains("In-Reply-To: <q-"),
        "threaded: {received}"
    );
    assert!(app.page("/mail/Sent").await.contains("Re: Question"));
    let answered = local_files(&dir, &acct, "")
        .into_iter()
        .filter(|p| {
            p.to_string_lossy()
                .split_once(":2,")
                .is_some_and(|(_, info)| info.contains('R'))
        })
        .count();
    assert_eq!(
        answered, 1,
        "the original is marked answered in its file name"
    );
    assert!(app.page("/mail/INBOX").await.contains("class=\"answered\""));
}
