//! Text from a message made safe to put in front of a person: what every decoded string a reader sees
//! (names, subjects, file names, folder names from the server) goes through before it leaves `mail`.
//!
//! A message's headers are written by whoever sent it. Decoding them (RFC 2047, RFC 2231, modified
//! UTF-7) can produce characters that are never legitimate on a screen: C0 and C1 controls (a NUL
//! that cuts a string short in some code, a CR/LF that starts a new header when copied into a reply,
//! an ESC), bidirectional overrides that make `invoice\u{202E}fdp.exe` read as `invoiceexe.pdf`, and
//! invisible characters that make `pay\u{200B}pal` read as `paypal`. [`clean`] replaces controls with
//! U+FFFD (something was there) and drops the invisible and direction-changing ones; right-to-left
//! text itself is kept, and the templates isolate it (`<bdi>`) so it cannot reorder what follows.
//!
//! Domains are shown the way browsers show them in the address bar: a name mixing scripts, or one that
//! only imitates Latin letters with Cyrillic or Greek ones, is shown in its ASCII (punycode) form.

use unicode_security::{RestrictionLevel, RestrictionLevelDetection};

/// The replacement shown for a control character.
const REPLACEMENT: char = '\u{FFFD}';

/// True for characters that change the direction of the text around them: embeddings, overrides,
/// isolates and the invisible direction marks.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// True for characters that take no room on screen (Unicode's default-ignorable code points, less
/// the joiners handled by [`clean`] and the emoji variation selectors): they can only hide or
/// split a word.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'
            | '\u{2060}'..='\u{2065}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0D}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// True for a character [`clean`] never lets through: controls, direction changes, invisibles.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c) || matches!(c, '\u{200C}' | '\u{200D}')
}

/// Text as a reader may see it: tabs and line or paragraph separators become spaces, other C0/C1
/// controls become U+FFFD, direction controls and invisible characters are dropped. A zero-width
/// joiner or non-joiner stays only between two characters beyond Latin (emoji sequences, Persian,
/// Indic scripts need them); between Latin letters it can only disguise a word.
pub fn clean(s: &str) -> String {
    if !s
        .chars()
        .any(|c| is_unsafe(c) || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return s.to_owned();
    }
    let is_joiner = |c: char| matches!(c, '\u{200C}' | '\u{200D}');
    // First everything but the joiners; then each joiner is judged by the neighbours it will have
    // in the result (not in the input, where one of them may be dropped), so that cleaning twice
    // gives what cleaning once did.
    let mut kept: Vec<char> = Vec::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' | '\u{2028}' | '\u{2029}' => kept.push(' '),
            c if is_joiner(c) => kept.push(c),
            c if c.is_control() => kept.push(REPLACEMENT),
            c if is_bidi_control(c) || is_invisible(c) => {}
            c => kept.push(c),
        }
    }
    let beyond_latin = |c: Option<&char>| c.is_some_and(|c| *c > '\u{024F}' && !is_joiner(*c));
    let mut out = String::with_capacity(s.len());
    for (i, &c) in kept.iter().enumerate() {
        if is_joiner(c)
            && !(beyond_latin(out.chars().last().as_ref()) && beyond_latin(kept.get(i + 1)))
        {
            continue;
        }
        out.push(c);
    }
    out
}

/// At most `max` characters of `s`, and whether it was cut (the caller shows that it was, and where
/// to read the rest).
pub fn shorten(s: &str, max: usize) -> (&str, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (&s[..i], true),
        None => (s, false),
    }
}

/// Longest file name given to the browser, in characters.
const MAX_FILENAME: usize = 200;

/// A file name fit to show and to download under: cleaned as [`clean`] does (so the extension that
/// shows is the real one), without directories, without characters that some systems refuse, not
/// hidden (no leading dot), and when too long cut in its middle so the extension stays visible.
/// The message page and the download use this same function.
pub fn filename(name: &str) -> String {
    let cleaned = clean(name).replace(REPLACEMENT, "_");
    let base = cleaned.rsplit(['/', '\\']).next().unwrap_or("");
    let mapped: String = base
        .chars()
        .map(|c| {
            if matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    // Leading dots and spaces go however they alternate (". .x" must not become ".x"), so that no
    // name is hidden or a directory; trailing ones are dropped by Windows anyway.
    let trimmed = mapped
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() {
        return "attachment".to_owned();
    }
    let count = trimmed.chars().count();
    if count <= MAX_FILENAME {
        return trimmed.to_owned();
    }
    // Keep the end: the extension decides what the file opens with.
    let tail: String = trimmed.chars().skip(count - 40).collect();
    let head: String = trimmed.chars().take(MAX_FILENAME - 41).collect();
    format!("{head}…{tail}")
}

/// A domain as it should be shown: as written when every label reads as what it is, otherwise (mixed
/// scripts, or a non-Latin label that looks Latin) in punycode, as browsers do in the address bar.
pub fn domain(d: &str) -> String {
    if d.is_ascii() || d.split('.').all(safe_label) {
        return d.to_owned();
    }
    // Label by label: one label IDNA refuses (`xn--a`, a replacement character) must not leave a
    // look-alike beside it in Unicode. A label IDNA refuses is encoded as punycode all the same.
    d.split('.')
        .map(|label| {
            if safe_label(label) {
                label.to_owned()
            } else {
                // IDNA may map a character to a dot (U+3002): then the label is encoded as is.
                idna::domain_to_ascii(label)
                    .ok()
                    .filter(|a| !a.contains('.'))
                    .unwrap_or_else(|| {
                        idna::punycode::encode_str(label)
                            .map(|p| format!("xn--{p}"))
                            .unwrap_or_else(|| "xn--".to_owned())
                    })
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// True when a domain would be shown in another form than it is written (see [`domain`]).
pub fn is_deceptive_domain(d: &str) -> bool {
    domain(d) != d
}

/// A label shown as Unicode: one script, or one of the combinations of UTS #39's "highly
/// restrictive" level (Latin with Han and Japanese kana, Han with Bopomofo or Hangul); and not a
/// label whose every letter has a Latin look-alike (`аррӏе` in Cyrillic), unless the domain is in
/// that script anyway.
fn safe_label(label: &str) -> bool {
    if label.is_ascii() {
        return true;
    }
    let letters: String = label.chars().filter(|c| *c != '-').collect();
    if letters.detect_restriction_level() > RestrictionLevel::HighlyRestrictive {
        return false;
    }
    let skeleton: String = unicode_security::skeleton(&letters).collect();
    !skeleton.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_replacement_characters() {
        assert_eq!(
            clean("a\0b\rc\nd\u{1b}e\u{85}f"),
            "a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}e\u{fffd}f"
        );
        assert_eq!(clean("a\tb"), "a b");
    }

    #[test]
    fn direction_controls_and_invisibles_are_dropped() {
        assert_eq!(clean("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(clean("pay\u{200B}pal \u{2066}x\u{2069}"), "paypal x");
        assert_eq!(clean("pay\u{200D}pal"), "paypal");
        assert_eq!(clean("\u{FEFF}bom\u{00AD}"), "bom");
    }

    #[test]
    fn real_right_to_left_text_and_emoji_stay_as_they_are() {
        for s in [
            "محمد الأحمد",
            "שלום עולם",
            "👨\u{200D}👩\u{200D}👧",
            "می\u{200C}خواهم",
            "❤\u{FE0F}",
        ] {
            assert_eq!(clean(s), s);
        }
    }

    #[test]
    fn filenames_show_their_real_extension() {
        assert_eq!(filename("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(filename("../../etc/passwd"), "passwd");
        assert_eq!(filename("C:\\Users\\x\\évil.exe"), "évil.exe");
        assert_eq!(filename("a\r\nb.txt"), "a__b.txt");
        assert_eq!(filename(".."), "attachment");
        assert_eq!(filename("\"quoted\".txt"), "_quoted_.txt");
        assert_eq!(filename("report.pdf."), "report.pdf");
        assert_eq!(filename(". . .profile"), "profile");
        let long = format!("{}.pdf{}.exe", "a".repeat(300), " ".repeat(50));
        let f = filename(&long);
        assert!(f.ends_with(".exe"), "{f}");
        assert!(f.chars().count() <= 200);
    }

    #[test]
    fn homograph_domains_are_shown_in_punycode() {
        assert_eq!(domain("example.org"), "example.org");
        assert_eq!(domain("exämple.de"), "exämple.de");
        assert_eq!(domain("пример.рф"), "пример.рф");
        assert_eq!(domain("例え.jp"), "例え.jp");
        // Cyrillic letters that all look Latin, and Latin mixed with Cyrillic.
        assert_eq!(domain("аррӏе.com"), "xn--80ak6aa92e.com");
        assert!(domain("pаypal.com").starts_with("xn--"));
        assert!(is_deceptive_domain("pаypal.com"));
        assert!(!is_deceptive_domain("bücher.example"));
    }

    /// Found by fuzzing (tests/fixtures/fuzz/header_addresses/): a joiner kept beside a character
    /// that was dropped afterwards.
    #[test]
    fn cleaning_twice_is_cleaning_once() {
        for s in [
            "\u{FFFD}\u{200C}\u{200D}",
            "a\u{200B}\u{200D}\u{628}",
            "\u{628}\u{200D}\u{200B}\u{628}",
        ] {
            let once = clean(s);
            assert_eq!(clean(&once), once, "{s:?}");
        }
        assert_eq!(
            clean("\u{628}\u{200D}\u{200B}\u{628}"),
            "\u{628}\u{200D}\u{628}"
        );
    }

    /// Found by fuzzing: a label IDNA refuses made the whole domain show as written.
    #[test]
    fn a_refused_label_does_not_let_a_look_alike_through() {
        let shown = domain("xn--a.p\u{430}ypal.com");
        assert!(shown.ends_with(".xn--pypal-4ve.com"), "{shown}");
        assert!(is_deceptive_domain("\u{2d0}.\u{FFFD}"));
        assert!(domain("\u{2d0}.\u{FFFD}").is_ascii());
        assert_eq!(domain("p\u{430}y\u{3002}pal.com").split('.').count(), 2);
    }

    #[test]
    fn shorten_counts_characters() {
        assert_eq!(shorten("ééé", 2), ("éé", true));
        assert_eq!(shorten("abc", 3), ("abc", false));
    }
}
