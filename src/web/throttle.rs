//! Login throttling, per client address and per account: a few free attempts, then an exponentially
//! growing wait (capped), forgotten an hour after the last failure. The real owner is never locked
//! out for ever: the waits are bounded, and an address from which the account logged in before is
//! not held back by failures on that account from elsewhere (only by its own address's count).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failures allowed before waits begin.
const FREE_PER_ACCOUNT: u32 = 5;
const FREE_PER_ADDRESS: u32 = 20;
/// The longest wait.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failures older than this are forgotten.
const MEMORY: Duration = Duration::from_secs(3600);
/// How long an address stays known for an account after a successful login.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// When the next attempt is allowed, given the free attempts.
    fn allowed_at(&self, free: u32) -> Option<Instant> {
        if self.count < free || self.last.elapsed() >= MEMORY {
            return None;
        }
        let exp = (self.count - free).min(20);
        let wait = Duration::from_secs(1u64 << exp).min(MAX_WAIT);
        Some(self.last + wait)
    }
}

#[derive(Default)]
struct State {
    accounts: HashMap<String, Failures>,
    addresses: HashMap<IpAddr, Failures>,
    /// (account, address) pairs that logged in, and when.
    known: HashMap<(String, IpAddr), Instant>,
}

/// The login throttle shared by all requests.
#[derive(Clone, Default)]
pub struct Throttle {
    state: Arc<Mutex<State>>,
}

fn account_key(address: &str) -> String {
    address.trim().to_lowercase()
}

impl Throttle {
    /// `Err(wait)` when this attempt must wait, `Ok` when it may go to the mail server.
    pub fn check(&self, address: &str, from: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let account = account_key(address);
        let known = st
            .known
            .get(&(account.clone(), from))
            .is_some_and(|t| t.elapsed() < KNOWN_FOR);
        let mut until = st
            .addresses
            .get(&from)
            .and_then(|f| f.allowed_at(FREE_PER_ADDRESS));
        if !known
            && let Some(t) = st
                .accounts
                .get(&account)
                .and_then(|f| f.allowed_at(FREE_PER_ACCOUNT))
        {
            until = Some(until.map_or(t, |u| u.max(t)));
        }
        match until {
            Some(t) if t > now => Err((t - now).max(Duration::from_secs(1))),
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt (wrong password).
    pub fn failed(&self, address: &str, from: IpAddr) {
        let now = Instant::now();
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let bump = |f: &mut Failures| {
            if f.last.elapsed() >= MEMORY {
                f.count = 0;
            }
            f.count += 1;
            f.last = now;
        };
        let fresh = Failures {
            count: 0,
            last: now,
        };
        bump(st.accounts.entry(account_key(address)).or_insert(fresh));
        bump(st.addresses.entry(from).or_insert(fresh));
        if st.accounts.len() + st.addresses.len() > 100_000 {
            st.accounts.retain(|_, f| f.last.elapsed() < MEMORY);
            st.addresses.retain(|_, f| f.last.elapsed() < MEMORY);
        }
    }

    /// A successful login: the account's failures are forgiven and the address is known for it.
    pub fn succeeded(&self, address: &str, from: IpAddr) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let account = account_key(address);
        st.accounts.remove(&account);
        if st.known.len() > 100_000 {
            st.known.retain(|_, t| t.elapsed() < KNOWN_FOR);
        }
        st.known.insert((account, from), Instant::now());
    }
}

/// The client's address: the peer's, or when the peer is one of the `trusted` proxies, the nearest
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(chain) = forwarded_for else {
        return peer;
    };
    chain
        .split(',')
        .rev()
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_account_waits_after_five_failures_and_a_known_address_does_not() {
        let t = Throttle::default();
        let (home, attacker) = (ip("192.0.2.1"), ip("198.51.100.7"));
        t.succeeded("Alice@Example.org", home);
        for _ in 0..FREE_PER_ACCOUNT {
            assert!(t.check("alice@example.org", attacker).is_ok());
            t.failed("alice@example.org", attacker);
        }
        let wait = t.check("alice@example.org", attacker).unwrap_err();
        assert!(
            wait >= Duration::from_secs(1) && wait <= MAX_WAIT,
            "{wait:?}"
        );
        assert!(
            t.check("alice@example.org", ip("203.0.113.9")).is_err(),
            "the account waits from any new address"
        );
        assert!(
            t.check("ALICE@example.org", home).is_ok(),
            "but not from where its owner logged in before"
        );
        assert!(
            t.check("bob@example.org", attacker).is_ok(),
            "other accounts unaffected"
        );
    }

    #[test]
    fn waits_grow_and_are_capped() {
        let f = |count| {
            Failures {
                count,
                last: Instant::now(),
            }
            .allowed_at(5)
            .map(|t| t.saturating_duration_since(Instant::now()).as_secs())
        };
        assert_eq!(f(4), None);
        assert!(f(5).unwrap() <= 1);
        assert!((3..=4).contains(&f(7).unwrap()));
        assert!(f(60).unwrap() <= MAX_WAIT.as_secs());
        assert!(f(60).unwrap() >= MAX_WAIT.as_secs() - 1);
    }

    #[test]
    fn an_address_is_held_back_after_many_failures_across_accounts() {
        let t = Throttle::default();
        let a = ip("2001:db8::1");
        for i in 0..FREE_PER_ADDRESS {
            t.failed(&format!("user{i}@example.org"), a);
        }
        assert!(t.check("new@example.org", a).is_err());
        assert!(t.check("new@example.org", ip("2001:db8::2")).is_ok());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy = ip("10.0.0.2");
        let trusted = [proxy];
        let xff = Some("203.0.113.50, 10.0.0.2");
        assert_eq!(client_address(proxy, xff, &trusted), ip("203.0.113.50"));
        assert_eq!(
            client_address(ip("198.51.100.1"), xff, &trusted),
            ip("198.51.100.1"),
            "anyone else's header is ignored"
        );
        assert_eq!(
            client_address(proxy, Some("1.2.3.4, 203.0.113.50"), &trusted),
            ip("203.0.113.50"),
            "the nearest untrusted hop, not a value the client chose"
        );
        assert_eq!(client_address(proxy, Some("junk"), &trusted), proxy);
        assert_eq!(client_address(proxy, None, &trusted), proxy);
    }
}
