//! The real mail stack, started once per test run through `scripts/mailstack` (idempotent).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// What the tests need to know about the running stack.
pub struct Stack {
    pub ca_file: PathBuf,
}

pub const IMAP_PORT: u16 = 10143;
pub const IMAPS_PORT: u16 = 10993;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/mailstack")
}

/// Starts the stack if it is not running, once per process.
pub fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let out = Command::new(script())
            .arg("start")
            .output()
            .expect("run scripts/mailstack start");
        assert!(
            out.status.success(),
            "scripts/mailstack start failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = PathBuf::from(
            std::env::var("MAILSTACK_DIR").unwrap_or_else(|_| "/tmp/courrier-mailstack".into()),
        );
        Stack {
            ca_file: dir.join("tls/cert.pem"),
        }
    })
}

/// A mail account created for one test.
#[derive(Clone, Debug)]
pub struct Account {
    pub address: String,
    pub password: String,
}

/// Creates a fresh account on the stack, unique to this test.
pub fn new_account(tag: &str) -> Account {
    stack();
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nonce: u32 = rand::random();
    let address = format!("{tag}-{}-{n}-{nonce:08x}@example.test", std::process::id());
    let password = format!("pw-{nonce:08x}-é\"x");
    let out = Command::new(script())
        .args(["add-user", &address, &password])
        .output()
        .expect("run scripts/mailstack add-user");
    assert!(
        out.status.success(),
        "add-user failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Account { address, password }
}

/// IMAP logins of this account that Dovecot logged.
pub fn dovecot_logins(address: &str) -> u32 {
    logins_of(address, "imap")
}

/// POP3 logins of this account that Dovecot logged.
pub fn pop3_logins(address: &str) -> u32 {
    logins_of(address, "pop3")
}

fn logins_of(address: &str, protocol: &str) -> u32 {
    let out = Command::new(script())
        .args(["logins", address, protocol])
        .output()
        .expect("run scripts/mailstack logins");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Restarts Dovecot (every IMAP connection drops).
pub fn restart_imap() {
    let out = Command::new(script())
        .arg("restart-imap")
        .output()
        .expect("run scripts/mailstack restart-imap");
    assert!(
        out.status.success(),
        "restart-imap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The stack's Redis (in memory only).
pub const REDIS_URL: &str = "redis://127.0.0.1:10379/";

/// Stops or starts the stack's Redis (`up`), as an outage does: what it held is gone.
pub fn set_redis(up: bool) {
    stack();
    let cmd = if up { "start-redis" } else { "stop-redis" };
    let out = Command::new(script())
        .arg(cmd)
        .output()
        .expect("run scripts/mailstack");
    assert!(
        out.status.success(),
        "{cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
