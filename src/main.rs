//! `courrier [--config FILE] [--check-config]`: load the configuration, then serve.

use std::path::PathBuf;
use std::process::ExitCode;

use courrier::app::{self, AppState};
use courrier::config::Config;

const USAGE: &str = "usage: courrier [--config FILE] [--check-config | --healthcheck]

  --config FILE    configuration file (default: $COURRIER_CONFIG, or built-in defaults)
  --check-config   validate the configuration, print a summary and exit
  --healthcheck    ask the running instance's /healthz (for a container's HEALTHCHECK); exit 0 if ok
Any key can be set as COURRIER_<SECTION>_<KEY>; see courrier.example.toml.";

fn main() -> ExitCode {
    let mut config_path: Option<PathBuf> = std::env::var_os("COURRIER_CONFIG").map(Into::into);
    let mut check_only = false;
    let mut health_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" => match args.next() {
                Some(p) => config_path = Some(p.into()),
                None => {
                    eprintln!("--config needs a file\n\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--check-config" => check_only = true,
            "--healthcheck" => health_only = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument {other:?}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let config = match Config::load(config_path.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("courrier: {e}");
            return ExitCode::from(2);
        }
    };
    if health_only {
        return healthcheck(config.listen);
    }
    if check_only {
        println!(
            "configuration OK: listening on {}, public URL {}, IMAP {}:{} ({:?}), SMTP {}:{} ({:?}), {} extra domain(s)",
            config.listen,
            config.public_url,
            config.default_servers.imap.host,
            config.default_servers.imap.port,
            config.default_servers.imap.security,
            config.default_servers.smtp.host,
            config.default_servers.smtp.port,
            config.default_servers.smtp.security,
            config.domains.len(),
        );
        return ExitCode::SUCCESS;
    }
    // async-imap traces every command it writes, LOGIN and AUTHENTICATE included: capped whatever
    // RUST_LOG says (a more specific directive wins), so no log level ever holds a password.
    #[expect(
        clippy::expect_used,
        reason = "a constant directive; without it passwords could reach the log"
    )]
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=warn".into())
        .add_directive(
            "async_imap::imap_stream=debug"
                .parse()
                .expect("a valid directive"),
        );
    if config.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("courrier: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("courrier: cannot listen on {}: {e}", config.listen);
                return ExitCode::FAILURE;
            }
        };
        let (listen, public_url) = (config.listen, config.public_url.clone());
        let metrics_listen = config.metrics_listen;
        let state = match AppState::new(config) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("courrier: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(addr) = metrics_listen {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => {
                    let router = app::metrics_router(state.clone());
                    tokio::spawn(async move {
                        let _ = axum::serve(l, router).await;
                    });
                    tracing::info!(listen = %addr, "metrics served");
                }
                Err(e) => {
                    eprintln!("courrier: cannot listen on {addr} for metrics: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        tracing::info!(listen = %listen, public_url = %public_url, "Courrier is serving");
        // SIGTERM (an orchestrator, an upgrade) or SIGINT (a terminal) stop it gracefully.
        let shutdown = async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                match signal(SignalKind::terminate()) {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = term.recv() => {}
                            _ = tokio::signal::ctrl_c() => {}
                        }
                    }
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        match app::serve(listener, state, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("courrier: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// GET /healthz on the instance this configuration describes (an unspecified listen address is
/// reached on loopback), with a short deadline: what a container's HEALTHCHECK runs, without curl.
fn healthcheck(listen: std::net::SocketAddr) -> ExitCode {
    use std::io::{Read, Write};
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let deadline = std::time::Duration::from_secs(3);
    let answer = (|| -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, deadline)?;
        s.set_read_timeout(Some(deadline))?;
        s.set_write_timeout(Some(deadline))?;
        s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut out = String::new();
        s.take(4096).read_to_string(&mut out)?;
        Ok(out)
    })();
    match answer {
        Ok(a) if a.starts_with("HTTP/1.0 200") || a.starts_with("HTTP/1.1 200") => {
            ExitCode::SUCCESS
        }
        Ok(a) => {
            eprintln!("courrier: unhealthy: {}", a.lines().next().unwrap_or(""));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("courrier: unhealthy: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}
