//! Writing and sending through the real Postfix and Dovecot: what the recipient receives, what lands
//! in Sent and Drafts, and that nothing typed is lost when sending fails or the session expired.

use courrier::mail::parse::{Body, parse_for_compose, parse_message};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::support::imap_probe::Probe;
use crate::support::{Account, TestApp, new_account};

/// The value of a form field in a page (`name="x" value="..."`), entities decoded.
pub(crate) fn field(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let start = html.find(&key).unwrap_or_else(|| panic!("no field {name}")) + key.len();
    let end = start + html[start..].find('"').unwrap();
    html_escape::decode_html_entities(&html[start..end]).into_owned()
}

/// The textarea's content.
fn body_field(html: &str) -> String {
    let start = html.find("name=\"body\"").unwrap();
    let start = start + html[start..].find('>').unwrap() + 1;
    let end = start + html[start..].find("</textarea>").unwrap();
    html_escape::decode_html_entities(&html[start..end]).into_owned()
}

/// A compose form opened at `path`, as a multipart form with its hidden fields, plus the page.
pub(crate) async fn open_form(app: &TestApp, path: &str) -> (Form, String) {
    let page = app.page(path).await;
    let mut form = Form::new();
    for name in [
        "csrf",
        "compose_id",
        "message_id",
        "in_reply_to",
        "references",
        "original_folder",
        "original_uid",
        "original_flag",
    ] {
        form = form.text(name, field(&page, name));
    }
    (form, page)
}

pub(crate) async fn post(app: &TestApp, form: Form) -> reqwest::Response {
    app.client
        .post(format!("{}/compose", app.base))
        .header("accept-language", "en")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn file(name: &str, ct: &str, bytes: Vec<u8>) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(ct)
        .unwrap()
}

/// The first message in the account's INBOX, as received (waits for it).
async fn received(acct: &Account) -> String {
    let mut probe = Probe::connect(acct).await;
    let uids = probe.wait_for("INBOX", 1).await;
    String::from_utf8(probe.fetch("INBOX", uids[0]).await).unwrap()
}

/// Lines of `text` that would be a header the injection tests try to add.
fn injected_headers(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("X-Injected") || l.starts_with("Bcc"))
        .collect()
}

async fn logged_in(tag: &str) -> (TestApp, Account) {
    let app = TestApp::start().await;
    let acct = new_account(tag);
    app.login(&acct).await;
    (app, acct)
}

#[tokio::test]
async fn a_message_with_two_attachments_reaches_its_recipient_and_sent() {
    let (app, alice) = logged_in("send-alice").await;
    let bob = new_account("send-bob");
    let pdf = std::fs::read(format!(
        "{}/tests/fixtures/messages/attachment-parts/resume.pdf",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let csv = "nom;ville\r\nZoë;Besançon\r\n".as_bytes().to_vec();
    let (form, _) = open_form(&app, "/compose").await;
    let form = form
        .text("to", format!("Bob Martin <{}>", bob.address))
        .text("cc", "")
        .text("bcc", "")
        .text("subject", "Réunion de jeudi — ordre du jour")
        .text("body", "Bonjour Bob,\n\nVoici les documents.\n\nAlice")
        .part(
            "files",
            file("résumé été.pdf", "application/pdf", pdf.clone()),
        )
        .part("files", file("données.csv", "text/csv", csv.clone()))
        .text("action", "send");
    let r = post(&app, form).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(r.headers()["location"], "/mail/INBOX");
    let inbox = app.page("/mail/INBOX").await;
    assert!(inbox.contains("Message sent."), "confirmation shown");

    let mut probe = Probe::connect(&bob).await;
    let uids = probe.wait_for("INBOX", 1).await;
    let raw = probe.fetch("INBOX", uids[0]).await;
    let got = parse_for_compose(&raw);
    assert_eq!(got.view.subject, "Réunion de jeudi — ordre du jour");
    assert_eq!(got.view.from[0].addr_spec(), Some(alice.address.as_str()));
    assert!(matches!(&got.view.body, Body::Text(t) if t.contains("Voici les documents.")));
    let names: Vec<&str> = got.attachments.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(names, ["résumé été.pdf", "données.csv"]);
    assert_eq!(got.attachments[0].2, pdf, "PDF bytes intact");
    assert_eq!(got.attachments[1].2, csv, "CSV bytes intact");
    let head = String::from_utf8_lossy(&raw);
    assert!(head.contains("Message-ID: <") && head.contains(&format!("@{}>", "example.test")));
    assert!(head.contains("Date: "));

    let mut alice_probe = Probe::connect(&alice).await;
    let sent = alice_probe.uids("Sent").await;
    assert_eq!(sent.len(), 1, "a copy in Sent");
    assert!(alice_probe.flags("Sent", sent[0]).await.contains("\\Seen"));
    assert!(
        alice_probe.uids("Drafts").await.is_empty(),
        "no draft left behind"
    );
}

#[tokio::test]
async fn bcc_recipients_receive_it_but_nobody_sees_them() {
    let (app, _alice) = logged_in("bcc-alice").await;
    let bob = new_account("bcc-bob");
    let carol = new_account("bcc-carol");
    let (form, _) = open_form(&app, "/compose").await;
    let form = form
        .text("to", bob.address.clone())
        .text("bcc", carol.address.clone())
        .text("subject", "Discret")
        .text("body", "x")
        .text("action", "send");
    assert_eq!(post(&app, form).await.status(), StatusCode::SEE_OTHER);
    let mut carol_probe = Probe::connect(&carol).await;
    let uids = carol_probe.wait_for("INBOX", 1).await;
    let carol_copy = carol_probe.fetch("INBOX", uids[0]).await;
    let mut bob_probe = Probe::connect(&bob).await;
    let uids = bob_probe.wait_for("INBOX", 1).await;
    let bob_copy = bob_probe.fetch("INBOX", uids[0]).await;
    for copy in [&carol_copy, &bob_copy] {
        let text = String::from_utf8_lossy(copy);
        assert!(!text.contains(&carol.address), "Bcc disclosed:\n{text}");
        assert!(!text.to_ascii_lowercase().contains("\nbcc:"));
    }
}

#[tokio::test]
async fn reply_all_threads_quotes_and_flags_the_original() {
    let (app, bob) = logged_in("reply-bob").await;
    let alice = new_account("reply-alice");
    let carol = new_account("reply-carol");
    let original = format!(
        "From: Alice <{a}>\r\nTo: {b}, {c}\r\nCc: {b}\r\nSubject: Re: Pique-nique\r\nDate: Mon, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <orig-1@example.test>\r\nReferences: <root-1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOn apporte quoi ?\r\n",
        a = alice.address,
        b = bob.address,
        c = carol.address
    );
    let mut probe = Probe::connect(&bob).await;
    probe.append("INBOX", "", original.as_bytes()).await;
    let (form, page) = open_form(&app, "/compose?mode=reply-all&folder=INBOX&uid=1").await;
    assert_eq!(field(&page, "subject"), "Re: Pique-nique", "no Re: Re:");
    let to = field(&page, "to");
    assert!(
        to.contains(&alice.address) && to.contains(&carol.address),
        "{to}"
    );
    assert!(
        !to.contains(&bob.address) && !field(&page, "cc").contains(&bob.address),
        "not to myself"
    );
    let body = body_field(&page);
    assert!(body.contains("Alice wrote:"), "{body}");
    assert!(body.contains("> On apporte quoi ?"), "{body}");
    let form = form
        .text("to", to)
        .text("cc", field(&page, "cc"))
        .text("subject", field(&page, "subject"))
        .text("body", format!("Des fraises.\n{body}"))
        .text("action", "send");
    assert_eq!(post(&app, form).await.status(), StatusCode::SEE_OTHER);

    let mut alice_probe = Probe::connect(&alice).await;
    let uids = alice_probe.wait_for("INBOX", 1).await;
    let raw = String::from_utf8(alice_probe.fetch("INBOX", uids[0]).await).unwrap();
    assert!(raw.contains("In-Reply-To: <orig-1@example.test>"), "{raw}");
    assert!(
        raw.contains("<root-1@example.test> <orig-1@example.test>"),
        "{raw}"
    );
    assert!(probe.flags("INBOX", 1).await.contains("\\Answered"));
}

/// Issue 11: a reply goes to the address the message really came from, never to text decoded from
/// an encoded-word, and a sender's name cannot carry a header into the reply.
#[tokio::test]
async fn replies_go_to_the_real_address_and_names_carry_no_header() {
    let (app, bob) = logged_in("real-reply-bob").await;
    let alice = new_account("real-reply-alice");
    let mut probe = Probe::connect(&bob).await;
    let message = |from: &str, id: u32| {
        format!(
            "From: {from}\r\nTo: {b}\r\nSubject: Bonjour {id}\r\nDate: Mon, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <real-{id}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSalut.\r\n",
            b = bob.address
        )
    };
    // A name that decodes to a line break and a header, then a NUL.
    let injecting = format!(
        "=?utf-8?q?Alice=0D=0AX-Injected=3A_yes=00?= <{}>",
        alice.address
    );
    probe
        .append("INBOX", "", message(&injecting, 1).as_bytes())
        .await;
    // Mailsploit: an encoded-word posing as an address in the local part.
    let mailsploit = "=?utf-8?b?cG90dXNAd2hpdGVob3VzZS5nb3YA?=@mailsploit.test";
    probe
        .append("INBOX", "", message(mailsploit, 2).as_bytes())
        .await;
    // A name showing another address than the real one.
    let posing = format!("\"support@bank.example\" <{}>", alice.address);
    probe
        .append("INBOX", "", message(&posing, 3).as_bytes())
        .await;

    let (_, page) = open_form(&app, "/compose?mode=reply&folder=INBOX&uid=2").await;
    let to = field(&page, "to");
    assert_eq!(to, mailsploit, "the address as it was sent, not decoded");

    let (_, page) = open_form(&app, "/compose?mode=reply&folder=INBOX&uid=3").await;
    let to = field(&page, "to");
    assert_eq!(
        to, alice.address,
        "the real address, without the name posing as another"
    );

    let (form, page) = open_form(&app, "/compose?mode=reply&folder=INBOX&uid=1").await;
    let to = field(&page, "to");
    assert!(to.contains(&alice.address), "{to}");
    assert!(!to.contains(['\r', '\n', '\0']), "{to:?}");
    let form = form
        .text("to", to)
        .text("subject", field(&page, "subject"))
        .text("body", "Oui.")
        .text("action", "send");
    assert_eq!(post(&app, form).await.status(), StatusCode::SEE_OTHER);
    let raw = received(&alice).await;
    let head = raw.split("\r\n\r\n").next().unwrap();
    assert!(injected_headers(head).is_empty(), "{head}");
    assert!(!head.contains('\0'), "{head:?}");
    assert!(head.contains(&alice.address), "{head}");
}

#[tokio::test]
async fn forward_keeps_the_attachments_and_flags_the_original() {
    let (app, bob) = logged_in("fwd-bob").await;
    let alice = new_account("fwd-alice");
    let mut probe = Probe::connect(&bob).await;
    let fixture = std::fs::read(format!(
        "{}/tests/fixtures/messages/attachment.eml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    probe.append("INBOX", "", &fixture).await;
    let (form, page) = open_form(&app, "/compose?mode=forward&folder=INBOX&uid=1").await;
    let text = html_escape::decode_html_entities(&page).into_owned();
    assert!(
        text.contains("résumé été.pdf") && text.contains("data.csv"),
        "attachments carried over"
    );
    assert_eq!(
        field(&page, "subject"),
        "Fwd: Candidature avec pièces jointes ATTACH-3b8e"
    );
    assert!(body_field(&page).contains("MARKER-ATTACH-BODY-3b8e"));
    let form = form
        .text("to", alice.address.clone())
        .text("subject", field(&page, "subject"))
        .text("body", body_field(&page))
        .text("action", "send");
    assert_eq!(post(&app, form).await.status(), StatusCode::SEE_OTHER);
    let mut alice_probe = Probe::connect(&alice).await;
    let uids = alice_probe.wait_for("INBOX", 1).await;
    let got = parse_for_compose(&alice_probe.fetch("INBOX", uids[0]).await);
    let pdf = std::fs::read(format!(
        "{}/tests/fixtures/messages/attachment-parts/resume.pdf",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert!(
        got.attachments
            .iter()
            .any(|a| a.0 == "résumé été.pdf" && a.2 == pdf)
    );
    assert!(probe.flags("INBOX", 1).await.contains("$Forwarded"));

    // Forward as attachment: the original travels whole, as message/rfc822.
    let (form, page) = open_form(&app, "/compose?mode=forward-attached&folder=INBOX&uid=1").await;
    assert!(html_escape::decode_html_entities(&page).contains(".eml"));
    let form = form
        .text("to", alice.address.clone())
        .text("subject", field(&page, "subject"))
        .text("body", "ci-joint")
        .text("action", "send");
    assert_eq!(post(&app, form).await.status(), StatusCode::SEE_OTHER);
    let uids = alice_probe.wait_for("INBOX", 2).await;
    let raw = alice_probe.fetch("INBOX", uids[1]).await;
    assert!(String::from_utf8_lossy(&raw).contains("message/rfc822"));
}

#[tokio::test]
async fn header_injection_through_the_form_is_impossible() {
    let (app, _) = logged_in("inject-alice").await;
    let bob = new_account("inject-bob");
    let (form, _) = open_form(&app, "/compose").await;
    let form = form
        .text("to", format!("{}\r\nBcc: evil@elsewhere.test", bob.address))
        .text("subject", "x")
        .text("body", "y")
        .text("action", "send");
    let r = post(&app, form).await;
    assert_eq!(r.status(), StatusCode::OK, "form shown again");
    let page = html_escape::decode_html_entities(&r.text().await.unwrap()).into_owned();
    assert!(
        page.contains("Not a valid address: Bcc: evil@elsewhere.test"),
        "{page}"
    );

    let (form, _) = open_form(&app, "/compose").await;
    let form = form
        .text("to", bob.address.clone())
        .text(
            "subject",
            "Hello\r\nBcc: evil@elsewhere.test\r\nX-Injected: yes",
        )
        .text("body", "y")
        .text("action", "send");
    assert_eq!(post(&app, form).await.status(), StatusCode::SEE_OTHER);
    let raw = received(&bob).await;
    let headers = raw.split("\r\n\r\n").next().unwrap();
    assert!(injected_headers(headers).is_empty(), "{headers}");
    assert_eq!(
        parse_message(raw.as_bytes()).subject,
        "Hello Bcc: evil@elsewhere.test X-Injected: yes"
    );
}

#[tokio::test]
async fn the_sender_name_and_a_file_name_cannot_add_headers_either() {
    let (app, _) = logged_in("inject2-alice").await;
    let bob = new_account("inject2-bob");
    let page = app.page("/settings").await;
    let r = app
        .post_form(
            "/settings",
            &[
                ("csrf", &field(&page, "csrf")),
                ("display_name", "Alice\r\nBcc: evil@elsewhere.test"),
                ("signature", ""),
            ],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (form, _) = open_form(&app, "/compose").await;
    let form = form
        .text("to", bob.address.clone())
        .text("subject", "Pièce jointe")
        .text("body", "y")
        .part(
            "files",
            // A second parameter smuggled in through a quote (a browser sends it as is, escaped).
            file(
                "rapport\"; filename=\"evil.exe",
                "text/plain",
                b"contenu".to_vec(),
            ),
        )
        .text("action", "send");
    let r = post(&app, form).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let raw = received(&bob).await;
    // No line of the message, in its header or in any part's header, is an injected header.
    assert!(injected_headers(&raw).is_empty(), "{raw}");
    let got = parse_message(raw.as_bytes());
    let from = got.from[0].name.clone().unwrap_or_default();
    assert!(!from.contains('\n') && from.contains("Alice"), "{from:?}");
    assert_eq!(got.attachments.len(), 1, "{raw}");
    let name = &got.attachments[0].filename;
    assert!(
        name.starts_with("rapport") && name.contains("evil.exe") && name != "evil.exe",
        "the name stays one parameter: {name:?}"
    );
}

/// A compose form posted as multipart whose connection drops in the middle of a file, after
/// `fields` arrived.
async fn post_cut_short(app: &TestApp, fields: &[(&str, String)]) -> reqwest::Response {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(
        "--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nthe first half of a file",
    );
    app.client
        .post(format!("{}/compose", app.base))
        .header("accept-language", "en")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_form_that_arrives_cut_short_sends_nothing_and_says_so() {
    let (app, alice) = logged_in("cut-alice").await;
    let bob = new_account("cut-bob");
    let page = app.page("/compose").await;
    let form = |body: &str, action: &str| -> Vec<(&'static str, String)> {
        let mut f: Vec<(&'static str, String)> = ["csrf", "compose_id", "message_id"]
            .into_iter()
            .map(|n| (n, field(&page, n)))
            .collect();
        f.extend([
            ("to", bob.address.clone()),
            ("subject", "Coupé en route".to_owned()),
            ("body", body.to_owned()),
            ("action", action.to_owned()),
        ]);
        f
    };
    // The draft saved whole...
    let mut whole = Form::new();
    for (name, value) in form("Le texte complet.", "save") {
        whole = whole.text(name, value);
    }
    assert_eq!(post(&app, whole).await.status(), StatusCode::OK);
    let mut probe = Probe::connect(&alice).await;
    let drafts = probe.wait_for("Drafts", 1).await;
    // ...is not replaced by an autosave cut short (the script tries again later).
    let r = post_cut_short(&app, &form("Le tex", "autosave")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(probe.uids("Drafts").await, drafts, "the draft is untouched");
    let raw = String::from_utf8(probe.fetch("Drafts", drafts[0]).await).unwrap();
    assert!(raw.contains("Le texte complet."), "{raw}");

    // "send" arrived, the file did not: nothing is sent, the user is told, the text comes back.
    let r = post_cut_short(&app, &form("Le texte complet.", "send")).await;
    assert_eq!(r.status(), StatusCode::OK, "the form comes back");
    let page = html_escape::decode_html_entities(&r.text().await.unwrap()).into_owned();
    assert!(
        page.contains("Part of the form did not arrive, so nothing was sent."),
        "{page}"
    );
    assert!(
        page.contains("value=\"Coupé en route\""),
        "the subject is kept"
    );
    assert!(page.contains("Le texte complet."), "the text is kept");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mut probe = Probe::connect(&bob).await;
    assert!(probe.uids("INBOX").await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn when_smtp_is_down_the_message_waits_in_drafts_with_its_attachment() {
    // Nothing listens on port 9: the SMTP server is "down".
    let app = TestApp::with(&[("COURRIER_SMTP_PORT", "9")]).await;
    let alice = new_account("down-alice");
    app.login(&alice).await;
    let (form, _) = open_form(&app, "/compose").await;
    let form = form
        .text("to", "bob@example.test")
        .text("subject", "Important")
        .text("body", "Un texte long et précieux.")
        .part("files", file("plan.txt", "text/plain", b"plan B".to_vec()))
        .text("action", "send");
    let r = post(&app, form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let text = html_escape::decode_html_entities(&page).into_owned();
    assert!(
        text.contains("The message was not sent: the mail server for sending cannot be reached"),
        "{text}"
    );
    assert!(text.contains("A copy is in Drafts"));
    assert_eq!(body_field(&page), "Un texte long et précieux.");
    assert_eq!(field(&page, "to"), "bob@example.test");
    assert!(text.contains("plan.txt"), "attachment still there");
    let mut probe = Probe::connect(&alice).await;
    let drafts = probe.uids("Drafts").await;
    assert_eq!(drafts.len(), 1);
    assert!(probe.flags("Drafts", drafts[0]).await.contains("\\Draft"));
    let draft = parse_for_compose(&probe.fetch("Drafts", drafts[0]).await);
    assert!(draft.text.contains("Un texte long et précieux."));
    assert_eq!(draft.attachments[0].2, b"plan B");
}

#[tokio::test]
async fn autosave_replaces_the_draft_and_the_draft_resumes() {
    let (app, alice) = logged_in("autosave").await;
    let (form, page) = open_form(&app, "/compose").await;
    let message_id = field(&page, "message_id");
    let compose_id = field(&page, "compose_id");
    let csrf = field(&page, "csrf");
    let form = form
        .text("to", "Bob <bob@example.test>")
        .text("subject", "Brouillon")
        .text("body", "première version")
        .part("files", file("notes.txt", "text/plain", b"notes".to_vec()))
        .text("action", "autosave");
    assert_eq!(post(&app, form).await.status(), StatusCode::NO_CONTENT);
    let second = Form::new()
        .text("csrf", csrf)
        .text("compose_id", compose_id)
        .text("message_id", message_id)
        .text("to", "Bob <bob@example.test>")
        .text("subject", "Brouillon")
        .text("body", "deuxième version")
        .text("action", "autosave");
    assert_eq!(post(&app, second).await.status(), StatusCode::NO_CONTENT);
    let mut probe = Probe::connect(&alice).await;
    let drafts = probe.uids("Drafts").await;
    assert_eq!(drafts.len(), 1, "replaced, not duplicated");
    let draft = parse_for_compose(&probe.fetch("Drafts", drafts[0]).await);
    assert!(draft.text.contains("deuxième version"));

    let page = app.page(&format!("/compose?draft={}", drafts[0])).await;
    assert_eq!(field(&page, "subject"), "Brouillon");
    assert!(field(&page, "to").contains("bob@example.test"));
    assert!(body_field(&page).contains("deuxième version"));
    assert!(page.contains("notes.txt"), "attachments come back too");
    assert_eq!(
        field(&page, "message_id"),
        draft.view.message_id.map(|i| format!("<{i}>")).unwrap()
    );
}

#[tokio::test]
async fn an_attachment_over_the_limit_is_refused_and_nothing_else_is_lost() {
    let app = TestApp::with(&[("COURRIER_SMTP_MAX_MESSAGE_MB", "1")]).await;
    let acct = new_account("limit");
    app.login(&acct).await;
    let (form, _) = open_form(&app, "/compose").await;
    let form = form
        .text("to", "bob@example.test")
        .text("subject", "Gros fichier")
        .text("body", "Le texte reste là.")
        .part("files", file("petit.txt", "text/plain", vec![b'a'; 1000]))
        .part(
            "files",
            file(
                "énorme.bin",
                "application/octet-stream",
                vec![0u8; 900 * 1024],
            ),
        )
        .text("action", "attach");
    let r = post(&app, form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let text = html_escape::decode_html_entities(&page).into_owned();
    assert!(text.contains("“énorme.bin” was not attached"), "{text}");
    assert!(text.contains("petit.txt"));
    assert!(!text.contains("énorme.bin</span>"));
    assert_eq!(body_field(&page), "Le texte reste là.");
    assert!(text.contains("Attachments up to"), "the limit is shown");
}

/// "Send" from a browser whose session is gone (no cookie at all, a stale token).
fn sent_without_session(body: &str) -> Form {
    Form::new()
        .text("csrf", "stale")
        .text("compose_id", "")
        .text("message_id", "")
        .text("to", "bob@example.test")
        .text("subject", "Ne pas perdre")
        .text("body", body.to_owned())
        .text("action", "send")
}

/// Behind https the cookie naming a kept message is `Secure`, as the session cookie is.
#[tokio::test]
async fn the_stash_cookie_is_secure_behind_https() {
    let app = TestApp::with(&[("COURRIER_SERVER_PUBLIC_URL", "https://mail.example.org")]).await;
    let r = post(&app, sent_without_session("Texte.")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("courrier_stash="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn a_form_posted_after_the_session_expired_comes_back_after_login() {
    let app = TestApp::start().await;
    let acct = new_account("expired");
    // A browser whose session is gone (no cookie at all) posts its message.
    let r = post(
        &app,
        sent_without_session("Trois paragraphes écrits avec soin."),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/login?expired=1&next=%2Fcompose%3Frestore%3D"),
        "{location}"
    );
    let page = app.page(&location).await;
    assert!(page.contains("Your session has ended"));
    let next = field(&page, "next");
    let r = app
        .post_login(
            &[
                ("email", &acct.address),
                ("password", &acct.password),
                ("next", &next),
            ],
            "en",
        )
        .await;
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with("/compose?restore="), "{back}");
    let page = app.page(&back).await;
    assert_eq!(body_field(&page), "Trois paragraphes écrits avec soin.");
    assert_eq!(field(&page, "subject"), "Ne pas perdre");
    assert!(page.contains("here is the message you were writing"));
    // Another browser cannot take it.
    let other = app.other_browser();
    other.login(&acct).await;
    let theirs = other.page(&back).await;
    assert!(
        !theirs.contains("Trois paragraphes"),
        "the stash is tied to the browser's cookie"
    );
}

#[tokio::test]
async fn settings_give_the_from_name_and_the_signature() {
    let (app, alice) = logged_in("settings-alice").await;
    let bob = new_account("settings-bob");
    let page = app.page("/settings").await;
    let csrf = field(&page, "csrf");
    let r = app
        .post_form(
            "/settings",
            &[
                ("csrf", &csrf),
                ("display_name", "Alice Dupré"),
                ("signature", "Alice\r\nService client"),
            ],
            "en",
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        app.page("/settings?saved=1")
            .await
            .contains("Settings saved.")
    );
    let (form, page) = open_form(&app, "/compose").await;
    let body = body_field(&page);
    assert_eq!(
        body, "\n\n-- \nAlice\nService client",
        "signature below the separator"
    );
    let form = form
        .text("to", bob.address.clone())
        .text("subject", "Signé")
        .text("body", format!("Bonjour{body}"))
        .text("action", "send");
    assert_eq!(post(&app, form).await.status(), StatusCode::SEE_OTHER);
    let mut probe = Probe::connect(&bob).await;
    let uids = probe.wait_for("INBOX", 1).await;
    let got = parse_message(&probe.fetch("INBOX", uids[0]).await);
    assert_eq!(got.from[0].name.as_deref(), Some("Alice Dupré"));
    assert_eq!(got.from[0].addr_spec(), Some(alice.address.as_str()));
    assert!(
        matches!(&got.body, Body::Text(t) if t.contains("-- \r\nAlice") || t.contains("-- \nAlice"))
    );
}

#[tokio::test]
async fn an_attachment_can_be_removed_before_sending() {
    let (app, _) = logged_in("remove-att").await;
    let (form, _) = open_form(&app, "/compose").await;
    let form = form
        .text("to", "")
        .text("subject", "s")
        .text("body", "b")
        .part("files", file("garder.txt", "text/plain", b"1".to_vec()))
        .part("files", file("retirer.txt", "text/plain", b"2".to_vec()))
        .text("action", "attach");
    let page = post(&app, form).await.text().await.unwrap();
    assert!(page.contains("garder.txt") && page.contains("retirer.txt"));
    let start = page.find("retirer.txt").unwrap();
    let value = &page[start..];
    let value = &value[value.find("value=\"remove:").unwrap() + 7..];
    let action = &value[..value.find('"').unwrap()];
    let mut form = Form::new();
    for name in ["csrf", "compose_id", "message_id"] {
        form = form.text(name, field(&page, name));
    }
    let form = form
        .text("to", "")
        .text("subject", "s")
        .text("body", "b")
        .text("action", action.to_owned());
    let page = post(&app, form).await.text().await.unwrap();
    assert!(page.contains("garder.txt"));
    assert!(!page.contains("retirer.txt"));
}

#[tokio::test]
async fn a_second_click_on_send_does_not_send_twice() {
    let (app, alice) = logged_in("twice-alice").await;
    let bob = new_account("twice-bob");
    let (_, page) = open_form(&app, "/compose").await;
    let make = |action: &str| {
        let mut form = Form::new();
        for name in ["csrf", "compose_id", "message_id"] {
            form = form.text(name, field(&page, name));
        }
        form.text("to", bob.address.clone())
            .text("subject", "Une seule fois")
            .text("body", "x")
            .text("action", action.to_owned())
    };
    let (a, b) = tokio::join!(post(&app, make("send")), post(&app, make("send")));
    assert_eq!(a.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.status(), StatusCode::SEE_OTHER);
    let mut probe = Probe::connect(&bob).await;
    probe.wait_for("INBOX", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(probe.uids("INBOX").await.len(), 1, "delivered once");
    // A late autosave of the sent message leaves no draft behind.
    assert_eq!(
        post(&app, make("autosave")).await.status(),
        StatusCode::NO_CONTENT
    );
    let mut mine = Probe::connect(&alice).await;
    assert!(mine.uids("Drafts").await.is_empty());
    assert_eq!(mine.uids("Sent").await.len(), 1);
}

#[tokio::test]
async fn send_with_a_refused_file_or_a_stale_token_sends_nothing_and_keeps_the_text() {
    let app = TestApp::with(&[("COURRIER_SMTP_MAX_MESSAGE_MB", "1")]).await;
    let alice = new_account("refused-alice");
    app.login(&alice).await;
    let bob = new_account("refused-bob");
    let (form, _) = open_form(&app, "/compose").await;
    let form = form
        .text("to", bob.address.clone())
        .text("subject", "Avec pièce")
        .text("body", "Voir la pièce jointe.")
        .part(
            "files",
            file(
                "gros.bin",
                "application/octet-stream",
                vec![0u8; 900 * 1024],
            ),
        )
        .text("action", "send");
    let r = post(&app, form).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the form comes back instead of sending without the file"
    );
    let page = r.text().await.unwrap();
    assert!(html_escape::decode_html_entities(&page).contains("“gros.bin” was not attached"));
    assert_eq!(body_field(&page), "Voir la pièce jointe.");

    let (form, _) = open_form(&app, "/compose").await;
    let mut stale = Form::new().text("csrf", "from-an-older-session");
    let _ = form;
    stale = stale
        .text("to", bob.address.clone())
        .text("subject", "Ancien onglet")
        .text("body", "Écrit avant de se reconnecter.")
        .text("action", "send");
    let r = post(&app, stale).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert_eq!(body_field(&page), "Écrit avant de se reconnecter.");
    assert!(html_escape::decode_html_entities(&page).contains("nothing was done yet"));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut probe = Probe::connect(&bob).await;
    assert!(probe.uids("INBOX").await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn autosave_without_a_session_says_so() {
    let app = TestApp::start().await;
    let form = Form::new()
        .text("csrf", "x")
        .text("body", "pas encore enregistré")
        .text("action", "autosave");
    assert_eq!(post(&app, form).await.status(), StatusCode::UNAUTHORIZED);
}

/// Special folders are remembered between operations; one deleted by another client meanwhile is
/// created again, and the copy of what was sent still lands in it.
#[tokio::test]
async fn a_sent_folder_deleted_elsewhere_is_made_again_for_the_next_copy() {
    let (app, alice) = logged_in("sent-gone").await;
    let send = |subject: &'static str| {
        let app = &app;
        async move {
            let (form, _) = open_form(app, "/compose").await;
            let form = form
                .text("to", "bob@example.test")
                .text("subject", subject)
                .text("body", "Texte")
                .text("action", "send");
            let r = post(app, form).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            app.page("/mail/INBOX").await
        }
    };
    assert!(send("Premier").await.contains("Message sent."));
    assert_eq!(Probe::connect(&alice).await.uids("Sent").await.len(), 1);
    Probe::connect(&alice).await.ok("DELETE Sent").await;
    let inbox = send("Second").await;
    assert!(inbox.contains("Message sent."), "{inbox}");
    assert!(
        !inbox.contains("could not be stored"),
        "no filing error: {inbox}"
    );
    let mut probe = Probe::connect(&alice).await;
    let sent = probe.uids("Sent").await;
    assert_eq!(sent.len(), 1, "the second copy is in a new Sent");
    let raw = probe.fetch("Sent", sent[0]).await;
    assert!(String::from_utf8_lossy(&raw).contains("Subject: Second"));
}

/// Autosave runs every half minute while someone writes: after the first save, it does not list
/// the account's folders again to find Drafts.
#[tokio::test]
async fn saving_a_draft_again_lists_no_folders() {
    let proxy = crate::support::proxy::FaultProxy::start().await;
    let app = TestApp::behind(&proxy).await;
    let alice = new_account("autosave-lists");
    app.login(&alice).await;
    let (_, page) = open_form(&app, "/compose").await;
    let save = |body: &'static str| {
        Form::new()
            .text("csrf", field(&page, "csrf"))
            .text("compose_id", field(&page, "compose_id"))
            .text("message_id", field(&page, "message_id"))
            .text("to", "bob@example.test")
            .text("subject", "Brouillon")
            .text("body", body)
            .text("action", "autosave")
    };
    let lists = || proxy.count_commands("LIST");
    assert_eq!(
        post(&app, save("un")).await.status(),
        StatusCode::NO_CONTENT
    );
    let after_first = lists();
    assert_eq!(
        post(&app, save("deux")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post(&app, save("trois")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(lists(), after_first, "Drafts was remembered");
    let mut probe = Probe::connect(&alice).await;
    let drafts = probe.uids("Drafts").await;
    assert_eq!(drafts.len(), 1, "one draft, the last version");
    let raw = probe.fetch("Drafts", drafts[0]).await;
    assert!(String::from_utf8_lossy(&raw).contains("trois"));
}
