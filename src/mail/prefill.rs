//! What the compose form starts with when the user answers, forwards or resumes a message: the
//! recipients, the subject and threading headers, the quoted or forwarded text, the attachments
//! kept. The words around the quoted text (the attribution line, the forwarded block's labels,
//! dates) come from the caller, in the user's language.

use super::address::Addr;
use super::compose;
use super::outbox::Answer;
use super::parse::parse_for_compose;

/// How the user answers a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Reply,
    ReplyAll,
    /// The text quoted inline, the attachments kept.
    Forward,
    /// The whole message attached as a `.eml`.
    ForwardAttached,
}

impl Mode {
    /// From the compose link's `mode` parameter.
    pub fn from_form(s: &str) -> Option<Self> {
        match s {
            "reply" => Some(Mode::Reply),
            "reply-all" => Some(Mode::ReplyAll),
            "forward" => Some(Mode::Forward),
            "forward-attached" => Some(Mode::ForwardAttached),
            _ => None,
        }
    }
}

/// The words a reply or a forward is written with, in the user's language.
pub trait Wording {
    /// A message's date, in full.
    fn date(&self, timestamp: i64) -> String;
    /// The line above a quoted reply ("On {date}, {name} wrote:").
    fn attribution(&self, date: &str, name: &str) -> String;
    /// The line that opens a forwarded message.
    fn forward_header(&self) -> String;
    /// The labels of the forwarded message's From, Date, Subject and To lines.
    fn forward_labels(&self) -> [String; 4];
}

/// The compose form's fields, filled.
#[derive(Clone, Debug, Default)]
pub struct Prefill {
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    pub in_reply_to: String,
    pub references: String,
    /// A resumed draft keeps its Message-ID, so that saving it again replaces it.
    pub message_id: Option<String>,
    /// The flag the original gets once this is sent.
    pub answer: Option<Answer>,
    /// Files to attach: name, content type, bytes.
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

/// A reply to, or a forward of, the message `raw`. `me` is the user's address (left out of a
/// reply to all), `signature` goes under the text.
pub fn answer(raw: &[u8], mode: Mode, me: &str, signature: &str, words: &dyn Wording) -> Prefill {
    let src = parse_for_compose(raw);
    let v = &src.view;
    let date = v.date.map(|d| words.date(d)).unwrap_or_default();
    let author = v.from.first().map(Addr::display).unwrap_or_default();
    match mode {
        Mode::Reply | Mode::ReplyAll => {
            let (to, cc) = compose::reply_recipients(v, me, mode == Mode::ReplyAll);
            // References: the original's chain and the original itself (RFC 5322 §3.6.4); a
            // message with only In-Reply-To starts the chain with it.
            let mut references = src.references.clone();
            if references.is_empty() {
                references = src.in_reply_to.clone();
            }
            let references = compose::reply_references(&references, v.message_id.as_deref());
            let attribution = words.attribution(&date, &author);
            Prefill {
                to: compose::format_recipients(&to),
                cc: compose::format_recipients(&cc),
                subject: compose::reply_subject(&v.subject),
                in_reply_to: v
                    .message_id
                    .as_deref()
                    .map(|i| format!("<{i}>"))
                    .unwrap_or_default(),
                references: references.join(" "),
                body: format!("\n\n{}{signature}", compose::quote(&attribution, &src.text)),
                answer: Some(Answer::Answered),
                ..Prefill::default()
            }
        }
        Mode::Forward => {
            let to = v.to.iter().map(Addr::display).collect::<Vec<_>>();
            let [from_l, date_l, subject_l, to_l] = words.forward_labels();
            Prefill {
                subject: compose::forward_subject(&v.subject),
                body: format!(
                    "\n\n{}\n{from_l}: {author}\n{date_l}: {date}\n{subject_l}: {}\n{to_l}: {}\n\n{}{signature}",
                    words.forward_header(),
                    v.subject,
                    to.join(", "),
                    src.text.trim_end(),
                ),
                answer: Some(Answer::Forwarded),
                attachments: src.attachments,
                ..Prefill::default()
            }
        }
        Mode::ForwardAttached => {
            let name =
                format!("{}.eml", compose::clean_filename(&v.subject)).replace(".eml.eml", ".eml");
            Prefill {
                subject: compose::forward_subject(&v.subject),
                body: signature.to_owned(),
                answer: Some(Answer::Forwarded),
                attachments: vec![(name, "message/rfc822".into(), raw.to_vec())],
                ..Prefill::default()
            }
        }
    }
}

/// A draft, to go on writing it: what the user wrote comes back as written (a recipient that is
/// not an address stays as typed, to be corrected), with its attachments and Message-ID.
pub fn resume(raw: &[u8]) -> Prefill {
    let src = parse_for_compose(raw);
    let v = &src.view;
    let list = |a: &[Addr]| {
        a.iter()
            .map(|x| match compose::addr_to_mailbox(x) {
                Some(m) => m.to_string(),
                None => x.address.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    Prefill {
        to: list(&v.to),
        cc: list(&v.cc),
        bcc: list(&src.bcc),
        subject: v.subject.clone(),
        body: src.text.trim_end_matches(['\r', '\n']).to_owned(),
        in_reply_to: src.in_reply_to.join(" "),
        references: src.references.join(" "),
        message_id: v.message_id.as_ref().map(|id| format!("<{id}>")),
        answer: None,
        attachments: src.attachments,
    }
}
