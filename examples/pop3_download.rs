//! Downloads a POP3 maildrop into a local Maildir with Courrier's sync engine and prints the time
//! and the process's peak memory. Used by `bench/pop3-download`.
//!
//! usage: pop3_download ADDRESS PASSWORD DIR [--no-keep]
//! Server: POP3S on 127.0.0.1:10995, trusting `COURRIER_TLS_CA_FILE`.

// A measuring tool: stopping loudly on the first failure is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use courrier::config::tls_settings;
use courrier::mail::FolderName;
use courrier::mail::account::{Credentials, Security, Server};
use courrier::mail::local::LocalStore;
use courrier::mail::pop3::client;
use courrier::mail::pop3::sync::{SyncOptions, sync};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: pop3_download ADDRESS PASSWORD DIR [--no-keep]");
        std::process::exit(2);
    }
    let keep = !args.iter().any(|a| a == "--no-keep");
    let dir = PathBuf::from(&args[3]);
    let ca = std::env::var_os("COURRIER_TLS_CA_FILE").map(PathBuf::from);
    let tls = tls_settings(ca.as_deref()).expect("TLS settings");
    let server = Server {
        host: "127.0.0.1".into(),
        port: 10995,
        security: Security::Tls,
    };
    let store = LocalStore::new(dir.join("Maildir"));
    let now = chrono::Utc::now().timestamp();
    let t = Instant::now();
    let pop = client::connect(
        &server,
        &tls,
        &Credentials::new(args[1].clone(), args[2].clone()),
        Duration::from_secs(60),
    )
    .await
    .expect("POP3 login");
    let report = sync(
        pop,
        &store,
        &dir.join("ledger.toml"),
        SyncOptions {
            keep_copy: keep,
            delete_after_days: None,
            now,
        },
    )
    .await
    .expect("sync");
    let secs = t.elapsed().as_secs_f64();
    let local = store.count(&FolderName::inbox()).await.unwrap_or(0);
    println!(
        "downloaded {} messages in {secs:.2} s ({:.0} msg/s); deleted on server {}; local store now {local}; peak RSS {:.1} MiB",
        report.downloaded,
        report.downloaded as f64 / secs.max(1e-9),
        report.deleted_on_server,
        peak_rss_kib() as f64 / 1024.0
    );
}
