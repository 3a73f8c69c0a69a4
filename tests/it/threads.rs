//! The conversation view: replies grouped under what they answer, conversations ordered by their
//! latest message, and the toggle back to the list.

use crate::support::imap_probe::Probe;
use crate::support::{TestApp, new_account};

fn msg(id: &str, refs: &str, subject: &str, date: &str) -> Vec<u8> {
    let refs = if refs.is_empty() {
        String::new()
    } else {
        format!(
            "In-Reply-To: {}\r\nReferences: {refs}\r\n",
            refs.split(' ').next_back().unwrap()
        )
    };
    format!(
        "From: a@example.test\r\nTo: b@example.test\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: {id}\r\n{refs}Content-Type: text/plain\r\n\r\nx\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn replies_are_grouped_by_conversation() {
    let app = TestApp::start().await;
    let acct = new_account("threads");
    let mut probe = Probe::connect(&acct).await;
    for m in [
        msg(
            "<root@t>",
            "",
            "Pique-nique",
            "Mon, 2 Nov 2026 10:00:00 +0000",
        ),
        msg("<other@t>", "", "Facture", "Tue, 3 Nov 2026 10:00:00 +0000"),
        msg(
            "<r1@t>",
            "<root@t>",
            "Re: Pique-nique",
            "Wed, 4 Nov 2026 10:00:00 +0000",
        ),
        msg("<lone@t>", "", "Bulletin", "Thu, 5 Nov 2026 10:00:00 +0000"),
        msg(
            "<r2@t>",
            "<root@t> <r1@t>",
            "Re: Re: Pique-nique",
            "Fri, 6 Nov 2026 10:00:00 +0000",
        ),
    ] {
        probe.append("INBOX", "", &m).await;
    }
    app.login(&acct).await;
    let page = app.page("/mail/INBOX?view=threads").await;
    assert!(page.contains("Page 1 of 1 (3 conversations)"), "{page}");
    let pos = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s} missing"));
    // The picnic conversation (latest activity on the 6th) comes first, in reading order.
    assert!(pos(">Pique-nique<") < pos(">Re: Pique-nique<"));
    assert!(pos(">Re: Pique-nique<") < pos(">Re: Re: Pique-nique<"));
    assert!(pos(">Re: Re: Pique-nique<") < pos(">Bulletin<"));
    assert!(pos(">Bulletin<") < pos(">Facture<"));
    let row = |subject: &str| {
        let at = page.find(&format!(">{subject}<")).unwrap();
        let start = page[..at].rfind("<tr").unwrap();
        page[start..at].to_owned()
    };
    assert!(row("Pique-nique").contains("depth-0 thread-start"));
    assert!(row("Re: Pique-nique").contains("depth-1"));
    assert!(row("Re: Re: Pique-nique").contains("depth-2"));
    assert!(page.contains("Show as a list"));
    let list = app.page("/mail/INBOX").await;
    assert!(
        list.contains("Show conversations") && list.contains("href=\"/mail/INBOX?view=threads\"")
    );
}
