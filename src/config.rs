//! Configuration: the embedded defaults (`courrier.example.toml`, which doubles as documentation), an
//! optional TOML file, then `COURRIER_<SECTION>_<KEY>` environment variables, in that order. The result
//! is validated once at start-up; an error names the key, where its value came from, and what is wrong.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::mail::account::{Protocols, Security, Server, Servers, TlsSettings};
use crate::mail::imap::PoolConfig;

/// The defaults, and the documentation of every key.
pub const DEFAULTS: &str = include_str!("../courrier.example.toml");

/// A configuration problem, worded for the administrator.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    server: RawServer,
    imap: RawEndpoint,
    pop3: RawPop3,
    smtp: RawSmtp,
    tls: RawTls,
    pool: RawPool,
    session: RawSession,
    ui: RawUi,
    log: RawLog,
    domains: RawDomains,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    public_url: String,
    data_dir: String,
    trusted_proxies: String,
    secret_key_file: String,
    metrics_listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    host: String,
    port: i64,
    security: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPop3 {
    host: String,
    port: i64,
    security: String,
    check_interval_secs: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: i64,
    security: String,
    max_message_mb: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca_file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    max_per_user: i64,
    max_total: i64,
    idle_timeout_secs: i64,
    command_timeout_secs: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    idle_timeout_mins: i64,
    max_lifetime_hours: i64,
    store: String,
    redis_url: String,
}

/// Where sessions are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionBackend {
    /// A file in the data directory: one instance.
    Embedded,
    /// Redis at this URL: several instances.
    Redis(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUi {
    page_size: i64,
    autosave_secs: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomains {
    default_server: bool,
    protocols: String,
    #[serde(default)]
    map: BTreeMap<String, RawDomain>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    imap_host: Option<String>,
    imap_port: Option<i64>,
    imap_security: Option<String>,
    pop3_host: Option<String>,
    pop3_port: Option<i64>,
    pop3_security: Option<String>,
    protocols: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<i64>,
    smtp_security: Option<String>,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// The public base URL, without a trailing slash.
    pub public_url: String,
    pub data_dir: PathBuf,
    /// The key that seals sessions' passwords; `None`: `secret.key` in the data directory, made on
    /// first start.
    pub secret_key_file: Option<PathBuf>,
    /// Where Prometheus metrics are served (`GET /metrics`); `None`: not served.
    pub metrics_listen: Option<SocketAddr>,
    pub default_servers: Servers,
    /// Whether domains not in `domains` use `default_servers`.
    pub default_server_for_all: bool,
    pub domains: BTreeMap<String, Servers>,
    pub tls: TlsSettings,
    pub pool: PoolConfig,
    pub session_idle: Duration,
    /// A session ends this long after login, however active.
    pub session_max_lifetime: Duration,
    /// Reverse proxies whose `X-Forwarded-For` gives the client's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub page_size: u32,
    /// The SMTP server's message size limit, in bytes.
    pub max_message_bytes: u64,
    /// Autosave period of the compose form, in seconds.
    pub autosave_secs: u32,
    /// How often a POP3 account is checked for new mail while one of its pages is open.
    pub pop3_check_interval: Duration,
    /// Log lines as JSON objects rather than text.
    pub log_json: bool,
    pub session_store: SessionBackend,
}

impl Config {
    /// The most attachment bytes a message may carry: base64 turns 3 bytes into 4 (plus line breaks),
    /// and the text and headers need room too, so a message accepted here is never refused for size.
    pub fn max_attachment_bytes(&self) -> u64 {
        let encoded_room = self.max_message_bytes.saturating_sub(256 * 1024);
        encoded_room / 4 * 3 * 76 / 78
    }
}

/// Why an address cannot log in here, before any server is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressProblem {
    /// Not of the form `local@domain`.
    Invalid,
    /// The domain is not served by this instance.
    UnknownDomain,
}

impl Config {
    /// Loads defaults, then `file` if given, then the environment.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = DEFAULTS
            .parse()
            .map_err(|e| err(format!("embedded defaults: {e}")))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
            let user: toml::Table = text
                .parse()
                .map_err(|e| err(format!("{}: {e}", path.display())))?;
            merge_file(&mut table, user, &path.display().to_string())?;
        }
        for (name, value) in env {
            apply_env(&mut table, &name, &value)?;
        }
        let raw: Raw = toml::Value::Table(table)
            .try_into()
            .map_err(|e| err(format!("{e}")))?;
        validate(raw)
    }

    /// The servers for a login address, or why it cannot be used.
    pub fn servers_for(&self, address: &str) -> Result<Servers, AddressProblem> {
        let domain = address_domain(address).ok_or(AddressProblem::Invalid)?;
        if let Some(s) = self.domains.get(&domain) {
            return Ok(s.clone());
        }
        if self.default_server_for_all {
            Ok(self.default_servers.clone())
        } else {
            Err(AddressProblem::UnknownDomain)
        }
    }

    /// True when the public URL is https (cookies get `Secure`).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The lower-cased domain of `local@domain`, if the address has that shape.
pub fn address_domain(address: &str) -> Option<String> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && domain.contains('.')
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    ok.then(|| domain.to_lowercase())
}

fn merge_file(base: &mut toml::Table, user: toml::Table, origin: &str) -> Result<(), ConfigError> {
    for (section, value) in user {
        let Some(toml::Value::Table(base_section)) = base.get_mut(&section) else {
            return Err(err(format!("{origin}: unknown section [{section}]")));
        };
        let toml::Value::Table(user_section) = value else {
            return Err(err(format!("{origin}: `{section}` must be a table")));
        };
        for (key, v) in user_section {
            if section == "domains" && key == "map" {
                base_section.insert(key, v);
                continue;
            }
            let Some(default) = base_section.get(&key) else {
                return Err(err(format!("{origin}: unknown key `{section}.{key}`")));
            };
            if default.type_str() != v.type_str() {
                return Err(err(format!(
                    "{origin}: `{section}.{key}` must be a {}, not a {}",
                    default.type_str(),
                    v.type_str()
                )));
            }
            base_section.insert(key, v);
        }
    }
    Ok(())
}

fn apply_env(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let Some(rest) = name.strip_prefix("COURRIER_") else {
        return Ok(());
    };
    if rest == "CONFIG" {
        return Ok(());
    }
    let rest = rest.to_ascii_lowercase();
    let Some((section, key)) = rest.split_once('_') else {
        return Err(err(format!(
            "{name}: not of the form COURRIER_<SECTION>_<KEY>"
        )));
    };
    let Some(toml::Value::Table(sec)) = table.get_mut(section) else {
        return Err(err(format!("{name}: unknown section `{section}`")));
    };
    let Some(default) = sec.get(key) else {
        return Err(err(format!("{name}: unknown key `{section}.{key}`")));
    };
    let v = match default {
        toml::Value::Integer(_) => toml::Value::Integer(
            value
                .trim()
                .parse()
                .map_err(|_| err(format!("{name}: expected a whole number, got {value:?}")))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(match value.trim() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                return Err(err(format!(
                    "{name}: expected true or false, got {value:?}"
                )));
            }
        }),
        _ => toml::Value::String(value.to_owned()),
    };
    sec.insert(key.to_owned(), v);
    Ok(())
}

fn validate(raw: Raw) -> Result<Config, ConfigError> {
    let listen: SocketAddr = raw.server.listen.parse().map_err(|_| {
        err(format!(
            "server.listen: {:?} is not an address:port such as 127.0.0.1:8080",
            raw.server.listen
        ))
    })?;
    let public_url = raw.server.public_url.trim_end_matches('/').to_owned();
    let scheme_ok = public_url.starts_with("http://") || public_url.starts_with("https://");
    let host_part = public_url.split("://").nth(1).unwrap_or("");
    if !scheme_ok || host_part.is_empty() || host_part.contains(char::is_whitespace) {
        return Err(err(format!(
            "server.public_url: {:?} is not an http:// or https:// URL",
            raw.server.public_url
        )));
    }
    let imap = endpoint("imap", &raw.imap.host, raw.imap.port, &raw.imap.security)?;
    let smtp = endpoint("smtp", &raw.smtp.host, raw.smtp.port, &raw.smtp.security)?;
    let pop3 = endpoint("pop3", &raw.pop3.host, raw.pop3.port, &raw.pop3.security)?;
    let default_protocols = protocols("domains.protocols", &raw.domains.protocols)?;
    let mut domains = BTreeMap::new();
    for (domain, d) in raw.domains.map {
        let key = |k: &str| format!("domains.map.\"{domain}\".{k}");
        let imap_s = endpoint(
            &key("imap"),
            d.imap_host.as_deref().unwrap_or(&imap.host),
            d.imap_port.unwrap_or(imap.port as i64),
            d.imap_security
                .as_deref()
                .unwrap_or(security_name(imap.security)),
        )?;
        let smtp_s = endpoint(
            &key("smtp"),
            d.smtp_host.as_deref().unwrap_or(&smtp.host),
            d.smtp_port.unwrap_or(smtp.port as i64),
            d.smtp_security
                .as_deref()
                .unwrap_or(security_name(smtp.security)),
        )?;
        let pop3_s = endpoint(
            &key("pop3"),
            d.pop3_host.as_deref().unwrap_or(&pop3.host),
            d.pop3_port.unwrap_or(pop3.port as i64),
            d.pop3_security
                .as_deref()
                .unwrap_or(security_name(pop3.security)),
        )?;
        let protocols = match &d.protocols {
            Some(p) => protocols(&key("protocols"), p)?,
            None => default_protocols,
        };
        domains.insert(
            domain.to_lowercase(),
            Servers {
                imap: imap_s,
                pop3: pop3_s,
                smtp: smtp_s,
                protocols,
            },
        );
    }
    let trusted_proxies = raw
        .server
        .trusted_proxies
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse().map_err(|_| {
                err(format!(
                    "server.trusted_proxies: {a:?} is not an IP address (list them separated by commas)"
                ))
            })
        })
        .collect::<Result<Vec<std::net::IpAddr>, _>>()?;
    let ca = raw.tls.ca_file.trim();
    let tls = tls_settings((!ca.is_empty()).then(|| Path::new(ca)))?;
    let positive = |name: &str, v: i64, max: i64| -> Result<u64, ConfigError> {
        if v < 1 || v > max {
            Err(err(format!("{name}: must be between 1 and {max}, got {v}")))
        } else {
            Ok(v as u64)
        }
    };
    let idle = positive("pool.idle_timeout_secs", raw.pool.idle_timeout_secs, 86_400)?;
    let session_mins = positive(
        "session.idle_timeout_mins",
        raw.session.idle_timeout_mins,
        60 * 24 * 30,
    )?;
    let pool = PoolConfig {
        max_per_user: positive("pool.max_per_user", raw.pool.max_per_user, 64)? as usize,
        max_total: positive("pool.max_total", raw.pool.max_total, 1_000_000)? as usize,
        idle_timeout: Duration::from_secs(idle),
        command_timeout: Duration::from_secs(positive(
            "pool.command_timeout_secs",
            raw.pool.command_timeout_secs,
            3600,
        )?),
        check_after: Duration::from_secs(5),
        account_ttl: Duration::from_secs(session_mins * 60),
    };
    Ok(Config {
        listen,
        public_url,
        data_dir: PathBuf::from(&raw.server.data_dir),
        metrics_listen: match raw.server.metrics_listen.trim() {
            "" => None,
            a => Some(a.parse().map_err(|_| {
                err(format!(
                    "server.metrics_listen: expected address:port, got {a:?}"
                ))
            })?),
        },
        secret_key_file: Some(raw.server.secret_key_file.trim())
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        default_servers: Servers {
            imap,
            pop3,
            smtp,
            protocols: default_protocols,
        },
        default_server_for_all: raw.domains.default_server,
        domains,
        tls,
        pool,
        session_idle: Duration::from_secs(session_mins * 60),
        session_max_lifetime: Duration::from_secs(
            positive(
                "session.max_lifetime_hours",
                raw.session.max_lifetime_hours,
                24 * 365,
            )? * 3600,
        ),
        trusted_proxies,
        page_size: positive("ui.page_size", raw.ui.page_size, 500)? as u32,
        autosave_secs: positive("ui.autosave_secs", raw.ui.autosave_secs, 3600)? as u32,
        pop3_check_interval: Duration::from_secs(positive(
            "pop3.check_interval_secs",
            raw.pop3.check_interval_secs,
            86_400,
        )?),
        max_message_bytes: positive("smtp.max_message_mb", raw.smtp.max_message_mb, 10_000)?
            * 1024
            * 1024,
        session_store: match raw.session.store.trim() {
            "embedded" => SessionBackend::Embedded,
            "redis" => {
                let url = raw.session.redis_url.trim();
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(err(format!(
                        "session.redis_url: expected redis://host:port/, got {url:?}"
                    )));
                }
                SessionBackend::Redis(url.to_owned())
            }
            other => {
                return Err(err(format!(
                    "session.store: expected embedded or redis, got {other:?}"
                )));
            }
        },
        log_json: match raw.log.format.trim() {
            "text" => false,
            "json" => true,
            other => {
                return Err(err(format!(
                    "log.format: expected text or json, got {other:?}"
                )));
            }
        },
    })
}

fn protocols(key: &str, value: &str) -> Result<Protocols, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "imap" => Ok(Protocols::Imap),
        "pop3" => Ok(Protocols::Pop3),
        "both" => Ok(Protocols::Both),
        other => Err(err(format!(
            "{key}: {other:?} is not one of imap, pop3, both"
        ))),
    }
}

fn security_name(s: Security) -> &'static str {
    match s {
        Security::Tls => "tls",
        Security::StartTls => "starttls",
        Security::None => "none",
    }
}

fn endpoint(section: &str, host: &str, port: i64, security: &str) -> Result<Server, ConfigError> {
    if host.trim().is_empty() || host.contains(char::is_whitespace) {
        return Err(err(format!("{section}.host: {host:?} is not a host name")));
    }
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| err(format!("{section}.port: {port} is not a port (1-65535)")))?;
    let security = match security.to_ascii_lowercase().as_str() {
        "tls" => Security::Tls,
        "starttls" => Security::StartTls,
        "none" => Security::None,
        other => {
            return Err(err(format!(
                "{section}.security: {other:?} is not one of tls, starttls, none"
            )));
        }
    };
    Ok(Server {
        host: host.trim().to_owned(),
        port,
        security,
    })
}

/// Public roots (webpki) plus, when given, the certificates of a CA file.
pub fn tls_settings(ca_file: Option<&Path>) -> Result<TlsSettings, ConfigError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut extra_ca_pem = None;
    if let Some(path) = ca_file {
        extra_ca_pem = Some(Arc::new(std::fs::read(path).map_err(|e| {
            err(format!("tls.ca_file: cannot read {}: {e}", path.display()))
        })?));
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| err(format!("tls.ca_file: cannot read {}: {e}", path.display())))?
            .collect::<Result<_, _>>()
            .map_err(|e| err(format!("tls.ca_file: {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(err(format!(
                "tls.ca_file: {} holds no PEM certificate",
                path.display()
            )));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| err(format!("tls.ca_file: {}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsSettings {
        config: Arc::new(config),
        extra_ca_pem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load_without_a_file() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.page_size, 50);
        assert_eq!(c.default_servers.imap.security, Security::StartTls);
    }

    #[test]
    fn environment_overrides_and_is_typed() {
        let c = Config::load(
            None,
            env(&[
                ("COURRIER_IMAP_HOST", "imap.example.org"),
                ("COURRIER_IMAP_PORT", "993"),
                ("COURRIER_IMAP_SECURITY", "tls"),
                ("COURRIER_SERVER_DATA_DIR", "/var/lib/courrier"),
                (
                    "COURRIER_SERVER_SECRET_KEY_FILE",
                    "/run/secrets/courrier.key",
                ),
                ("COURRIER_CONFIG", "/ignored"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.default_servers.imap.host, "imap.example.org");
        assert_eq!(c.default_servers.imap.port, 993);
        assert_eq!(c.default_servers.imap.security, Security::Tls);
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/courrier"));
        assert_eq!(
            c.secret_key_file,
            Some(PathBuf::from("/run/secrets/courrier.key"))
        );
        let default = Config::load(None, env(&[])).unwrap();
        assert_eq!(default.secret_key_file, None, "made in the data directory");
        assert!(!default.log_json);
        let json = Config::load(None, env(&[("COURRIER_LOG_FORMAT", "json")])).unwrap();
        assert!(json.log_json);
        assert!(Config::load(None, env(&[("COURRIER_LOG_FORMAT", "xml")])).is_err());
        assert_eq!(default.session_store, SessionBackend::Embedded);
        assert_eq!(default.metrics_listen, None, "metrics off by default");
        let m = Config::load(
            None,
            env(&[("COURRIER_SERVER_METRICS_LISTEN", "127.0.0.1:9180")]),
        )
        .unwrap();
        assert_eq!(m.metrics_listen, Some("127.0.0.1:9180".parse().unwrap()));
        assert!(Config::load(None, env(&[("COURRIER_SERVER_METRICS_LISTEN", "nowhere")])).is_err());
        let redis = Config::load(
            None,
            env(&[
                ("COURRIER_SESSION_STORE", "redis"),
                ("COURRIER_SESSION_REDIS_URL", "redis://10.0.0.5:6379/2"),
            ]),
        )
        .unwrap();
        assert_eq!(
            redis.session_store,
            SessionBackend::Redis("redis://10.0.0.5:6379/2".into())
        );
        assert!(Config::load(None, env(&[("COURRIER_SESSION_STORE", "memcached")])).is_err());
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::load(None, env(&[("COURRIER_IMAP_PORT", "abc")])).unwrap_err();
        assert!(e.to_string().contains("COURRIER_IMAP_PORT"), "{e}");
        let e = Config::load(None, env(&[("COURRIER_IMAP_SECURITY", "ssl")])).unwrap_err();
        assert!(e.to_string().contains("imap.security"), "{e}");
        let e = Config::load(None, env(&[("COURRIER_IMAP_HOTS", "x")])).unwrap_err();
        assert!(e.to_string().contains("imap.hots"), "{e}");
        let e = Config::load(None, env(&[("COURRIER_SERVER_LISTEN", "nowhere")])).unwrap_err();
        assert!(e.to_string().contains("server.listen"), "{e}");
        let e = Config::load(None, env(&[("COURRIER_TLS_CA_FILE", "/no/such.pem")])).unwrap_err();
        assert!(e.to_string().contains("tls.ca_file"), "{e}");
    }

    #[test]
    fn file_domains_map_and_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("courrier-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "[domains]\ndefault_server = false\n[domains.map.\"Example.ORG\"]\nimap_host = \"imap.example.org\"\nimap_port = 993\nimap_security = \"tls\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&f), env(&[])).unwrap();
        let s = c.servers_for("alice@example.org").unwrap();
        assert_eq!(s.imap.host, "imap.example.org");
        assert_eq!(s.smtp.host, "127.0.0.1");
        assert_eq!(
            c.servers_for("bob@other.test").unwrap_err(),
            AddressProblem::UnknownDomain
        );
        assert_eq!(
            c.servers_for("not-an-address").unwrap_err(),
            AddressProblem::Invalid
        );
        std::fs::write(&f, "[imap]\nhots = \"x\"\n").unwrap();
        let e = Config::load(Some(&f), env(&[])).unwrap_err();
        assert!(e.to_string().contains("imap.hots"), "{e}");
        std::fs::write(&f, "[imap]\nport = \"993\"\n").unwrap();
        let e = Config::load(Some(&f), env(&[])).unwrap_err();
        assert!(e.to_string().contains("imap.port"), "{e}");
    }
}
