//! Reading messages from the fixture corpus (`tests/fixtures/messages/`) through the real pages:
//! decoded headers in any charset, text escaped and linkified, HTML sanitised in its frame, attachments
//! downloaded byte for byte, and hostile content neutralised.

use base64::Engine;
use reqwest::StatusCode;

use crate::support::form_token;
use crate::support::imap_probe::Probe;
use crate::support::{Account, TestApp, new_account};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/messages/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A logged-in app whose INBOX holds these fixtures, in order (UIDs 1, 2, ...).
async fn inbox_with(tag: &str, names: &[&str]) -> (TestApp, Account) {
    let app = TestApp::start().await;
    let acct = new_account(tag);
    let mut probe = Probe::connect(&acct).await;
    for n in names {
        probe.append("INBOX", "", &fixture(n)).await;
    }
    app.login(&acct).await;
    (app, acct)
}

/// A logged-in app whose INBOX holds one message written by the test (UID 1).
async fn inbox_with_raw(tag: &str, raw: &str) -> TestApp {
    let app = TestApp::start().await;
    let acct = new_account(tag);
    Probe::connect(&acct)
        .await
        .append("INBOX", "", raw.as_bytes())
        .await;
    app.login(&acct).await;
    app
}

fn text(html: &str) -> String {
    html_escape::decode_html_entities(html).into_owned()
}

/// The page's text as a reader sees it (tags such as `<bdi>` removed, entities decoded).
fn visible(html: &str) -> String {
    scraper::Html::parse_document(html)
        .root_element()
        .text()
        .collect()
}

#[tokio::test]
async fn plain_text_is_decoded_escaped_and_linkified() {
    let (app, _) = inbox_with("read-plain", &["plain.eml"]).await;
    let page = app.page("/mail/INBOX/1").await;
    let t = text(&page);
    assert!(t.contains("Votre facture de décembre — réf. PLAIN-7f3a"));
    assert!(
        visible(&page).contains("Service facturation Société Générale <facturation@example.org>")
    );
    assert!(t.contains("Le cœur du problème, « comme on dit »"));
    assert!(page.contains("MARKER-PLAIN-7f3a"));
    assert!(
        page.contains("href=\"https://example.org/facture?id=42\""),
        "link made clickable"
    );
    assert!(page.contains("&lt;b&gt;not html&lt;/b&gt;"));
    assert!(!page.contains("<b>not html</b>"));
}

#[tokio::test]
async fn charsets_and_encoded_words_are_decoded() {
    let (app, _) = inbox_with(
        "read-charsets",
        &["latin1.eml", "iso-2022-jp.eml", "encoded-headers.eml"],
    )
    .await;
    let latin1 = text(&app.page("/mail/INBOX/1").await);
    assert!(latin1.contains("Retard à Besançon « décembre » LATIN1-e8a1"));
    assert!(latin1.contains("François Lévêque"));
    assert!(latin1.contains("« Où est passé le garçon ? »"));
    let jp = text(&app.page("/mail/INBOX/2").await);
    assert!(jp.contains("会議の議事録について JIS-4a71"), "{jp}");
    assert!(jp.contains("山田太郎"));
    assert!(jp.contains("先日の会議の議事録を送付いたします。"));
    assert!(!jp.contains("$B"), "no ISO-2022-JP escape residue");
    let enc = text(&app.page("/mail/INBOX/3").await);
    assert!(enc.contains("Réunion du comité — ordre du jour"));
    assert!(
        visible(&app.page("/mail/INBOX/3").await)
            .contains("Renée Lefèvre <renee@example.org>, José Núñez <jose@example.org>")
    );
    assert!(enc.contains("Zoë Ålander"));
    // The list shows the decoded subjects too.
    let list = text(&app.page("/mail/INBOX").await);
    assert!(list.contains("会議の議事録について JIS-4a71"));
    assert!(list.contains("Retard à Besançon « décembre » LATIN1-e8a1"));
}

#[tokio::test]
async fn html_is_shown_in_a_sandboxed_frame_without_remote_content() {
    let (app, _) = inbox_with(
        "read-html",
        &["html-newsletter.eml", "multipart-alternative.eml"],
    )
    .await;
    let page = app.page("/mail/INBOX/1").await;
    assert!(page.contains("<iframe"));
    assert!(page.contains("sandbox=\"allow-popups allow-popups-to-escape-sandbox\""));
    assert!(!page.contains("allow-scripts") && !page.contains("allow-same-origin"));
    assert!(page.contains("Remote images and content were blocked"));
    assert!(page.contains("href=\"/mail/INBOX/1?remote=1\""));

    let r = app.get("/mail/INBOX/1/body").await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.contains("img-src data:;"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    let body = text(&r.text().await.unwrap());
    assert!(body.contains("MARKER-NEWS-HTML-5c2e"));
    assert!(body.contains("Tomate Cœur de bœuf"));
    assert!(!body.contains("MARKER-NEWS-TEXT-5c2e"));
    assert!(
        !body.contains("tracker.example.net"),
        "tracking pixel removed"
    );
    assert!(
        !body.contains("cdn.example.net/logo.png"),
        "remote logo removed"
    );
    assert!(
        body.contains("https://news.example.net/gazette/2024-12?utm_campaign=dec"),
        "links kept"
    );
    assert!(body.contains("rel=\"noopener noreferrer\""));

    // When the user asks, remote images are allowed by both the HTML and the frame's policy.
    let r = app.get("/mail/INBOX/1/body?remote=1").await;
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("img-src data: https: http:"), "{csp}");
    let body = text(&r.text().await.unwrap());
    assert!(body.contains("http://cdn.example.net/logo.png"));

    let alt = app.get("/mail/INBOX/2/body").await.text().await.unwrap();
    assert!(alt.contains("MARKER-ALT-HTML") && !alt.contains("MARKER-ALT-TEXT"));
}

#[tokio::test]
async fn attachments_are_listed_and_download_byte_for_byte() {
    let (app, _) = inbox_with("read-attach", &["attachment.eml"]).await;
    let page = app.page("/mail/INBOX/1").await;
    let t = text(&page);
    assert!(t.contains("résumé été.pdf"), "{t}");
    assert!(t.contains("data.csv"));
    assert!(t.contains("609 B"));
    assert!(page.contains("MARKER-ATTACH-BODY-3b8e"));
    let expected_pdf = std::fs::read(format!(
        "{}/tests/fixtures/messages/attachment-parts/resume.pdf",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let r = app.get("/mail/INBOX/1/part/2").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cd.starts_with("attachment;"), "{cd}");
    assert!(
        cd.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%A9t%C3%A9%2Epdf"),
        "{cd}"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), expected_pdf.as_slice());
    let expected_csv = std::fs::read(format!(
        "{}/tests/fixtures/messages/attachment-parts/data.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let r = app.get("/mail/INBOX/1/part/3").await;
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), expected_csv.as_slice());
    let r = app.get("/mail/INBOX/1/part/9").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn inline_images_come_from_the_message_itself() {
    let (app, _) = inbox_with("read-inline", &["inline-image.eml"]).await;
    let page = app.page("/mail/INBOX/1").await;
    assert!(!page.contains("Remote images and content were blocked"));
    assert!(
        !page.contains("logo.png"),
        "an image shown inline is not listed again"
    );
    let body = app.page("/mail/INBOX/1/body").await;
    let png = std::fs::read(format!(
        "{}/tests/fixtures/messages/attachment-parts/logo.png",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let data_uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    );
    assert!(body.contains(&data_uri), "{body}");
    assert!(!body.contains("cid:"));
    assert!(body.contains("MARKER-INLINE-c1d4"));
}

#[tokio::test]
async fn hostile_html_and_headers_are_neutralised() {
    let (app, _) = inbox_with("read-hostile", &["hostile-basic.eml"]).await;
    let page = app.page("/mail/INBOX/1").await;
    // Shown as text: present once entities are decoded, never as markup.
    let t = text(&page);
    assert!(
        t.contains("Hostile <script>alert('subject')</script> HOSTILE-0bad"),
        "subject shown"
    );
    assert!(t.contains("<img src=x onerror=alert(6)>"), "from shown");
    assert!(!page.contains("<script>alert") && !page.contains("<img src=x onerror"));
    let frame = app.page("/mail/INBOX/1/body").await;
    // What the message contributed: everything inside <body>.
    let start = frame.find("<body>").unwrap() + "<body>".len();
    let body = &frame[start..frame.rfind("</body>").unwrap()];
    for bad in [
        "https://evil.example",
        "javascript:",
        "onload",
        "onerror",
        "alert(",
        "<script",
        "<iframe",
        "<form",
        "<meta",
        "<base",
        "<link",
        "<object",
        "<embed",
        "<svg",
        "MARKER-HOSTILE-SCRIPT",
        "MARKER-HOSTILE-STYLE",
    ] {
        assert!(!body.contains(bad), "{bad} reached the frame: {body}");
    }
    assert!(body.contains("MARKER-HOSTILE-VISIBLE"));
    let list = app.page("/mail/INBOX").await;
    assert!(!list.contains("<script>alert"));
    assert!(text(&list).contains("<script>alert('subject')</script>"));
}

#[tokio::test]
async fn malformed_message_still_opens() {
    let (app, _) = inbox_with("read-malformed", &["malformed.eml"]).await;
    let page = app.page("/mail/INBOX/1").await;
    let t = text(&page);
    assert!(t.contains("MALFORMED-dead"));
    assert!(t.contains("Broken Mailer"));
    assert!(t.contains("MARKER-MALFORMED"), "{t}");
    assert!(t.contains("This message is damaged"), "the reader is told");
    let ok = text(&app.page("/mail/INBOX").await);
    assert!(ok.contains("MALFORMED-dead"), "listed like any other");
}

#[tokio::test]
async fn well_formed_messages_carry_no_damage_note() {
    let (app, _) = inbox_with("read-wellformed", &["attachment.eml", "plain.eml"]).await;
    for uid in [1, 2] {
        let t = text(&app.page(&format!("/mail/INBOX/{uid}")).await);
        assert!(!t.contains("This message is damaged"), "uid {uid}");
    }
}

#[tokio::test]
async fn opening_marks_read_and_raw_is_the_original() {
    let (app, acct) = inbox_with("read-seen", &["plain.eml"]).await;
    let mut probe = Probe::connect(&acct).await;
    assert!(!probe.flags("INBOX", 1).await.contains("\\Seen"));
    app.page("/mail/INBOX/1").await;
    assert!(
        probe.flags("INBOX", 1).await.contains("\\Seen"),
        "read here means read everywhere"
    );
    let r = app.get("/mail/INBOX/1/raw").await;
    assert_eq!(r.headers()["content-type"], "message/rfc822");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        fixture("plain.eml").as_slice()
    );
}

#[tokio::test]
async fn unknown_message_is_a_404_page() {
    let (app, _) = inbox_with("read-404", &["plain.eml"]).await;
    for path in [
        "/mail/INBOX/999",
        "/mail/INBOX/abc",
        "/mail/INBOX/0",
        "/mail/INBOX/999/raw",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body = r.text().await.unwrap();
        assert!(
            body.contains("This message does not exist"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn a_nesting_bomb_opens_at_once_as_text() {
    let app = TestApp::start().await;
    let acct = new_account("msg-bomb");
    let mut probe = Probe::connect(&acct).await;
    let html = format!(
        "{}<p>Texte visible BOMB-OK</p>{}",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    let with_text = format!(
        "From: a@example.test\r\nSubject: Bombe\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nVersion texte BOMB-TEXT\r\n--b\r\nContent-Type: text/html\r\n\r\n{html}\r\n--b--\r\n"
    );
    let html_only = format!(
        "From: a@example.test\r\nSubject: Bombe seule\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n{html}\r\n"
    );
    probe.append("INBOX", "", with_text.as_bytes()).await;
    probe.append("INBOX", "", html_only.as_bytes()).await;
    app.login(&acct).await;

    let page = app.page("/mail/INBOX/1").await;
    assert!(
        page.contains("id=\"too-complex\""),
        "{}",
        &page[..2000.min(page.len())]
    );
    assert!(
        page.contains("Version texte BOMB-TEXT"),
        "the text version is shown"
    );
    assert!(
        !page.contains("<iframe"),
        "no frame for a body that is not rendered"
    );
    let frame = app.page("/mail/INBOX/1/body").await;
    assert!(frame.contains("BOMB-TEXT") && !frame.contains("<div>"));

    let page = app.page("/mail/INBOX/2").await;
    assert!(page.contains("id=\"too-complex\""));
    assert!(
        page.contains("Texte visible BOMB-OK"),
        "the HTML's own text"
    );
    let fr = app
        .get_lang("/mail/INBOX/2", "fr")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        fr.contains("trop imbriqué"),
        "{}",
        &fr[..2000.min(fr.len())]
    );
}

#[tokio::test]
async fn remote_content_can_be_allowed_for_one_sender_for_good() {
    let (app, _) = inbox_with("msg-trust", &["html-newsletter.eml", "html-newsletter.eml"]).await;
    let page = app.page("/mail/INBOX/1").await;
    assert!(page.contains("id=\"remote-blocked\""));
    assert!(
        visible(&page).contains("Always show for gazette@news.example.net"),
        "{page}"
    );
    let token = form_token(&page);
    let r = app
        .post_form(
            "/settings/trust-sender",
            &[
                ("csrf", &token),
                ("sender", "gazette@news.example.net"),
                ("back", "/mail/INBOX/1"),
            ],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/mail/INBOX/1");
    // Every message of that sender now shows its images, and the choice is listed in Settings.
    let page = app.page("/mail/INBOX/2").await;
    assert!(!page.contains("id=\"remote-blocked\""));
    assert!(
        page.contains("/mail/INBOX/2/body?remote=1"),
        "the frame loads with images"
    );
    let frame = app.page("/mail/INBOX/2/body").await;
    assert!(frame.contains("src=\"http://cdn.example.net/logo.png\""));
    let settings = app.page("/settings").await;
    assert!(settings.contains("gazette@news.example.net"));
    // Removing it from Settings blocks them again.
    let r = app
        .post_form(
            "/settings",
            &[
                ("csrf", &token),
                ("display_name", ""),
                ("signature", ""),
                ("remote_senders", ""),
            ],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        app.page("/mail/INBOX/2")
            .await
            .contains("id=\"remote-blocked\"")
    );
    // A forged request cannot add a sender.
    let r = app
        .post_form(
            "/settings/trust-sender",
            &[("csrf", "forged"), ("sender", "evil@attacker.invalid")],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_text_part_next_to_the_html_in_a_mixed_message_is_shown_too() {
    // A note typed above a forwarded HTML page, and a list footer added below it: three parts of a
    // multipart/mixed, none of them an alternative of another (desktop clients show all three).
    let raw = "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\n\
        Subject: Mixed parts\r\nDate: Mon, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <mixed-1@example.test>\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
        --m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMARKER-MIXED-NOTE voir <ci-dessous> https://example.org/a\r\n\
        --m\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>MARKER-MIXED-HTML</p>\r\n\
        --m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMARKER-MIXED-FOOTER\r\n--m--\r\n";
    let app = inbox_with_raw("read-mixed", raw).await;
    let body = app.get("/mail/INBOX/1/body").await.text().await.unwrap();
    let note = body.find("MARKER-MIXED-NOTE").expect("the note is shown");
    let html = body.find("MARKER-MIXED-HTML").expect("the HTML is shown");
    let footer = body
        .find("MARKER-MIXED-FOOTER")
        .expect("the footer is shown");
    assert!(note < html && html < footer, "in the message's order");
    assert!(
        body.contains("voir &lt;ci-dessous&gt;"),
        "the text stays text"
    );
    assert!(
        body.contains("href=\"https://example.org/a\""),
        "its link works"
    );
    // Nothing is listed twice as an attachment.
    let page = app.page("/mail/INBOX/1").await;
    assert!(!page.contains("/part/"), "no part offered as a download");
}

#[tokio::test]
async fn links_that_lie_about_their_target_are_listed_above_the_message() {
    let raw = "From: Banque <alerte@example.test>\r\nTo: Bob <bob@example.test>\r\n\
        Subject: Compte suspendu\r\nDate: Mon, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <lie-1@example.test>\r\n\
        MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
        <style>.deceptive-link, a + span { display: none !important }</style>\
        <p>Connectez-vous sur <a href=\"https://login.attacker.invalid/click/1\">https://www.mabanque.example/connexion</a>\
        ou <a href=\"https://www.mabanque.example/aide\">www.mabanque.example</a>.</p>\r\n";
    let app = inbox_with_raw("read-deceptive", raw).await;
    let page = text(&app.page("/mail/INBOX/1").await);
    let notice = page
        .split("id=\"deceptive-links\"")
        .nth(1)
        .expect("the notice above the frame")
        .split("</div>")
        .next()
        .unwrap()
        .to_owned();
    assert!(
        notice.contains("do not go where their text says"),
        "{notice}"
    );
    assert!(
        notice.contains("https://www.mabanque.example/connexion")
            && notice.contains("login.attacker.invalid"),
        "{notice}"
    );
    // The honest link is not listed.
    assert!(!notice.contains("/aide"), "{notice}");
    assert_eq!(notice.matches("<li>").count(), 1, "{notice}");
    let fr = app
        .get_lang("/mail/INBOX/1", "fr")
        .await
        .text()
        .await
        .unwrap();
    assert!(text(&fr).contains("ne mènent pas là où leur texte l’indique"));
}

/// Issue 12: the body frame shows what the message page rendered, without fetching the message
/// again; a frame URL without the page's token (or another session's) still works, by itself.
#[tokio::test]
async fn the_frame_reuses_the_page_rendering() {
    let proxy = crate::support::proxy::FaultProxy::start().await;
    let app = TestApp::behind(&proxy).await;
    let acct = new_account("frame-reuse");
    Probe::connect(&acct)
        .await
        .append("INBOX", "", &fixture("html-newsletter.eml"))
        .await;
    app.login(&acct).await;
    let fetches = || proxy.count_commands("UID FETCH 1 (UID FLAGS RFC822.SIZE BODY.PEEK[]");
    let page = app.page("/mail/INBOX/1").await;
    let src = page
        .split("class=\"body-frame\"")
        .nth(1)
        .and_then(|s| s.split("src=\"").nth(1))
        .and_then(|s| s.split('"').next())
        .map(|s| html_escape::decode_html_entities(s).into_owned())
        .expect("a body frame");
    assert!(src.contains("r="), "{src}");
    assert_eq!(fetches(), 1, "the page fetched the message once");
    let frame = app.page(&src).await;
    assert!(frame.contains("gazette"), "the frame shows the body");
    assert_eq!(fetches(), 1, "the frame did not fetch it again");
    // Without the token, or from another session, the frame does the work itself.
    let plain = app.page("/mail/INBOX/1/body").await;
    assert_eq!(fetches(), 2);
    assert!(plain.contains("gazette"));
    let other = app.other_browser();
    other.login(&acct).await;
    let theirs = other.page(&src).await;
    assert!(theirs.contains("gazette"));
    assert_eq!(fetches(), 3, "another session's token is not honoured");
}
