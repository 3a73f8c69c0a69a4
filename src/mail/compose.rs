//! Writing mail: recipients parsed from what people type, replies and forwards derived from the
//! original (subject, quoting, threading headers, recipients), and the outgoing message built as MIME
//! with lettre.
//!
//! Everything a user types is single-line header material except the body; CR, LF and other control
//! characters are removed from it before it reaches a header, so no field can inject another header.

use std::time::SystemTime;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::parse::{Addr, MessageView};

/// One attachment of an outgoing message, already in memory.
#[derive(Clone, Debug)]
pub struct OutgoingAttachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A message being written: plain data, as the compose form holds it.
#[derive(Clone, Debug, Default)]
pub struct Outgoing {
    /// The sender's address (the login address).
    pub from_address: String,
    /// The sender's display name, from settings (may be empty).
    pub from_name: String,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub subject: String,
    pub body: String,
    /// `<id@host>` of the message replied to.
    pub in_reply_to: Option<String>,
    /// Message-IDs of the thread, oldest first.
    pub references: Vec<String>,
    pub attachments: Vec<OutgoingAttachment>,
    /// This message's own Message-ID, `<random@sender-domain>`.
    pub message_id: String,
}

/// Why a message could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("the sender address {0:?} is not valid")]
    BadSender(String),
    #[error("no recipient")]
    NoRecipient,
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// Removes what can never be part of a one-line header value: CR, LF and other control characters.
pub fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a recipient field: addresses separated by commas or semicolons, each either bare
/// (`a@example.org`) or with a name (`Name <a@example.org>`, `"Doe, John" <j@example.org>`).
/// Returns the mailboxes, or the pieces that are not addresses, to show on the form.
pub fn parse_recipients(input: &str) -> Result<Vec<Mailbox>, Vec<String>> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    // A set, not a scan of `good`: a reply-all can carry thousands of recipients.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for item in split_addresses(input) {
        let item = one_line(&item);
        if item.is_empty() {
            continue;
        }
        match parse_mailbox(&item) {
            Some(m) => {
                if seen.insert(m.email.to_string().to_lowercase()) {
                    good.push(m);
                }
            }
            None => bad.push(item),
        }
    }
    if bad.is_empty() { Ok(good) } else { Err(bad) }
}

fn parse_mailbox(item: &str) -> Option<Mailbox> {
    if let Ok(m) = item.parse::<Mailbox>() {
        return Some(m);
    }
    // `Name <addr>` with an unquoted name containing characters lettre wants quoted (dots, accents
    // and such are common in names people type): split it ourselves.
    let (name, rest) = item.rsplit_once('<')?;
    let addr = rest.strip_suffix('>')?.trim();
    let address = addr.parse().ok()?;
    let name = name.trim().trim_matches('"').trim();
    Some(Mailbox::new(
        (!name.is_empty()).then(|| name.to_owned()),
        address,
    ))
}

/// Splits on `,` and `;` outside double quotes and angle brackets.
fn split_addresses(input: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut angle) = (false, false);
    let mut escaped = false;
    for c in input.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            '<' if !quoted => {
                angle = true;
                cur.push(c);
            }
            '>' if !quoted => {
                angle = false;
                cur.push(c);
            }
            ',' | ';' | '\n' | '\r' if !quoted && !angle => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Formats mailboxes back into a field value the parser accepts.
pub fn format_recipients(list: &[Mailbox]) -> String {
    list.iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A fresh Message-ID on the sender's domain.
pub fn new_message_id(from_address: &str) -> String {
    let domain = from_address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
        .unwrap_or("localhost");
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    format!("<{}@{}>", hex::encode(b), one_line(domain).replace(' ', ""))
}

/// Keeps only well-formed `<id>` message identifiers (what goes into In-Reply-To and References).
pub fn clean_message_ids(raw: &str) -> Vec<String> {
    raw.split_whitespace()
        .filter(|id| {
            id.len() > 2
                && id.len() < 256
                && id.starts_with('<')
                && id.ends_with('>')
                && id[1..id.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_graphic() && c != '<' && c != '>')
        })
        .map(str::to_owned)
        .collect()
}

/// Builds the MIME message. `keep_bcc` is for drafts, which must remember Bcc; a sent message never
/// carries it (the envelope does).
pub fn build(
    msg: &Outgoing,
    date: SystemTime,
    keep_bcc: bool,
) -> Result<lettre::Message, ComposeError> {
    let from_addr = msg
        .from_address
        .parse()
        .map_err(|_| ComposeError::BadSender(msg.from_address.clone()))?;
    let name = one_line(&msg.from_name);
    let from = Mailbox::new((!name.is_empty()).then_some(name), from_addr);
    let mut b = lettre::Message::builder()
        .from(from)
        .subject(one_line(&msg.subject))
        .date(date)
        .message_id(Some(msg.message_id.clone()))
        .user_agent("Courrier".into());
    for m in &msg.to {
        b = b.to(m.clone());
    }
    for m in &msg.cc {
        b = b.cc(m.clone());
    }
    for m in &msg.bcc {
        b = b.bcc(m.clone());
    }
    if msg.to.is_empty() && msg.cc.is_empty() && msg.bcc.is_empty() {
        if !keep_bcc {
            return Err(ComposeError::NoRecipient);
        }
        // A draft may have no recipient yet; lettre needs an envelope, the sender will do.
        let env = lettre::address::Envelope::new(
            None,
            vec![
                msg.from_address
                    .parse()
                    .map_err(|_| ComposeError::BadSender(msg.from_address.clone()))?,
            ],
        )
        .map_err(|e| ComposeError::Build(e.to_string()))?;
        b = b.envelope(env);
    }
    if let Some(id) = msg
        .in_reply_to
        .as_deref()
        .and_then(|i| clean_message_ids(i).pop())
    {
        b = b.in_reply_to(id);
    }
    let refs: Vec<String> = msg
        .references
        .iter()
        .flat_map(|r| clean_message_ids(r))
        .collect();
    if !refs.is_empty() {
        b = b.references(refs.join(" "));
    }
    if keep_bcc {
        b = b.keep_bcc();
    }
    let text = SinglePart::builder()
        .content_type(
            ContentType::parse("text/plain; charset=utf-8; format=flowed")
                .map_err(|e| ComposeError::Build(e.to_string()))?,
        )
        .body(flow(&msg.body));
    let message = if msg.attachments.is_empty() {
        b.singlepart(text)
    } else {
        let mut mixed = MultiPart::mixed().singlepart(text);
        for a in &msg.attachments {
            let ct = ContentType::parse(&a.content_type)
                .or_else(|_| ContentType::parse("application/octet-stream"))
                // Never taken: the line above parses a constant.
                .unwrap_or(ContentType::TEXT_PLAIN);
            mixed = mixed
                .singlepart(Attachment::new(clean_filename(&a.filename)).body(a.bytes.clone(), ct));
        }
        b.multipart(mixed)
    };
    message.map_err(|e| ComposeError::Build(e.to_string()))
}

/// A filename safe to put in a Content-Disposition: the rule of `display::filename`, so that a file
/// is sent under the name the page showed (no directories, controls, quotes or direction tricks).
pub fn clean_filename(name: &str) -> String {
    super::display::filename(name)
}

/// Wraps long lines for `format=flowed` (RFC 3676): a line longer than 76 characters is broken at a
/// space, the space kept at the end of the line so that readers that understand flowed text rejoin it.
/// Quote markers are repeated on continuation lines; the signature separator is left alone.
pub fn flow(body: &str) -> String {
    const WIDTH: usize = 76;
    let mut out = String::with_capacity(body.len() + body.len() / 40);
    let normalized = body.replace("\r\n", "\n").replace('\r', "\n");
    for line in normalized.split('\n') {
        // RFC 3676 section 4.2: trailing spaces mean "flowed", so a user's own trailing spaces go,
        // except on the signature separator.
        let line = if line == "-- " {
            line
        } else {
            line.trim_end_matches(' ')
        };
        let quote_len = line.chars().take_while(|c| *c == '>').count();
        let (quote, text) = line.split_at(quote_len);
        let prefix = if quote.is_empty() {
            String::new()
        } else {
            format!("{quote} ")
        };
        let text = if quote.is_empty() {
            text
        } else {
            text.strip_prefix(' ').unwrap_or(text)
        };
        if line.chars().count() <= WIDTH || !text.contains(' ') {
            out.push_str(&stuff(line));
            out.push_str("\r\n");
            continue;
        }
        let mut current = String::new();
        for word in text.split(' ') {
            let projected =
                prefix.chars().count() + current.chars().count() + word.chars().count() + 1;
            if !current.is_empty() && projected > WIDTH {
                out.push_str(&stuff(&format!("{prefix}{current} ")));
                out.push_str("\r\n");
                current.clear();
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push_str(&stuff(&format!("{prefix}{current}")));
        out.push_str("\r\n");
    }
    // No trailing empty line added by the final split.
    if out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// RFC 3676 section 4.4 space-stuffing: lines starting with a space or "From " get a leading space.
fn stuff(line: &str) -> String {
    if line.starts_with(' ') || line.starts_with("From ") {
        format!(" {line}")
    } else {
        line.to_owned()
    }
}

/// `Re: subject`, without stacking prefixes (`Re: Re:`), also for `RE:` and the French `Re :`.
pub fn reply_subject(subject: &str) -> String {
    let s = one_line(subject);
    let lower = s.to_lowercase();
    if lower.starts_with("re:") || lower.starts_with("re :") {
        s
    } else {
        format!("Re: {s}")
    }
}

/// `Fwd: subject`, without stacking.
pub fn forward_subject(subject: &str) -> String {
    let s = one_line(subject);
    let lower = s.to_lowercase();
    if lower.starts_with("fwd:")
        || lower.starts_with("fw:")
        || lower.starts_with("tr :")
        || lower.starts_with("tr:")
    {
        s
    } else {
        format!("Fwd: {s}")
    }
}

/// The original's text with every line prefixed by `>` (a quoted line gets `>>`), after an
/// attribution line supplied in the user's language.
pub fn quote(attribution: &str, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 10 + attribution.len() + 4);
    out.push_str(attribution);
    out.push('\n');
    for line in text.replace("\r\n", "\n").trim_end().split('\n') {
        if line.starts_with('>') {
            out.push('>');
        } else {
            out.push_str("> ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The recipients of a reply: Reply-To or From; for reply-all also To and Cc, without the user
/// themself and without duplicates (compared in a set: a message may carry thousands of recipients).
pub fn reply_recipients(
    original: &MessageView,
    own_address: &str,
    all: bool,
) -> (Vec<Mailbox>, Vec<Mailbox>) {
    let author: &[Addr] = if original.reply_to.is_empty() {
        &original.from
    } else {
        &original.reply_to
    };
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    seen.insert(own_address.to_lowercase());
    let mut push = |list: &mut Vec<Mailbox>, a: &Addr| {
        let Some(m) = addr_to_mailbox(a) else { return };
        if seen.insert(m.email.to_string().to_lowercase()) {
            list.push(m);
        }
    };
    let mut to: Vec<Mailbox> = Vec::new();
    let mut cc: Vec<Mailbox> = Vec::new();
    for a in author {
        push(&mut to, a);
    }
    if all {
        for a in &original.to {
            push(&mut to, a);
        }
        for a in &original.cc {
            push(&mut cc, a);
        }
    }
    // Replying to one's own message (in Sent): answer its recipients instead of oneself. Only then:
    // an author without a usable address must not turn a reply into a message to everyone else.
    let own_message = original.from.iter().any(|a| {
        a.addr_spec()
            .is_some_and(|s| s.eq_ignore_ascii_case(own_address))
    });
    if to.is_empty() && own_message {
        for a in &original.to {
            push(&mut to, a);
        }
    }
    (to, cc)
}

/// The mailbox to write to for an address read from a message: its addr-spec as it was on the wire
/// (never text decoded from an encoded-word), and its name only when the name is not pretending to
/// be another address (a reply to `"support@bank.example" <x@attacker.test>` shows x@attacker.test).
pub fn addr_to_mailbox(a: &Addr) -> Option<Mailbox> {
    let address = a.addr_spec()?.parse().ok()?;
    let name = a
        .name
        .as_deref()
        .filter(|_| !a.is_deceptive())
        .map(one_line)
        .filter(|n| !n.is_empty());
    Some(Mailbox::new(name, address))
}

/// The References of a reply: the original's References (or In-Reply-To) followed by its Message-ID,
/// limited to the last 20 so headers stay reasonable on long threads.
pub fn reply_references(original_refs: &[String], original_id: Option<&str>) -> Vec<String> {
    let mut refs: Vec<String> = original_refs
        .iter()
        .flat_map(|r| clean_message_ids(r))
        .collect();
    if let Some(id) = original_id {
        let id = if id.starts_with('<') {
            id.to_owned()
        } else {
            format!("<{id}>")
        };
        refs.extend(clean_message_ids(&id));
    }
    refs.dedup();
    let skip = refs.len().saturating_sub(20);
    refs.into_iter().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(from: &[(&str, &str)], to: &[(&str, &str)], cc: &[(&str, &str)]) -> MessageView {
        let a = |l: &[(&str, &str)]| {
            l.iter()
                .map(|(n, ad)| Addr::new((!n.is_empty()).then_some(*n), ad))
                .collect()
        };
        let mut v = crate::mail::parse::parse_message(b"From: x@y.z\r\n\r\nx");
        v.from = a(from);
        v.to = a(to);
        v.cc = a(cc);
        v.reply_to = vec![];
        v
    }

    #[test]
    fn recipients_in_the_usual_forms() {
        let r = parse_recipients(
            "Zoë Faure <zoe@example.org>; bob@example.org, \"Doe, John\" <john@example.org>",
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].email.to_string(), "zoe@example.org");
        assert_eq!(r[0].name.as_deref(), Some("Zoë Faure"));
        assert_eq!(r[2].name.as_deref(), Some("Doe, John"));
        let r = parse_recipients("J. R. Hartley <jr@example.org>").unwrap();
        assert_eq!(r[0].name.as_deref(), Some("J. R. Hartley"));
        assert_eq!(parse_recipients(" , ;").unwrap().len(), 0);
        let bad = parse_recipients("ok@example.org, not an address, x@").unwrap_err();
        assert_eq!(bad, vec!["not an address".to_string(), "x@".to_string()]);
        assert_eq!(
            parse_recipients("a@example.org, A@EXAMPLE.org")
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn header_injection_is_impossible() {
        let to = parse_recipients("victim@example.org").unwrap();
        let msg = Outgoing {
            from_address: "alice@example.test".into(),
            from_name: "Alice\r\nBcc: evil@example.net".into(),
            to,
            subject: "Hello\r\nBcc: evil@example.net\r\nX-Injected: 1".into(),
            body: "hi".into(),
            in_reply_to: Some("<a@b>\r\nX-Injected: 2".into()),
            references: vec!["<c@d>\r\nX-Injected: 3".into()],
            message_id: new_message_id("alice@example.test"),
            ..Default::default()
        };
        let raw =
            String::from_utf8(build(&msg, SystemTime::now(), false).unwrap().formatted()).unwrap();
        let headers = raw.split("\r\n\r\n").next().unwrap();
        for line in headers.lines() {
            assert!(!line.starts_with("Bcc:"), "{headers}");
            assert!(!line.starts_with("X-Injected"), "{headers}");
        }
        let r = parse_recipients("a@example.org\r\nBcc: evil@example.net");
        assert!(
            r.is_err(),
            "a header line typed into a field is not an address"
        );
    }

    #[test]
    fn bcc_is_in_the_envelope_not_the_headers() {
        let msg = Outgoing {
            from_address: "alice@example.test".into(),
            to: parse_recipients("bob@example.test").unwrap(),
            bcc: parse_recipients("secret@example.test").unwrap(),
            subject: "s".into(),
            body: "b".into(),
            message_id: new_message_id("alice@example.test"),
            ..Default::default()
        };
        let m = build(&msg, SystemTime::now(), false).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(!raw.contains("secret@example.test"));
        assert!(
            m.envelope()
                .to()
                .iter()
                .any(|a| a.to_string() == "secret@example.test")
        );
        let draft = build(&msg, SystemTime::now(), true).unwrap();
        assert!(
            String::from_utf8(draft.formatted())
                .unwrap()
                .contains("secret@example.test")
        );
    }

    #[test]
    fn non_ascii_headers_are_encoded_and_message_id_is_on_our_domain() {
        let msg = Outgoing {
            from_address: "alice@example.test".into(),
            from_name: "Alice Dupré".into(),
            to: parse_recipients("Zoë <zoe@example.test>").unwrap(),
            subject: "Réunion à Besançon".into(),
            body: "Été".into(),
            message_id: new_message_id("alice@example.test"),
            ..Default::default()
        };
        let raw = build(&msg, SystemTime::now(), false).unwrap().formatted();
        assert!(raw.is_ascii(), "8-bit data must be encoded");
        let parsed = crate::mail::parse::parse_message(&raw);
        assert_eq!(parsed.subject, "Réunion à Besançon");
        assert_eq!(parsed.from[0].name.as_deref(), Some("Alice Dupré"));
        assert!(parsed.message_id.unwrap().ends_with("@example.test"));
        assert!(matches!(parsed.body, crate::mail::parse::Body::Text(ref t) if t.trim() == "Été"));
    }

    #[test]
    fn subjects_do_not_stack_prefixes() {
        assert_eq!(reply_subject("Hello"), "Re: Hello");
        assert_eq!(reply_subject("Re: Hello"), "Re: Hello");
        assert_eq!(reply_subject("RE : Bonjour"), "RE : Bonjour");
        assert_eq!(forward_subject("Hello"), "Fwd: Hello");
        assert_eq!(forward_subject("Fwd: Hello"), "Fwd: Hello");
    }

    #[test]
    fn reply_all_excludes_self_and_duplicates() {
        let v = view(
            &[("Bob", "bob@example.test")],
            &[
                ("Me", "ME@example.test"),
                ("Carol", "carol@example.test"),
                ("", "bob@example.test"),
            ],
            &[
                ("Dan", "dan@example.test"),
                ("", "carol@example.test"),
                ("", "me@example.test"),
            ],
        );
        let (to, cc) = reply_recipients(&v, "me@example.test", true);
        let to: Vec<String> = to.iter().map(|m| m.email.to_string()).collect();
        let cc: Vec<String> = cc.iter().map(|m| m.email.to_string()).collect();
        assert_eq!(to, ["bob@example.test", "carol@example.test"]);
        assert_eq!(cc, ["dan@example.test"]);
        let (to, cc) = reply_recipients(&v, "me@example.test", false);
        assert_eq!(to.len(), 1);
        assert!(cc.is_empty());
    }

    /// Issue 11: an author whose address is unusable (malformed, or one lettre refuses) leaves the
    /// reply's To empty; only the user's own message is answered to its recipients.
    #[test]
    fn a_reply_to_an_unusable_author_goes_to_nobody_else() {
        let mut v = view(
            &[],
            &[("Me", "me@example.test"), ("", "c@example.test")],
            &[],
        );
        v.from = crate::mail::address::parse_list("potus@whitehouse.test <x@attacker.test>");
        let (to, cc) = reply_recipients(&v, "me@example.test", false);
        assert!(to.is_empty() && cc.is_empty(), "{to:?}");
        let v = view(&[("Me", "me@example.test")], &[("", "c@example.test")], &[]);
        let (to, _) = reply_recipients(&v, "me@example.test", false);
        assert_eq!(to[0].email.to_string(), "c@example.test");
    }

    #[test]
    fn quoting_and_flowing() {
        let q = quote("On Monday, Bob wrote:", "Hello\n> earlier\nBye");
        assert_eq!(q, "On Monday, Bob wrote:\n> Hello\n>> earlier\n> Bye\n");
        let long = "word ".repeat(40);
        let flowed = flow(&long);
        for l in flowed.split("\r\n") {
            assert!(l.chars().count() <= 77, "{l:?}");
        }
        assert!(
            flowed.lines().next().unwrap().ends_with(' '),
            "soft break keeps its space"
        );
        assert_eq!(flow("-- \nsig"), "-- \r\nsig\r\n");
        assert_eq!(flow("From here"), " From here\r\n");
    }

    #[test]
    fn references_grow_with_the_thread() {
        let refs = reply_references(&["<a@x> <b@x>".into()], Some("<c@x>"));
        assert_eq!(refs, ["<a@x>", "<b@x>", "<c@x>"]);
        assert!(
            clean_message_ids("<a@x>\r\nX: y")
                .iter()
                .all(|i| !i.contains('\n'))
        );
    }
}
