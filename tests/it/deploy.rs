//! Several instances behind nginx, as docs/deploy.md describes: the example configuration
//! (docs/nginx.conf) run on loopback in front of two Courrier processes that share Redis, a key and
//! a data directory. A session bounces between instances without a new login; an instance killed
//! mid-session is not noticed; live updates pass through unbuffered.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::imap_probe::{Probe, simple_message};
use crate::support::mailstack::{REDIS_URL, dovecot_logins};
use crate::support::{browser_logged_in, new_account};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for(url: &str) {
    for _ in 0..100 {
        if reqwest::get(url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered");
}

/// A process, stopped when dropped: with SIGTERM when `gently` (nginx then takes its workers
/// along), otherwise killed as a crash would.
struct Process {
    child: Child,
    gently: bool,
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.gently {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
        } else {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// One Courrier process.
async fn instance(port: u16, shared: &[(&str, &str)]) -> Process {
    let listen = format!("127.0.0.1:{port}");
    let mut settings = vec![("COURRIER_SERVER_LISTEN", listen.as_str())];
    settings.extend_from_slice(shared);
    let child = Command::new(env!("CARGO_BIN_EXE_courrier"))
        .env_clear()
        .envs(crate::support::app::test_env(&settings))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&format!("http://{listen}/healthz")).await;
    Process {
        child,
        gently: false,
    }
}

/// docs/nginx.conf with this test's ports and paths.
fn nginx_conf(dir: &Path, front: u16, backends: [u16; 2]) -> PathBuf {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/nginx.conf")).unwrap();
    let d = dir.display().to_string();
    let conf = example
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{front}"))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{}", backends[0]))
        .replace("127.0.0.1:8082", &format!("127.0.0.1:{}", backends[1]))
        .replace("/run/nginx-courrier.pid", &format!("{d}/nginx.pid"))
        .replace(
            "/var/log/nginx/courrier-error.log",
            &format!("{d}/error.log"),
        )
        .replace("/var/lib/nginx/courrier-", &format!("{d}/tmp-"));
    assert!(!conf.contains("/var/") && !conf.contains("/run/"), "{conf}");
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// The instance that answered, by the prefix of its request ids (random per process).
fn instance_of(r: &reqwest::Response) -> String {
    let id = r.headers()["x-request-id"].to_str().unwrap();
    id.split('-').next().unwrap().to_owned()
}

#[tokio::test]
async fn behind_nginx_a_session_survives_any_instance_and_a_killed_one() {
    let dir = std::env::temp_dir().join(format!("courrier-deploy-{}", rand::random::<u64>()));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let key = dir.join("secret.key");
    std::fs::write(&key, format!("{}\n", "c3".repeat(32))).unwrap();
    let (front, ports) = (free_port(), [free_port(), free_port()]);
    let public = format!("http://127.0.0.1:{front}");
    let (key_s, data_s) = (
        key.display().to_string(),
        dir.join("data").display().to_string(),
    );
    let shared = [
        ("COURRIER_SESSION_STORE", "redis"),
        ("COURRIER_SESSION_REDIS_URL", REDIS_URL),
        ("COURRIER_SERVER_SECRET_KEY_FILE", key_s.as_str()),
        ("COURRIER_SERVER_DATA_DIR", data_s.as_str()),
        ("COURRIER_SERVER_TRUSTED_PROXIES", "127.0.0.1"),
        ("COURRIER_SERVER_PUBLIC_URL", public.as_str()),
    ];
    let first = instance(ports[0], &shared).await;
    let _second = instance(ports[1], &shared).await;
    let conf = nginx_conf(&dir, front, ports);
    let _nginx = Process {
        child: Command::new("/usr/sbin/nginx")
            .args(["-c", conf.to_str().unwrap(), "-p", dir.to_str().unwrap()])
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        gently: true,
    };
    wait_for(&format!("{public}/healthz")).await;

    let acct = new_account("behind-nginx");
    Probe::connect(&acct)
        .await
        .append(
            "INBOX",
            "",
            &simple_message("x@example.test", "Derrière nginx", "x"),
        )
        .await;
    let logins = dovecot_logins(&acct.address);
    let (browser, r) = browser_logged_in(&public, &acct).await;
    // The login page and its post may have gone to different instances: the token is in Redis.
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let mut seen = HashSet::new();
    for i in 0..12 {
        let r = browser
            .get(format!("{public}/mail/INBOX"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "request {i}");
        seen.insert(instance_of(&r));
        assert!(r.text().await.unwrap().contains("Derrière nginx"));
    }
    assert_eq!(seen.len(), 2, "round robin reached both instances");
    assert!(
        dovecot_logins(&acct.address) - logins <= 2,
        "one IMAP login per instance for the session"
    );

    // Live updates come through at once (nginx does not buffer them).
    let mut events = browser
        .get(format!("{public}/events?folder=INBOX"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let chunk = tokio::time::timeout(Duration::from_secs(5), events.chunk())
        .await
        .expect("the first event within 5 s, not held by the proxy")
        .unwrap();
    assert!(chunk.is_some());
    drop(events);

    // One instance dies (kill -9): the user goes on through the other.
    drop(first);
    for i in 0..6 {
        let r = browser
            .get(format!("{public}/mail/INBOX"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "request {i} after the kill");
        assert!(r.text().await.unwrap().contains("Derrière nginx"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
