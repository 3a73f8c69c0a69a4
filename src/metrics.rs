//! What an operator watches, in the Prometheus text format, served on a listener of its own
//! (`server.metrics_listen`, off by default) so that it never faces users. One set of metrics per
//! process, reachable from wherever the event happens (a request, an IMAP command, a login, a
//! send, a download). Labels are bounded: a route is its pattern (`/mail/{folder}`), never the
//! path asked for; an IMAP command is its name, never its arguments.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabels {
    pub command: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    pub http: Histograms<RouteLabels>,
    pub imap_commands: Histograms<CommandLabels>,
    pub logins: Family<OutcomeLabels, Counter>,
    pub sends: Family<OutcomeLabels, Counter>,
    pub pop3_downloaded: Counter,
    pub throttled_logins: Counter,
    pub event_streams: Gauge,
    pub session_store_errors: Counter,
    pub imap_connections: Family<StateLabels, Gauge>,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("courrier");
        let m = Metrics {
            http: Family::new_with_constructor(latency as fn() -> Histogram),
            imap_commands: Family::new_with_constructor(latency as fn() -> Histogram),
            logins: Family::default(),
            sends: Family::default(),
            pop3_downloaded: Counter::default(),
            throttled_logins: Counter::default(),
            event_streams: Gauge::default(),
            session_store_errors: Counter::default(),
            imap_connections: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route pattern, method and status",
            m.http.clone(),
        );
        registry.register(
            "imap_command_duration_seconds",
            "Time for an IMAP command to complete, by command name",
            m.imap_commands.clone(),
        );
        // Counter names get their `_total` from the library.
        registry.register(
            "logins",
            "Logins to the mail server, ok or failed",
            m.logins.clone(),
        );
        registry.register(
            "sends",
            "Messages submitted over SMTP, ok or failed",
            m.sends.clone(),
        );
        registry.register(
            "pop3_downloaded_messages",
            "Messages downloaded from POP3 servers",
            m.pop3_downloaded.clone(),
        );
        registry.register(
            "throttled_logins",
            "Login attempts refused for too many failures",
            m.throttled_logins.clone(),
        );
        registry.register(
            "event_streams_open",
            "Live-update streams open to browsers",
            m.event_streams.clone(),
        );
        registry.register(
            "session_store_errors",
            "Requests that found the session store unavailable",
            m.session_store_errors.clone(),
        );
        registry.register(
            "imap_connections",
            "Pooled IMAP connections: open (idle or in use), idle, and requests waiting for one",
            m.imap_connections.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Counts an outcome (`ok` / `failed`) in `family`.
    pub fn outcome(family: &Family<OutcomeLabels, Counter>, ok: bool) {
        family
            .get_or_create(&OutcomeLabels {
                outcome: if ok { "ok" } else { "failed" },
            })
            .inc();
    }

    /// Records how long an IMAP command took; `line` is the command as sent (only its name, with
    /// `UID ` kept, becomes a label).
    pub fn imap_command(&self, line: &str, took: Duration) {
        let mut words = line.split_ascii_whitespace();
        let first = words.next().unwrap_or("").to_ascii_uppercase();
        let command = if first == "UID" {
            format!("UID {}", words.next().unwrap_or("").to_ascii_uppercase())
        } else {
            first
        };
        // Only letters: a name, never an argument.
        let command: String = command
            .chars()
            .filter(|c| c.is_ascii_alphabetic() || *c == ' ')
            .take(24)
            .collect();
        self.imap_commands
            .get_or_create(&CommandLabels { command })
            .observe(took.as_secs_f64());
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_labels_are_names_only() {
        let m = metrics();
        m.imap_command("UID FETCH 1:* (FLAGS)", Duration::from_millis(3));
        m.imap_command("LOGIN alice secret", Duration::from_millis(3));
        m.imap_command("select \"INBOX\"", Duration::from_millis(3));
        let text = m.encode();
        assert!(text.contains("command=\"UID FETCH\""), "{text}");
        assert!(text.contains("command=\"LOGIN\""), "{text}");
        assert!(text.contains("command=\"SELECT\""), "{text}");
        assert!(
            !text.contains("secret") && !text.contains("INBOX"),
            "{text}"
        );
        Metrics::outcome(&m.logins, true);
        assert!(m.encode().contains("courrier_logins_total{outcome=\"ok\"}"));
    }
}
