//! Open Engine.IO sessions per client address, so one machine cannot take
//! every connection the server can hold.
//!
//! A handshake takes a [`Slot`] and leaves it in the request's extensions;
//! Engine.IO keeps the handshake request's parts for the session's whole
//! life and drops them with it. The slot gives its place back when it is
//! dropped, so no code path (a refused handshake, a transport error, a
//! shutdown) can forget to count a session out.

use axum::http::HeaderMap;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

/// Open sessions by client address, refused past `limit` (0: no limit).
pub struct ConnectionsPerIp {
    limit: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One open session's place in the count, given back when dropped.
/// Request extensions must be `Clone`; the place is given back when the
/// last clone goes.
#[derive(Clone)]
pub struct Slot {
    _taken: Arc<Taken>,
}

struct Taken {
    table: Arc<ConnectionsPerIp>,
    ip: IpAddr,
}

impl ConnectionsPerIp {
    pub fn new(limit: u32) -> Arc<Self> {
        Arc::new(Self { limit, open: Mutex::default() })
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Takes a place for `ip`, or `None` when it already has `limit`.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.lock();
        let count = open.entry(ip).or_default();
        if self.limit != 0 && *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Slot { _taken: Arc::new(Taken { table: Arc::clone(self), ip }) })
    }

    /// Sessions open from `ip` now.
    pub fn open(&self, ip: IpAddr) -> u32 {
        self.lock().get(&ip).copied().unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, u32>> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        let mut open = self.table.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The address a connection is counted under: the TCP peer, or with
/// `trust_proxy` the last address in `X-Forwarded-For` (the one the proxy
/// in front added; anything to its left is whatever the client claimed).
/// IPv6 addresses count per /64, the block one subscriber usually gets.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trust_proxy: bool) -> IpAddr {
    let forwarded = trust_proxy.then(|| last_forwarded_for(headers)).flatten();
    match forwarded.unwrap_or(peer).to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & u128::MAX << 64)),
        v4 => v4,
    }
}

fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    let hop = last.to_str().ok()?.rsplit(',').next()?.trim();
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).expect("a value"));
        }
        headers
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().expect("an address")
    }

    #[test]
    fn places_are_refused_past_the_limit_and_given_back_when_dropped() {
        let table = ConnectionsPerIp::new(2);
        let (a, b) = (table.admit(PEER), table.admit(PEER));
        assert!(a.is_some() && b.is_some());
        assert!(table.admit(PEER).is_none());
        assert!(table.admit(ip("10.0.0.1")).is_some(), "another address has its own places");
        let copy = a.clone();
        drop(a);
        assert!(table.admit(PEER).is_none(), "a clone still holds the place");
        drop(copy);
        assert!(table.admit(PEER).is_some());
    }

    #[test]
    fn a_limit_of_zero_admits_everyone() {
        let table = ConnectionsPerIp::new(0);
        let slots: Vec<_> = (0..1000).filter_map(|_| table.admit(PEER)).collect();
        assert_eq!(slots.len(), 1000);
        drop(slots);
        assert_eq!(table.open(PEER), 0);
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let headers = forwarded(&["203.0.113.9, 198.51.100.7"]);
        assert_eq!(client_ip(&headers, PEER, false), PEER);
        assert_eq!(client_ip(&headers, PEER, true), ip("198.51.100.7"));
        let headers = forwarded(&["203.0.113.9", "198.51.100.7:4711"]);
        assert_eq!(client_ip(&headers, PEER, true), ip("198.51.100.7"));
        assert_eq!(client_ip(&forwarded(&["garbage"]), PEER, true), PEER);
        assert_eq!(client_ip(&HeaderMap::new(), PEER, true), PEER);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let none = HeaderMap::new();
        assert_eq!(client_ip(&none, ip("2001:db8:1:2:aaaa::1"), false), ip("2001:db8:1:2::"));
        assert_eq!(client_ip(&none, ip("::ffff:192.0.2.1"), false), ip("192.0.2.1"));
    }
}
