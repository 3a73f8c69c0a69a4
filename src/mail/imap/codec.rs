//! Encoding values for the IMAP wire: modified UTF-7 folder names (RFC 3501 section 5.1.3) and quoted
//! strings.
//!
//! The utf7-imap crate was considered and rejected: it panics on a malformed name sent by the server and
//! compiles a regular expression on every call. The codec is small enough to own and test here.

use base64::Engine;
use base64::alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};

use crate::mail::FolderName;

/// RFC 3501's "modified BASE64": `,` instead of `/`, no padding.
const MB64: GeneralPurpose = GeneralPurpose::new(
    &match alphabet::Alphabet::new(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,",
    ) {
        Ok(a) => a,
        Err(_) => panic!("valid alphabet"),
    },
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Encodes a UTF-8 folder name to modified UTF-7.
pub fn encode_mutf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&MB64.encode(bytes));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a modified UTF-7 name. A malformed name is returned as it came rather than failing: the
/// folder must stay reachable, and its raw form is still a valid name to send back.
pub fn decode_mutf7(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(dash) = after.find('-') else {
            return raw.to_owned();
        };
        let chunk = &after[..dash];
        if chunk.is_empty() {
            out.push('&');
        } else {
            let Ok(bytes) = MB64.decode(chunk) else {
                return raw.to_owned();
            };
            if bytes.len() % 2 != 0 {
                return raw.to_owned();
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .collect();
            match String::from_utf16(&units) {
                Ok(s) => out.push_str(&s),
                Err(_) => return raw.to_owned(),
            }
        }
        rest = &after[dash + 1..];
    }
    out.push_str(rest);
    out
}

/// An IMAP quoted string. Callers guarantee no CR, LF or NUL (they cannot be quoted).
pub fn quote(s: &str) -> String {
    debug_assert!(!s.contains(['\r', '\n', '\0']));
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A string argument for SEARCH/SORT: quoted when ASCII, otherwise a non-synchronising literal
/// (RFC 7888 LITERAL+) of its UTF-8 bytes, which the command declares with CHARSET UTF-8. Without
/// LITERAL+ the UTF-8 is sent quoted, which Dovecot and most servers accept.
pub fn search_string(s: &str, literal_plus: bool) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    if clean.is_ascii() || !literal_plus {
        quote(&clean)
    } else {
        format!("{{{}+}}\r\n{clean}", clean.len())
    }
}

/// A folder name as an IMAP mailbox argument: modified UTF-7, quoted.
pub fn quote_mailbox(folder: &FolderName) -> String {
    quote(&encode_mutf7(folder.as_str()))
}

/// A UID set (`4,7,9`) for these UIDs.
pub fn uid_set(uids: &[crate::mail::Uid]) -> String {
    uids.iter()
        .map(|u| u.0.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutf7_round_trips_rfc_example_and_accents() {
        // RFC 3501 section 5.1.3 example.
        assert_eq!(
            encode_mutf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(
            decode_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            "~peter/mail/台北/日本語"
        );
        for name in [
            "Été",
            "Reçus & envoyés",
            "Отправленные",
            "a&b",
            "emoji 📬",
            "plain",
        ] {
            assert_eq!(decode_mutf7(&encode_mutf7(name)), name, "{name}");
        }
        assert_eq!(encode_mutf7("a&b"), "a&-b");
    }

    #[test]
    fn malformed_mutf7_is_kept_as_is() {
        assert_eq!(decode_mutf7("&ÿÿ-"), "&ÿÿ-");
        assert_eq!(decode_mutf7("open&AAA"), "open&AAA");
        assert_eq!(decode_mutf7("&2D0-"), "&2D0-"); // lone high surrogate
    }

    #[test]
    fn search_strings_cannot_break_out_of_the_command() {
        assert_eq!(search_string("a\"b\r\nX LOGOUT", true), r#""a\"bX LOGOUT""#);
        assert_eq!(search_string("été", true), "{5+}\r\nété");
        assert_eq!(search_string("été", false), "\"été\"");
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
