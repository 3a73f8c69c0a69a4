//! "Another device": a second, independent IMAP connection, written directly on the socket so that it
//! shares no code with Courrier's client.

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::mailstack::{Account, IMAP_PORT};

pub struct Probe {
    stream: BufReader<TcpStream>,
    tag: u32,
}

impl Probe {
    /// Connects without TLS (loopback) and authenticates with SASL PLAIN.
    pub async fn connect(account: &Account) -> Probe {
        let tcp = TcpStream::connect(("127.0.0.1", IMAP_PORT))
            .await
            .expect("connect to Dovecot");
        let mut p = Probe {
            stream: BufReader::new(tcp),
            tag: 0,
        };
        let mut greeting = String::new();
        p.stream.read_line(&mut greeting).await.unwrap();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        let sasl = base64::engine::general_purpose::STANDARD
            .encode(format!("\0{}\0{}", account.address, account.password));
        p.ok(&format!("AUTHENTICATE PLAIN {sasl}")).await;
        p
    }

    /// Sends a command and returns the whole answer (literals included) once it completed OK.
    pub async fn ok(&mut self, command: &str) -> String {
        let (status, text) = self.run(command.as_bytes(), None).await;
        assert_eq!(status, "OK", "{command} -> {text}");
        text
    }

    async fn run(&mut self, command: &[u8], literal: Option<&[u8]>) -> (String, String) {
        self.tag += 1;
        let tag = format!("p{}", self.tag);
        let mut line = format!("{tag} ").into_bytes();
        line.extend_from_slice(command);
        if let Some(lit) = literal {
            line.extend_from_slice(format!(" {{{}+}}\r\n", lit.len()).as_bytes());
            line.extend_from_slice(lit);
        }
        line.extend_from_slice(b"\r\n");
        self.stream.get_mut().write_all(&line).await.unwrap();
        let mut all = String::new();
        loop {
            let mut l = String::new();
            let n = self.stream.read_line(&mut l).await.unwrap();
            assert!(n > 0, "connection closed");
            // A literal {n} at the end of a line: read its bytes.
            if let Some(open) = l
                .trim_end()
                .strip_suffix('}')
                .and_then(|s| s.rfind('{').map(|i| (i, s)))
            {
                let (i, s) = open;
                if let Ok(len) = s[i + 1..].trim_end_matches('+').parse::<usize>() {
                    all.push_str(&l);
                    let mut buf = vec![0; len];
                    self.stream.read_exact(&mut buf).await.unwrap();
                    all.push_str(&String::from_utf8_lossy(&buf));
                    continue;
                }
            }
            if let Some(rest) = l.strip_prefix(&format!("{tag} ")) {
                let status = rest.split_whitespace().next().unwrap_or("").to_owned();
                all.push_str(&l);
                return (status, all);
            }
            all.push_str(&l);
        }
    }

    /// Appends a message (LITERAL+), with flags such as `(\Seen)` or empty.
    pub async fn append(&mut self, folder: &str, flags: &str, message: &[u8]) {
        let cmd = format!("APPEND {} ({flags})", quote(&mutf7(folder)));
        let (status, text) = self.run(cmd.as_bytes(), Some(message)).await;
        assert_eq!(status, "OK", "APPEND -> {text}");
    }

    /// Creates and subscribes to a folder, as mail clients do.
    pub async fn create(&mut self, folder: &str) {
        self.ok(&format!("CREATE {}", quote(&mutf7(folder)))).await;
        self.ok(&format!("SUBSCRIBE {}", quote(&mutf7(folder))))
            .await;
    }

    /// The folder names (modified UTF-7, as the server lists them).
    pub async fn list(&mut self) -> Vec<String> {
        let out = self.ok(r#"LIST "" "*""#).await;
        out.lines()
            .filter(|l| l.starts_with("* LIST"))
            .map(|l| {
                // `* LIST (attrs) "/" name`: the name is what follows the delimiter.
                let after_attrs = l.split_once(") ").map(|(_, r)| r).unwrap_or("");
                let name = after_attrs.split_once(' ').map(|(_, n)| n).unwrap_or("");
                name.trim_matches('"').to_owned()
            })
            .collect()
    }

    /// The flags of a message, as the server reports them.
    pub async fn flags(&mut self, folder: &str, uid: u32) -> String {
        self.ok(&format!("EXAMINE {}", quote(&mutf7(folder)))).await;
        let out = self.ok(&format!("UID FETCH {uid} (FLAGS)")).await;
        out.lines()
            .find(|l| l.contains("FETCH"))
            .unwrap_or("")
            .to_owned()
    }
}

impl Probe {
    /// The UIDs of a folder, in order.
    pub async fn uids(&mut self, folder: &str) -> Vec<u32> {
        self.ok(&format!("EXAMINE {}", quote(&mutf7(folder)))).await;
        let out = self.ok("UID SEARCH ALL").await;
        let mut v: Vec<u32> = out
            .lines()
            .find(|l| l.starts_with("* SEARCH"))
            .unwrap_or("")
            .split_whitespace()
            .skip(2)
            .filter_map(|n| n.parse().ok())
            .collect();
        v.sort();
        v
    }

    /// Waits (up to 10 s) until the folder holds at least `n` messages; returns their UIDs.
    pub async fn wait_for(&mut self, folder: &str, n: usize) -> Vec<u32> {
        for _ in 0..100 {
            let uids = self.uids(folder).await;
            if uids.len() >= n {
                return uids;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{folder} never reached {n} messages");
    }

    /// The raw bytes of a message.
    pub async fn fetch(&mut self, folder: &str, uid: u32) -> Vec<u8> {
        self.ok(&format!("EXAMINE {}", quote(&mutf7(folder)))).await;
        self.tag += 1;
        let tag = format!("p{}", self.tag);
        self.stream
            .get_mut()
            .write_all(format!("{tag} UID FETCH {uid} (BODY.PEEK[])\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = Vec::new();
        loop {
            let mut l = String::new();
            self.stream.read_line(&mut l).await.unwrap();
            if let Some(i) = l.rfind('{')
                && let Some(len) = l[i + 1..]
                    .trim_end()
                    .strip_suffix('}')
                    .and_then(|n| n.parse::<usize>().ok())
            {
                let mut buf = vec![0; len];
                self.stream.read_exact(&mut buf).await.unwrap();
                out = buf;
                continue;
            }
            if l.starts_with(&format!("{tag} ")) {
                assert!(l.contains("OK"), "{l}");
                return out;
            }
        }
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Modified UTF-7 (RFC 3501 section 5.1.3), written independently of Courrier's codec.
pub fn mutf7(s: &str) -> String {
    let mut out = String::new();
    let mut buf: Vec<u16> = Vec::new();
    let flush = |buf: &mut Vec<u16>, out: &mut String| {
        if buf.is_empty() {
            return;
        }
        let bytes: Vec<u8> = buf.iter().flat_map(|u| u.to_be_bytes()).collect();
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(bytes)
            .replace('/', ",");
        out.push('&');
        out.push_str(&b64);
        out.push('-');
        buf.clear();
    };
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut buf, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut b = [0u16; 2];
            buf.extend_from_slice(c.encode_utf16(&mut b));
        }
    }
    flush(&mut buf, &mut out);
    out
}

/// A small realistic message with the given subject and body.
pub fn simple_message(from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: someone@example.test\r\nSubject: {subject}\r\nDate: Mon, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{}@test.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        rand::random::<u64>()
    )
    .into_bytes()
}
