//! Turning raw message bytes into what a reader is shown: decoded headers, the body to display, the
//! list of attachments with their IMAP section numbers, and the inline images an HTML body refers to.
//!
//! mail-parser does the MIME work (any charset, encoded words, broken structure); this module only
//! picks what to show. A message mail-parser cannot make sense of still opens, as text, with a note.

use std::collections::HashMap;

use mail_parser::{MessageParser, MessagePart, MimeHeaders, PartType};

use super::{Section, address, display};

pub use super::address::Addr;

/// The body chosen for display.
#[derive(Clone, Debug)]
pub enum Body {
    /// HTML as the sender wrote it, one string per part (each is sanitised on its own, so markup
    /// cannot span parts): it must go through `sanitize` before it reaches a browser.
    Html(Vec<String>),
    Text(String),
    Empty,
}

/// An attachment (or any non-body part) the reader can download.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub section: Section,
    /// The filename from the message, made safe by `display::filename` (the same name the
    /// download gets).
    pub filename: String,
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
}

/// An image embedded with `Content-ID`, referenced from the HTML body as `cid:`.
#[derive(Clone, Debug)]
pub struct InlineImage {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Everything the message page shows.
#[derive(Clone, Debug)]
pub struct MessageView {
    /// Decoded and cleaned (see `display::clean`), like every string here a reader sees.
    pub subject: String,
    pub from: Vec<Addr>,
    /// Who sent it on the author's behalf (RFC 5322 section 3.6.2), when a Sender header is there.
    pub sender: Vec<Addr>,
    pub to: Vec<Addr>,
    pub cc: Vec<Addr>,
    pub reply_to: Vec<Addr>,
    /// Seconds since the epoch, from the Date header.
    pub date: Option<i64>,
    pub message_id: Option<String>,
    pub body: Body,
    /// The plain-text version of an HTML body, when the message has one (shown instead of an HTML
    /// body that cannot be rendered safely in bounded time).
    pub text_alternative: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Inline images by Content-ID (without angle brackets).
    pub inline_images: HashMap<String, InlineImage>,
    /// True when the message could not be parsed as MIME and is shown as raw text.
    pub malformed: bool,
}

/// Largest inline image embedded in a displayed body; larger ones stay downloadable attachments.
const MAX_INLINE_IMAGE: usize = 5 * 1024 * 1024;

/// What a reply, a forward or a resumed draft needs from a message besides its view.
#[derive(Clone, Debug)]
pub struct ComposeSource {
    pub view: MessageView,
    /// The body as plain text (HTML converted), for quoting.
    pub text: String,
    pub bcc: Vec<Addr>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Every attachment with its decoded bytes (inline images included).
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

/// [`parse_message`] plus what a reply or forward needs (guarded the same way).
pub fn parse_for_compose(raw: &[u8]) -> ComposeSource {
    std::panic::catch_unwind(|| parse_for_compose_unguarded(raw)).unwrap_or_else(|_| {
        ComposeSource {
            view: raw_view(raw),
            text: String::from_utf8_lossy(raw).into_owned(),
            bcc: vec![],
            references: vec![],
            in_reply_to: vec![],
            attachments: vec![],
        }
    })
}

/// Parses a message for composing from it.
fn parse_for_compose_unguarded(raw: &[u8]) -> ComposeSource {
    let view = parse_message(raw);
    let Some(msg) = MessageParser::default().parse(raw) else {
        let text = match &view.body {
            Body::Text(t) => t.clone(),
            _ => String::new(),
        };
        return ComposeSource {
            view,
            text,
            bcc: vec![],
            in_reply_to: vec![],
            references: vec![],
            attachments: vec![],
        };
    };
    let ids = |v: &mail_parser::HeaderValue| -> Vec<String> {
        bare_ids(v).into_iter().map(|i| format!("<{i}>")).collect()
    };
    let body_ids: Vec<u32> = msg
        .text_body
        .iter()
        .chain(msg.html_body.iter())
        .copied()
        .collect();
    let attachments = msg
        .parts
        .iter()
        .enumerate()
        .filter(|(i, p)| !p.is_multipart() && !body_ids.contains(&(*i as u32)) && *i != 0)
        .map(|(_, p)| {
            let ct = content_type_of(p);
            let name = p
                .attachment_name()
                .map(display::filename)
                .unwrap_or_else(|| format!("attachment{}", default_extension(&ct)));
            let bytes = match &p.body {
                PartType::Message(_) => raw
                    .get(p.raw_body_offset() as usize..p.raw_end_offset() as usize)
                    .unwrap_or_default()
                    .to_vec(),
                _ => p.contents().to_vec(),
            };
            (name, ct, bytes)
        })
        .collect();
    ComposeSource {
        text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        bcc: addrs(&msg, raw, "Bcc"),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        attachments,
        view,
    }
}

/// Message identifiers of a header value, without angle brackets.
fn bare_ids(v: &mail_parser::HeaderValue) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![t.trim_matches(['<', '>']).to_owned()],
        mail_parser::HeaderValue::TextList(l) => l
            .iter()
            .map(|t| t.trim_matches(['<', '>']).to_owned())
            .collect(),
        _ => vec![],
    }
}

/// Message-ID, references (References, then In-Reply-To if not already there) and date of a header
/// block, for threading.
pub fn thread_headers(raw: &[u8]) -> (Option<String>, Vec<String>, Option<i64>) {
    let Some(msg) = MessageParser::default().parse_headers(raw) else {
        return (None, vec![], None);
    };
    let mut refs = bare_ids(msg.references());
    for r in bare_ids(msg.in_reply_to()) {
        if !refs.contains(&r) {
            refs.push(r);
        }
    }
    (
        msg.message_id()
            .map(|i| i.trim_matches(['<', '>']).to_owned()),
        refs,
        msg.date().map(|d| d.to_timestamp()),
    )
}

/// A message that could not be parsed, shown as its raw text.
fn raw_view(raw: &[u8]) -> MessageView {
    MessageView {
        subject: String::new(),
        from: vec![],
        sender: vec![],
        to: vec![],
        cc: vec![],
        reply_to: vec![],
        date: None,
        message_id: None,
        body: Body::Text(String::from_utf8_lossy(raw).into_owned()),
        text_alternative: None,
        attachments: vec![],
        inline_images: HashMap::new(),
        malformed: true,
    }
}

/// Parses a whole message. mail-parser is trusted not to fail, but a panic inside it (it has debug
/// assertions that malformed input can reach) still only makes the message show as damaged raw text.
pub fn parse_message(raw: &[u8]) -> MessageView {
    std::panic::catch_unwind(|| parse_message_unguarded(raw)).unwrap_or_else(|_| raw_view(raw))
}

/// Parses a whole message.
fn parse_message_unguarded(raw: &[u8]) -> MessageView {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return raw_view(raw);
    };

    let sections = section_map(&msg);
    let html_parts: Vec<&MessagePart> = msg
        .html_body
        .iter()
        .filter_map(|i| msg.parts.get(*i as usize))
        .filter(|p| matches!(p.body, PartType::Html(_)))
        .collect();
    let plain_texts: Vec<&str> = msg
        .text_body
        .iter()
        .filter_map(|i| msg.parts.get(*i as usize))
        .filter_map(|p| match &p.body {
            PartType::Text(t) => Some(t.as_ref()),
            _ => None,
        })
        .collect();
    let text_alternative =
        (!html_parts.is_empty() && !plain_texts.is_empty()).then(|| plain_texts.join("\n\n"));
    let body = if !html_parts.is_empty() {
        // In the order of the HTML view: next to the HTML, a text part that is not its alternative
        // (a multipart/mixed with both) is shown too, as text, rather than hidden.
        Body::Html(
            msg.html_body
                .iter()
                .filter_map(|i| msg.parts.get(*i as usize))
                .filter_map(|p| match &p.body {
                    PartType::Html(h) => Some(h.to_string()),
                    PartType::Text(t) => Some(format!(
                        "<div style=\"white-space:pre-wrap\">{}</div>",
                        super::sanitize::text_to_html(t)
                    )),
                    _ => None,
                })
                .collect(),
        )
    } else if plain_texts.is_empty() {
        Body::Empty
    } else {
        Body::Text(plain_texts.join("\n\n"))
    };
    // A multipart without a boundary cannot be split: its content is shown as text, as desktop
    // clients do, rather than offered as a nameless attachment.
    let unsplit = msg
        .parts
        .first()
        .filter(|p| !p.is_multipart() && content_type_of(p).starts_with("multipart/"));
    let body = match (body, unsplit) {
        (Body::Empty, Some(root)) => {
            Body::Text(String::from_utf8_lossy(root.contents()).into_owned())
        }
        (body, _) => body,
    };
    let mut body_ids: Vec<u32> = msg
        .html_body
        .iter()
        .chain(msg.text_body.iter())
        .copied()
        .collect();
    if unsplit.is_some() {
        body_ids.push(0);
    }

    let mut attachments = Vec::new();
    let mut inline_images = HashMap::new();
    for (id, part) in msg.parts.iter().enumerate() {
        let id = id as u32;
        if part.is_multipart() || body_ids.contains(&id) {
            continue;
        }
        let Some(section) = sections.get(&id).cloned() else {
            continue; // parts inside an attached message are part of that attachment
        };
        let content_type = content_type_of(part);
        let cid = part
            .content_id()
            .map(|c| c.trim_matches(['<', '>']).to_owned());
        if let (Some(cid), Body::Html(html)) = (&cid, &body)
            && part.contents().len() <= MAX_INLINE_IMAGE
            && super::sanitize::inlinable(&content_type, part.contents())
            && html.iter().any(|h| h.contains(&format!("cid:{cid}")))
        {
            // Shown in the body: not repeated in the attachment list.
            inline_images.insert(
                cid.clone(),
                InlineImage {
                    content_type,
                    bytes: part.contents().to_vec(),
                },
            );
            continue;
        }
        let filename = part
            .attachment_name()
            .map(display::filename)
            .or_else(|| {
                part.message()
                    .and_then(|m| m.subject())
                    .map(|s| display::filename(&format!("{s}.eml")))
            })
            .unwrap_or_else(|| format!("part-{section}{}", default_extension(&content_type)));
        attachments.push(Attachment {
            section,
            filename,
            size: part_size(part),
            content_type,
        });
    }

    let malformed = looks_malformed(&msg, raw);
    MessageView {
        subject: display::clean(msg.subject().unwrap_or("")),
        from: addrs(&msg, raw, "From"),
        sender: addrs(&msg, raw, "Sender"),
        to: addrs(&msg, raw, "To"),
        cc: addrs(&msg, raw, "Cc"),
        reply_to: addrs(&msg, raw, "Reply-To"),
        date: msg.date().map(|d| d.to_timestamp()),
        message_id: msg.message_id().map(str::to_owned),
        body,
        text_alternative,
        attachments,
        inline_images,
        malformed,
    }
}

/// mail-parser repairs what it can without saying so; these are the defects worth a note to the
/// reader, because part of the message may be missing: no From or Date (both required by RFC 5322),
/// or a multipart whose closing boundary never comes (the message was cut).
fn looks_malformed(msg: &mail_parser::Message, raw: &[u8]) -> bool {
    if msg.from().is_none() || msg.date().is_none() {
        return true;
    }
    let Some(ct) = msg.root_part().content_type() else {
        return false;
    };
    if !ct.ctype().eq_ignore_ascii_case("multipart") {
        return false;
    }
    match ct.attribute("boundary") {
        Some(b) => {
            let closing = format!("--{b}--");
            !raw.windows(closing.len()).any(|w| w == closing.as_bytes())
        }
        None => true,
    }
}

/// The decoded content of one part fetched on its own (`BODY[n.MIME]` + `BODY[n]`).
#[derive(Clone, Debug)]
pub struct PartContent {
    pub content_type: String,
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// Decodes a part from its MIME header block and its still-encoded body. Only the transfer encoding is
/// undone: a text attachment is given back in its own charset, byte for byte, as desktop clients do.
pub fn decode_part(mime_headers: &[u8], encoded_body: &[u8]) -> PartContent {
    let mut headers_only = mime_headers.to_vec();
    if !headers_only.ends_with(b"\r\n\r\n") && !headers_only.ends_with(b"\n\n") {
        headers_only.extend_from_slice(b"\r\n");
    }
    let parsed = MessageParser::default().parse_headers(&headers_only);
    let (content_type, filename, encoding) = match &parsed {
        Some(m) => {
            let root = m.root_part();
            (
                content_type_of(root),
                root.attachment_name().map(display::filename),
                root.content_transfer_encoding()
                    .map(|e| e.to_ascii_lowercase()),
            )
        }
        None => ("application/octet-stream".to_owned(), None, None),
    };
    let bytes = match encoding.as_deref() {
        Some("base64") => mail_parser::decoders::base64::base64_decode(encoded_body)
            .unwrap_or_else(|| encoded_body.to_vec()),
        Some("quoted-printable") => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(encoded_body)
                .unwrap_or_else(|| encoded_body.to_vec())
        }
        _ => encoded_body.to_vec(),
    };
    PartContent {
        content_type,
        filename,
        bytes,
    }
}

/// One part of a stored message by its IMAP section (see [`part_of_unguarded`]); `None` also when
/// the parser panics on it.
pub fn part_of(raw: &[u8], section: &Section) -> Option<PartContent> {
    std::panic::catch_unwind(|| part_of_unguarded(raw, section)).unwrap_or(None)
}

/// One part of a whole message, by its IMAP section number, decoded as [`decode_part`] does (for a
/// local store, where the message is on disk rather than on a server that extracts parts).
fn part_of_unguarded(raw: &[u8], section: &Section) -> Option<PartContent> {
    let msg = MessageParser::default().parse(raw)?;
    let id = section_map(&msg)
        .into_iter()
        .find(|(_, s)| s == section)
        .map(|(id, _)| id)?;
    let part = msg.parts.get(id as usize)?;
    let slice = |a: u32, b: u32| raw.get(a as usize..b as usize);
    let body = slice(part.offset_body, part.offset_end)?;
    // A message that is not multipart: its part 1 has the message's own header.
    let header = slice(part.offset_header, part.offset_body)?;
    Some(decode_part(header, body))
}

/// True when every word occurs in the message (see [`text_contains_all_unguarded`]); a message the
/// parser panics on is searched as raw text.
pub fn text_contains_all(raw: &[u8], words: &[String]) -> bool {
    std::panic::catch_unwind(|| text_contains_all_unguarded(raw, words)).unwrap_or_else(|_| {
        let text = String::from_utf8_lossy(raw).to_lowercase();
        words.iter().all(|w| text.contains(w.as_str()))
    })
}

/// True when every word occurs (case-insensitively) in the message's decoded headers or text, as an
/// IMAP `TEXT` search would find it.
fn text_contains_all_unguarded(raw: &[u8], words: &[String]) -> bool {
    if words.is_empty() {
        return true;
    }
    let Some(msg) = MessageParser::default().parse(raw) else {
        let text = String::from_utf8_lossy(raw).to_lowercase();
        return words.iter().all(|w| text.contains(w.as_str()));
    };
    let mut text = String::new();
    // What the reader sees (cleaned), so that searching for a subject as shown finds it.
    text.push_str(&display::clean(msg.subject().unwrap_or("")));
    for h in ["From", "To", "Cc"] {
        for x in addrs(&msg, raw, h) {
            text.push('\n');
            text.push_str(x.name.as_deref().unwrap_or(""));
            text.push(' ');
            text.push_str(&x.address);
        }
    }
    for i in 0..msg.text_body.len() {
        if let Some(t) = msg.body_text(i) {
            text.push('\n');
            text.push_str(&t);
        }
    }
    for (i, a) in msg.attachments().enumerate().take(50) {
        let _ = i;
        if let Some(n) = a.attachment_name() {
            text.push('\n');
            text.push_str(&display::filename(n));
        }
    }
    let text = text.to_lowercase();
    words.iter().all(|w| text.contains(w.as_str()))
}

/// Decoded header fields of a message list line (from a `HEADER.FIELDS` fetch).
#[derive(Clone, Debug, Default)]
pub struct ListHeaders {
    /// The first mailbox of From.
    pub from: Addr,
    /// Decoded and cleaned.
    pub subject: String,
    pub date: Option<i64>,
    pub has_attachment: bool,
}

/// Decodes the few header fields the message list shows.
pub fn parse_list_headers(raw: &[u8]) -> ListHeaders {
    let Some(msg) = MessageParser::default().parse_headers(raw) else {
        return ListHeaders::default();
    };
    let ct = msg.root_part().content_type();
    let has_attachment = ct.is_some_and(|ct| {
        let main = ct.ctype().to_ascii_lowercase();
        let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
        (main == "multipart" && (sub == "mixed" || sub == "report"))
            || matches!(main.as_str(), "application" | "image" | "audio" | "video")
    });
    ListHeaders {
        from: addrs(&msg, raw, "From")
            .into_iter()
            .next()
            .unwrap_or_default(),
        subject: display::clean(msg.subject().unwrap_or("")),
        date: msg.date().map(|d| d.to_timestamp()),
        has_attachment,
    }
}

/// The mailboxes of every `name` header of the message, read from the header as it is on the wire
/// (see `address`: encoded-words are decoded in display names only).
fn addrs(msg: &mail_parser::Message, raw: &[u8], name: &str) -> Vec<Addr> {
    msg.headers()
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .filter_map(|h| raw.get(h.offset_start as usize..h.offset_end as usize))
        .flat_map(|v| address::parse_list(&String::from_utf8_lossy(v)))
        .take(address::MAX_MAILBOXES)
        .collect()
}

fn content_type_of(part: &MessagePart) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if part.is_message() => "message/rfc822".into(),
        None => "text/plain".into(),
    }
}

fn part_size(part: &MessagePart) -> usize {
    match &part.body {
        PartType::Message(_) => part.raw_len() as usize,
        _ => part.contents().len(),
    }
}

fn default_extension(content_type: &str) -> &'static str {
    match content_type {
        "message/rfc822" => ".eml",
        "text/plain" => ".txt",
        "text/html" => ".html",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "application/pdf" => ".pdf",
        _ => ".bin",
    }
}

/// Maps mail-parser's part ids to IMAP section numbers (RFC 3501 section 6.4.5): the children of a
/// multipart are numbered from 1, and a message that is not multipart has a single part `1`. Parts
/// inside an attached message are not mapped: the attachment is downloaded whole.
fn section_map(msg: &mail_parser::Message) -> HashMap<u32, Section> {
    let mut map = HashMap::new();
    let Some(root) = msg.parts.first() else {
        return map;
    };
    match &root.body {
        PartType::Multipart(children) => walk(msg, children, &mut Vec::new(), &mut map),
        _ => {
            map.insert(0, Section::from_parts(vec![1]));
        }
    }
    map
}

fn walk(
    msg: &mail_parser::Message,
    children: &[u32],
    prefix: &mut Vec<u32>,
    map: &mut HashMap<u32, Section>,
) {
    for (i, id) in children.iter().enumerate() {
        prefix.push(i as u32 + 1);
        map.insert(*id, Section::from_parts(prefix.clone()));
        // Deeper parts get no number (a request could not name them): they are not offered.
        if let Some(PartType::Multipart(grand)) = msg.parts.get(*id as usize).map(|p| &p.body)
            && prefix.len() < Section::MAX_DEPTH
        {
            walk(msg, grand, prefix, map);
        }
        prefix.pop();
    }
}
