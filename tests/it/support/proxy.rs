//! A TCP proxy in front of the real Dovecot that injects the faults a healthy server never produces: a
//! connection cut in the middle of a response, a malformed response line, a server that stops
//! accepting connections. Only for plain IMAP (the proxy must see the bytes).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::mailstack::IMAP_PORT;

#[derive(Default)]
struct Faults {
    /// Cut the next connection that sends more than this many bytes to the client (0: off).
    cut_after: AtomicUsize,
    /// Break the next `FETCH (` seen in a server response.
    garble_fetch: AtomicBool,
    /// Refuse new connections and drop open ones.
    down: AtomicBool,
    /// Capabilities to hide (each renamed X<NAME>, same length), as older servers would lack them.
    hidden: std::sync::Mutex<Vec<String>>,
    fired: AtomicUsize,
    /// Commands seen from the client, for tests that check which path was taken.
    commands: std::sync::Mutex<Vec<String>>,
    cut_all: Notify,
}

pub struct FaultProxy {
    pub port: u16,
    faults: Arc<Faults>,
}

impl FaultProxy {
    pub async fn start() -> FaultProxy {
        Self::start_to(IMAP_PORT).await
    }

    /// A proxy in front of another port of the stack (POP3).
    pub async fn start_to(target: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(Faults::default());
        let f = faults.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if f.down.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let f = f.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    relay(client, server, f).await;
                });
            }
        });
        FaultProxy { port, faults }
    }

    /// The next connection that sends more than `bytes` to Courrier is cut there.
    pub fn cut_next_response_after(&self, bytes: usize) {
        self.faults.cut_after.store(bytes, Ordering::SeqCst);
    }

    /// The next FETCH response is made unparsable.
    pub fn garble_next_fetch(&self) {
        self.faults.garble_fetch.store(true, Ordering::SeqCst);
    }

    /// From now on the server seems not to support MOVE.
    pub fn hide_move(&self) {
        self.hide_capability("MOVE");
    }

    /// From now on the server seems not to have this capability.
    pub fn hide_capability(&self, name: &str) {
        self.faults.hidden.lock().unwrap().push(name.to_owned());
    }

    /// Simulates the server going away (`true`) or coming back (`false`).
    pub fn set_down(&self, down: bool) {
        self.faults.down.store(down, Ordering::SeqCst);
        if down {
            self.faults.cut_all.notify_waiters();
        }
    }

    /// True if Courrier sent a command starting with `prefix` (after its tag).
    pub fn saw_command(&self, prefix: &str) -> bool {
        self.faults
            .commands
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.starts_with(prefix))
    }

    /// How many commands starting with `prefix` (after their tag) Courrier sent.
    pub fn count_commands(&self, prefix: &str) -> usize {
        self.faults
            .commands
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
    }

    /// How many faults were injected.
    pub fn fired(&self) -> usize {
        self.faults.fired.load(Ordering::SeqCst)
    }
}

async fn relay(client: TcpStream, server: TcpStream, f: Arc<Faults>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let upstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let text = String::from_utf8_lossy(&buf[..n]);
            if let Ok(mut c) = f.commands.lock() {
                c.extend(
                    text.lines()
                        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest.to_owned())),
                );
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let downstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut sent = 0usize;
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let chunk = &mut buf[..n];
            if f.garble_fetch.load(Ordering::SeqCst)
                && let Some(i) = chunk.windows(7).position(|w| w == b"FETCH (")
                && f.garble_fetch.swap(false, Ordering::SeqCst)
            {
                chunk[i + 6] = b')';
                f.fired.fetch_add(1, Ordering::SeqCst);
            }
            let hidden = f.hidden.lock().map(|h| h.clone()).unwrap_or_default();
            for cap in hidden {
                let needle = format!(" {cap} ").into_bytes();
                let with = format!(" X{cap}").into_bytes();
                let mut i = 0;
                while let Some(p) = chunk[i..].windows(needle.len()).position(|w| w == needle) {
                    chunk[i + p..i + p + needle.len()].copy_from_slice(&with);
                    i += p + needle.len();
                }
            }
            let limit = f.cut_after.load(Ordering::SeqCst);
            if limit > 0 && sent + n > limit && f.cut_after.swap(0, Ordering::SeqCst) > 0 {
                let keep = limit.saturating_sub(sent);
                let _ = cw.write_all(&chunk[..keep]).await;
                f.fired.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if cw.write_all(chunk).await.is_err() {
                return;
            }
            sent += n;
        }
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
        _ = f.cut_all.notified() => {}
    }
}
