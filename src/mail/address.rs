//! Address headers (From, Sender, Reply-To, To, Cc, Bcc) read the way RFC 5322 writes them, so that
//! what a reader sees as the sender is the address the message really came from.
//!
//! General-purpose parsers decode RFC 2047 encoded-words in the whole header before finding the
//! addresses; a sender can then hide `potus@whitehouse.gov` followed by a NUL inside an encoded-word
//! in the local part of `…@attacker.test`, and the reader sees the first address (the "Mailsploit"
//! family). Here the header is split into mailboxes first; encoded-words are decoded only in display
//! names and comments, where RFC 2047 (section 5) allows them, and an addr-spec is kept exactly as it
//! is on the wire. A mailbox that is not valid RFC 5322 is not repaired into something that reads like
//! another address: it is kept as written, marked invalid.
//!
//! mail-parser's own address parser was the alternative; it is built to recover as much as it can from
//! broken input, which is the opposite of what a reader needs here. Its RFC 2047 decoder is used for
//! the display names.

use super::display;

/// Most mailboxes read from one header; more are dropped (a header of this size is an attack, and
/// every page that shows it must stay fast).
pub const MAX_MAILBOXES: usize = 10_000;

/// One mailbox of an address header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Addr {
    /// The display name, decoded and cleaned (see `display::clean`); `None` when there is none.
    pub name: Option<String>,
    /// When `valid`, the addr-spec exactly as on the wire (no encoded-word decoded in it). Otherwise
    /// the whole mailbox as written, cleaned of controls, for the reader to see what was sent.
    pub address: String,
    /// True when `address` is a well-formed addr-spec with nothing invisible or control in it.
    pub valid: bool,
}

impl Addr {
    /// A mailbox from trusted parts (our own user, a test).
    pub fn new(name: Option<&str>, address: &str) -> Self {
        Addr {
            name: name.map(display::clean).filter(|n| !n.trim().is_empty()),
            address: address.to_owned(),
            valid: true,
        }
    }

    /// The addr-spec, when it is one (never the text of an invalid mailbox).
    pub fn addr_spec(&self) -> Option<&str> {
        self.valid.then_some(self.address.as_str())
    }

    /// The name, or the address when there is no name.
    pub fn display(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => self.address.clone(),
        }
    }

    /// The domain of a valid address (after the last `@`).
    pub fn domain(&self) -> Option<&str> {
        self.addr_spec()?.rsplit_once('@').map(|(_, d)| d)
    }

    /// The address as it should be shown: its domain in punycode when it mixes scripts.
    pub fn shown_address(&self) -> String {
        match self.addr_spec().and_then(|a| a.rsplit_once('@')) {
            Some((local, domain)) => format!("{local}@{}", display::domain(domain)),
            None => self.address.clone(),
        }
    }

    /// True when what a reader would take for the sender is not this address: the display name (or
    /// a quoted local part) shows an address or a domain other than the real one, or the real domain
    /// only imitates another script's letters.
    pub fn is_deceptive(&self) -> bool {
        let Some(real) = self.domain() else {
            return false;
        };
        if display::is_deceptive_domain(real) {
            return true;
        }
        let real = ascii_domain(real);
        let local = self.address.rsplit_once('@').map(|(l, _)| l).unwrap_or("");
        // A quoted local part can hold anything (`"potus@whitehouse.test"@…`); an unquoted one
        // (`marie.curie+digest`) is an ordinary address.
        let quoted_local = local.starts_with('"').then_some(local);
        self.name
            .iter()
            .map(String::as_str)
            .chain(quoted_local)
            .flat_map(mentioned_domains)
            // `jean.dupont <jean.dupont@example.org>`: a name that is the address's own local part.
            .filter(|shown| !shown.eq_ignore_ascii_case(local))
            .any(|shown| {
                let shown = ascii_domain(&shown);
                shown != real && !real.ends_with(&format!(".{shown}"))
            })
    }
}

/// A domain compared as DNS would: lower case, IDN in its ASCII form.
fn ascii_domain(d: &str) -> String {
    let d = d.trim_end_matches('.').to_lowercase();
    idna::domain_to_ascii(&d).unwrap_or(d)
}

/// The domains a piece of text shows: after each `@`, and each word that looks like a host name
/// (`bank.example`, `www.paypal.com`).
fn mentioned_domains(text: &str) -> Vec<String> {
    let is_host_char = |c: char| c.is_alphanumeric() || c == '-' || c == '.';
    let mut found = Vec::new();
    for word in text.split(|c: char| !(is_host_char(c) || c == '@')) {
        let host = match word.rsplit_once('@') {
            Some((_, d)) => d,
            None => word,
        };
        let host = host.trim_matches('.');
        let labels: Vec<&str> = host.split('.').collect();
        let looks_like_host = labels.len() >= 2
            && labels.iter().all(|l| !l.is_empty())
            && labels
                .last()
                .is_some_and(|t| t.chars().count() >= 2 && t.chars().all(char::is_alphabetic));
        if looks_like_host {
            found.push(host.to_owned());
        }
    }
    found
}

/// What a header's text is made of, once comments, quoted strings and domain literals are read.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// A run of characters that are neither specials nor white space (atext, and anything else a
    /// hostile sender puts there: it is checked when the addr-spec is).
    Atom(String),
    Quoted(String),
    Comment(String),
    DomainLiteral(String),
    /// One of `< > @ , : ; .`
    Special(char),
    /// A character that can never be in a header outside a quoted string (`[`, `]`, `\`, `"`, `(`,
    /// `)` left open or closed alone).
    Stray(char),
}

/// Cuts the unfolded header into tokens, each with the byte range of the text it came from.
fn tokenize(s: &str) -> Vec<(Token, std::ops::Range<usize>)> {
    let mut tokens = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let token = match c {
            ' ' | '\t' => continue,
            '"' => {
                let mut text = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                text.push(n);
                            }
                        }
                        c => text.push(c),
                    }
                }
                if closed {
                    Token::Quoted(text)
                } else {
                    Token::Stray('"')
                }
            }
            '(' => {
                let mut depth = 1;
                let mut text = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                text.push(n);
                            }
                            continue;
                        }
                        _ => {}
                    }
                    text.push(c);
                }
                if depth == 0 {
                    Token::Comment(text)
                } else {
                    Token::Stray('(')
                }
            }
            '[' => {
                let mut text = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    text.push(c);
                }
                if closed {
                    Token::DomainLiteral(text)
                } else {
                    Token::Stray('[')
                }
            }
            '<' | '>' | '@' | ',' | ':' | ';' | '.' => Token::Special(c),
            ')' | ']' | '\\' => Token::Stray(c),
            c => {
                let mut text = String::from(c);
                while let Some((_, n)) = chars.peek() {
                    if matches!(
                        n,
                        ' ' | '\t'
                            | '"'
                            | '('
                            | ')'
                            | '['
                            | ']'
                            | '<'
                            | '>'
                            | '@'
                            | ','
                            | ':'
                            | ';'
                            | '.'
                            | '\\'
                    ) {
                        break;
                    }
                    text.push(*n);
                    chars.next();
                }
                Token::Atom(text)
            }
        };
        let end = chars.peek().map(|(i, _)| *i).unwrap_or(s.len());
        tokens.push((token, start..end));
    }
    tokens
}

/// Undoes header folding (RFC 5322 section 2.2.3): a line break followed by white space is white
/// space. A line break anywhere else stays, and makes its mailbox invalid.
fn unfold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            continue;
        }
        if c == '\n' && matches!(chars.peek(), Some(' ' | '\t')) {
            continue;
        }
        out.push(c);
    }
    // The header's own final line break.
    while out.ends_with(['\r', '\n']) {
        out.pop();
    }
    out
}

/// Reads an address header's value (as on the wire, folded or not) into its mailboxes. Group syntax
/// (`undisclosed-recipients:;`, `Team: a@x, b@y;`) gives the group's members.
pub fn parse_list(raw: &str) -> Vec<Addr> {
    let text = unfold(raw);
    let tokens = tokenize(&text);
    let mut out = Vec::new();
    let push = |range: std::ops::Range<usize>, out: &mut Vec<Addr>| {
        let part = &tokens[range];
        if !part.is_empty() && out.len() < MAX_MAILBOXES {
            let span = part[0].1.start..part[part.len() - 1].1.end;
            out.push(mailbox(part, &text[span]));
        }
    };
    let mut start = 0;
    let mut angle = false;
    for (i, (token, _)) in tokens.iter().enumerate() {
        match token {
            Token::Special('<') => angle = true,
            Token::Special('>') => angle = false,
            // A group's name ends at its colon, unless the colon is inside angle brackets (an
            // obsolete source route) or what comes before holds an address (a broken mailbox).
            Token::Special(':')
                if !angle
                    && !tokens[start..i]
                        .iter()
                        .any(|(t, _)| matches!(t, Token::Special('@' | '<'))) =>
            {
                start = i + 1
            }
            Token::Special(',' | ';') if !angle => {
                push(start..i, &mut out);
                start = i + 1;
            }
            _ => {}
        }
    }
    push(start..tokens.len(), &mut out);
    out
}

/// One mailbox from its tokens; `wire` is its text, kept for an invalid one.
fn mailbox(tokens: &[(Token, std::ops::Range<usize>)], wire: &str) -> Addr {
    let invalid = || Addr {
        name: None,
        address: display::clean(wire.trim()),
        valid: false,
    };
    let comments = || {
        tokens.iter().filter_map(|(t, _)| match t {
            Token::Comment(c) => Some(c.as_str()),
            _ => None,
        })
    };
    let uncommented: Vec<&(Token, std::ops::Range<usize>)> = tokens
        .iter()
        .filter(|(t, _)| !matches!(t, Token::Comment(_)))
        .collect();
    let position = |c: char| {
        uncommented
            .iter()
            .position(|(t, _)| *t == Token::Special(c))
    };
    let open = position('<');
    let (phrase, spec) = match open {
        Some(o) => {
            let Some(close) = position('>') else {
                return invalid();
            };
            // Nothing but comments may follow the closing bracket.
            if close < o || close + 1 != uncommented.len() {
                return invalid();
            }
            (&uncommented[..o], &uncommented[o + 1..close])
        }
        None => (&uncommented[..0], &uncommented[..]),
    };
    let spec: Vec<&Token> = spec.iter().map(|(t, _)| t).collect();
    let spec = strip_route(&spec);
    let Some(address) = addr_spec(spec) else {
        return invalid();
    };
    let name = match open {
        Some(_) => match decode_phrase(phrase) {
            Some(n) => Some(n),
            None => return invalid(),
        },
        // `jean@exemple.fr (Jean Dupont)`: the old way of giving a name.
        None => comments().next_back().map(decode_words),
    };
    Addr {
        name: name.filter(|n| !n.trim().is_empty()),
        address,
        valid: true,
    }
}

/// Drops an obsolete source route (`@relay.example,@b.example:`) before an addr-spec (RFC 5322
/// section 4.4); the route is not part of the address.
fn strip_route<'a>(spec: &'a [&'a Token]) -> &'a [&'a Token] {
    if spec.first() == Some(&&Token::Special('@'))
        && let Some(colon) = spec.iter().position(|t| **t == Token::Special(':'))
    {
        return &spec[colon + 1..];
    }
    spec
}

/// `local@domain` exactly as written, when the tokens are one: the local part dot-separated atoms or
/// quoted strings, the domain dot-separated atoms or a domain literal. Nothing in it may be a control
/// or an invisible or direction-changing character.
fn addr_spec(tokens: &[&Token]) -> Option<String> {
    let at = tokens.iter().rposition(|t| **t == Token::Special('@'))?;
    let (local, domain) = (&tokens[..at], &tokens[at + 1..]);
    // U+FFFD stands for bytes that were not UTF-8 on the wire: not an address anyone can write to.
    let clean_text =
        |s: &str| !s.is_empty() && !s.chars().any(|c| display::is_unsafe(c) || c == '\u{FFFD}');
    let atom_ok = |s: &str| clean_text(s) && !s.contains(['"', '\\']);
    let mut out = String::new();
    // local-part: word *("." word)
    if local.is_empty() || local.len() % 2 == 0 {
        return None;
    }
    for (i, t) in local.iter().enumerate() {
        match (i % 2, t) {
            (0, Token::Atom(a)) if atom_ok(a) => out.push_str(a),
            (0, Token::Quoted(q)) if q.is_empty() || clean_text(q) => {
                out.push('"');
                for c in q.chars() {
                    if matches!(c, '"' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
            (1, Token::Special('.')) => out.push('.'),
            _ => return None,
        }
    }
    out.push('@');
    match domain {
        [Token::DomainLiteral(l)] if clean_text(l) && !l.contains(['[', '\\']) => {
            out.push('[');
            out.push_str(l.trim());
            out.push(']');
        }
        _ => {
            if domain.is_empty() || domain.len() % 2 == 0 {
                return None;
            }
            for (i, t) in domain.iter().enumerate() {
                match (i % 2, t) {
                    (0, Token::Atom(a)) if atom_ok(a) => out.push_str(a),
                    (1, Token::Special('.')) => out.push('.'),
                    _ => return None,
                }
            }
        }
    }
    Some(out)
}

/// A display name: words (atoms or quoted strings) and, as RFC 5322's obsolete syntax allows, dots,
/// with one space where the header had white space. Anything else (an `@`, a colon, a stray quote)
/// means the mailbox is not well-formed: `None`.
fn decode_phrase(tokens: &[&(Token, std::ops::Range<usize>)]) -> Option<String> {
    let mut words = String::new();
    let mut last_end = None;
    for (t, range) in tokens {
        let w = match t {
            Token::Atom(a) => a.as_str(),
            Token::Quoted(q) => q.as_str(),
            Token::Special('.') => ".",
            _ => return None,
        };
        if last_end.is_some_and(|e| e < range.start) {
            words.push(' ');
        }
        words.push_str(w);
        last_end = Some(range.end);
    }
    Some(decode_words(&words))
}

/// Decodes the RFC 2047 encoded-words of a display name or comment (with mail-parser's decoder, which
/// knows every charset) and cleans the result for display.
fn decode_words(words: &str) -> String {
    let decoded = if words.contains("=?") {
        // The decoder reads one header line: a line break in the input would end it early.
        let mut line: Vec<u8> = words.replace(['\r', '\n'], " ").into_bytes();
        line.push(b'\n');
        match mail_parser::parsers::MessageStream::new(&line).parse_unstructured() {
            mail_parser::HeaderValue::Text(t) => t.into_owned(),
            _ => words.to_owned(),
        }
    } else {
        words.to_owned()
    };
    display::clean(decoded.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(raw: &str) -> Addr {
        let mut v = parse_list(raw);
        assert_eq!(v.len(), 1, "{raw:?} gave {v:?}");
        v.remove(0)
    }

    #[test]
    fn ordinary_mailboxes() {
        let a = one("Jean Dupont <jean@exemple.fr>");
        assert_eq!(a.name.as_deref(), Some("Jean Dupont"));
        assert_eq!(a.address, "jean@exemple.fr");
        assert!(a.valid && !a.is_deceptive());
        let a = one("\"Dupont, Jean\" <jean@exemple.fr>");
        assert_eq!(a.name.as_deref(), Some("Dupont, Jean"));
        let a = one("jean@exemple.fr (Jean Dupont)");
        assert_eq!(a.name.as_deref(), Some("Jean Dupont"));
        let a = one("=?utf-8?q?Ren=C3=A9e_Dupr=C3=A9?= <renee@exemple.fr>");
        assert_eq!(a.name.as_deref(), Some("Renée Dupré"));
        let a = one("J. R. Smith <jrs@x.example>");
        assert_eq!(a.name.as_deref(), Some("J. R. Smith"));
        let a = one("<@relay.example:bob@x.example>");
        assert_eq!(a.address, "bob@x.example");
        assert_eq!(
            one("\"john doe\"@x.example").address,
            "\"john doe\"@x.example"
        );
    }

    #[test]
    fn lists_and_groups() {
        let v = parse_list("a@x.example, \"B\" <b@y.example>,\r\n\tC <c@z.example>");
        let addrs: Vec<&str> = v.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(addrs, ["a@x.example", "b@y.example", "c@z.example"]);
        assert!(parse_list("undisclosed-recipients:;").is_empty());
        let v = parse_list("Team: a@x.example, b@x.example;, c@x.example");
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn encoded_words_in_an_address_are_never_decoded() {
        // Mailsploit: potus@whitehouse.gov, then a NUL, inside the local part.
        let a = one("=?utf-8?b?cG90dXNAd2hpdGVob3VzZS5nb3YA?=@mailsploit.com");
        assert_eq!(
            a.address,
            "=?utf-8?b?cG90dXNAd2hpdGVob3VzZS5nb3YA?=@mailsploit.com"
        );
        assert!(a.valid);
        assert_eq!(a.name, None);
        let a = one("<=?utf-8?q?potus=40whitehouse.gov=0A?=@mailsploit.com>");
        assert_eq!(a.domain(), Some("mailsploit.com"));
        assert!(!a.address.contains('\n'));
    }

    #[test]
    fn a_name_that_shows_another_address_is_deceptive() {
        let a = one("\"support@bank.example\" <x@attacker.test>");
        assert!(a.is_deceptive());
        let a = one("=?utf-8?b?cG90dXNAd2hpdGVob3VzZS5nb3YA?= <x@attacker.test>");
        assert_eq!(a.name.as_deref(), Some("potus@whitehouse.gov\u{fffd}"));
        assert!(a.is_deceptive());
        assert!(one("\"PayPal.com\" <service@paypal.com>").valid);
        assert!(!one("\"PayPal.com\" <service@paypal.com>").is_deceptive());
        assert!(!one("Booking.com <noreply@mail.booking.com>").is_deceptive());
        assert!(one("\"potus@whitehouse.gov\"@mailsploit.com").is_deceptive());
        assert!(!one("Plain Name <x@attacker.test>").is_deceptive());
        assert!(!one("jean.dupont <jean.dupont@example.org>").is_deceptive());
        assert!(!one("Marie Curie <marie.curie+digest@courrier.test>").is_deceptive());
        assert!(!one("\"jean.dupont@example.org\" <jean.dupont@example.org>").is_deceptive());
        assert!(one("Apple <id@аррӏе.com>").is_deceptive());
    }

    #[test]
    fn broken_mailboxes_are_kept_as_written_and_marked() {
        for raw in [
            "potus@whitehouse.gov <x@attacker.test>",
            "\"a\" <b@c.example> extra",
            "<x@attacker.test",
            "x@attacker\0.test",
            "x@attacker\u{202E}tset.",
            "x@",
            "Name Only",
        ] {
            let a = one(raw);
            assert!(!a.valid, "{raw:?}");
            assert!(!a.address.contains('\0'));
            assert!(!a.address.contains('\u{202E}'));
            assert_eq!(a.addr_spec(), None);
        }
    }

    #[test]
    fn names_lose_controls_and_direction_overrides() {
        let a = one("=?utf-8?q?Evil=0D=0ABcc=3A_x=40y=2Eexample?= <e@x.example>");
        let n = a.name.unwrap();
        assert!(!n.contains(['\r', '\n']), "{n:?}");
        let a = one("=?utf-8?q?=E2=80=AEmoc.knab?= <e@x.example>");
        assert_eq!(a.name.as_deref(), Some("moc.knab"));
    }

    #[test]
    fn five_thousand_recipients() {
        let raw: Vec<String> = (0..5000)
            .map(|i| format!("u{i} <u{i}@x.example>"))
            .collect();
        assert_eq!(parse_list(&raw.join(", ")).len(), 5000);
    }
}
