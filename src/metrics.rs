//! Counters for `/metrics`, in Prometheus text format. Plain atomics: they
//! sit on the hot path of every delivery.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the delivery lag histogram, in seconds.
const LAG_BUCKETS: [f64; 10] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// Every error code of the contract, in the order `/metrics` lists them.
pub const ERROR_CODES: [&str; 14] = [
    "invalid_room",
    "invalid_name",
    "name_taken",
    "not_in_room",
    "invalid_message",
    "too_large",
    "rate_limited",
    "bad_request",
    "unavailable",
    "forbidden",
    "not_found",
    "invalid_reaction",
    "unsupported",
    "invalid_query",
];

/// Connections closed because they could not keep up (process-wide: the
/// fan-out that closes them sits below any one server's state).
pub static SLOW_CONSUMERS_CLOSED: AtomicU64 = AtomicU64::new(0);

/// Requests the HTTP edge refused (`http::edge`), by reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpRefusal {
    Origin,
    ConnectionsPerIp,
    BodyTooLarge,
    UriTooLong,
    HeadersTooLarge,
    /// A request head not received within the request timeout (the
    /// connection is closed; `http::serve`).
    HeadTimeout,
    /// A polling body not received within the request timeout (408).
    BodyTimeout,
}

impl HttpRefusal {
    const ALL: [Self; 7] = [
        Self::Origin,
        Self::ConnectionsPerIp,
        Self::BodyTooLarge,
        Self::UriTooLong,
        Self::HeadersTooLarge,
        Self::HeadTimeout,
        Self::BodyTimeout,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Origin => "origin",
            Self::ConnectionsPerIp => "connections_per_ip",
            Self::BodyTooLarge => "body_too_large",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "headers_too_large",
            Self::HeadTimeout => "head_timeout",
            Self::BodyTimeout => "body_timeout",
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    pub connections: AtomicI64,
    pub messages_stored: AtomicU64,
    pub deliveries: AtomicU64,
    errors: [AtomicU64; ERROR_CODES.len()],
    lag_buckets: [AtomicU64; LAG_BUCKETS.len()],
    lag_count: AtomicU64,
    lag_sum_micros: AtomicU64,
    /// Gaps in a room's stream filled from the database.
    pub gap_reads: AtomicU64,
    /// Rooms this process's stream follows, and the bytes their tails hold.
    pub followed_rooms: AtomicI64,
    pub tail_bytes: AtomicI64,
    pub cluster: ClusterMetrics,
    http_refusals: [AtomicU64; HttpRefusal::ALL.len()],
}

/// The process's view of its cluster; rendered only in cluster mode.
#[derive(Default)]
pub struct ClusterMetrics {
    pub enabled: AtomicBool,
    pub redis_connected: AtomicBool,
    pub heartbeats: AtomicU64,
    pub redis_reconnects: AtomicU64,
    pub publish_failures: AtomicU64,
    pub nodes_reaped: AtomicU64,
}

impl Metrics {
    pub fn error(&self, code: &str) {
        if let Some(i) = ERROR_CODES.iter().position(|c| *c == code) {
            self.errors[i].fetch_add(1, Relaxed);
        }
    }

    pub fn http_refused(&self, refusal: HttpRefusal) {
        self.http_refusals[refusal as usize].fetch_add(1, Relaxed);
    }

    /// Records the time from a message's arrival to its fan-out.
    pub fn delivery_lag(&self, lag: Duration) {
        let secs = lag.as_secs_f64();
        if let Some(i) = LAG_BUCKETS.iter().position(|b| secs <= *b) {
            self.lag_buckets[i].fetch_add(1, Relaxed);
        }
        self.lag_count.fetch_add(1, Relaxed);
        self.lag_sum_micros.fetch_add(lag.as_micros() as u64, Relaxed);
    }

    /// Renders every metric; `users` and `rooms` come from presence.
    pub fn render(&self, users: usize, rooms: usize) -> String {
        let mut out = String::with_capacity(2048);
        gauge(
            &mut out,
            "connections",
            "Open Socket.IO connections.",
            self.connections.load(Relaxed),
        );
        gauge(&mut out, "users", "Distinct users present in any room.", users as i64);
        gauge(&mut out, "rooms", "Rooms with anyone in them.", rooms as i64);
        gauge(
            &mut out,
            "followed_rooms",
            "Rooms whose order this process keeps (rooms its connections are or were in).",
            self.followed_rooms.load(Relaxed),
        );
        gauge(
            &mut out,
            "room_tail_bytes",
            "Bytes the rooms' tails (their newest messages, kept for joins) hold.",
            self.tail_bytes.load(Relaxed),
        );
        counter(
            &mut out,
            "messages_stored_total",
            "Messages committed.",
            self.messages_stored.load(Relaxed),
        );
        counter(
            &mut out,
            "deliveries_total",
            "Messages sent to connections.",
            self.deliveries.load(Relaxed),
        );
        counter(
            &mut out,
            "slow_consumers_closed_total",
            "Connections closed at the transport because they could not keep up.",
            SLOW_CONSUMERS_CLOSED.load(Relaxed),
        );
        self.render_errors(&mut out);
        self.render_http_refusals(&mut out);
        self.render_lag(&mut out);
        if self.cluster.enabled.load(Relaxed) {
            self.render_cluster(&mut out);
        }
        out
    }

    fn render_cluster(&self, out: &mut String) {
        let c = &self.cluster;
        let connected = i64::from(c.redis_connected.load(Relaxed));
        gauge(out, "cluster_redis_connected", "1 while Redis answers.", connected);
        counter(
            out,
            "cluster_heartbeats_total",
            "Heartbeats written to Redis.",
            c.heartbeats.load(Relaxed),
        );
        counter(
            out,
            "cluster_redis_reconnects_total",
            "Times the Redis link came back.",
            c.redis_reconnects.load(Relaxed),
        );
        counter(
            out,
            "cluster_publish_failures_total",
            "Publishes to Redis that failed (peers fill the gap from the database).",
            c.publish_failures.load(Relaxed),
        );
        counter(
            out,
            "cluster_nodes_reaped_total",
            "Dead processes whose users this process removed.",
            c.nodes_reaped.load(Relaxed),
        );
        counter(
            out,
            "cluster_gap_reads_total",
            "Gaps in a room's message order filled from the database.",
            self.gap_reads.load(Relaxed),
        );
    }

    fn render_errors(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP baatchit_errors_total Error acks sent, by code.");
        let _ = writeln!(out, "# TYPE baatchit_errors_total counter");
        for (code, count) in ERROR_CODES.iter().zip(&self.errors) {
            let _ =
                writeln!(out, "baatchit_errors_total{{code=\"{code}\"}} {}", count.load(Relaxed));
        }
    }

    fn render_http_refusals(&self, out: &mut String) {
        let name = "baatchit_http_refused_total";
        let _ =
            writeln!(out, "# HELP {name} Requests refused before reaching Socket.IO, by reason.");
        let _ = writeln!(out, "# TYPE {name} counter");
        for (refusal, count) in HttpRefusal::ALL.iter().zip(&self.http_refusals) {
            let reason = refusal.label();
            let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {}", count.load(Relaxed));
        }
    }

    fn render_lag(&self, out: &mut String) {
        let name = "baatchit_delivery_lag_seconds";
        let _ = writeln!(out, "# HELP {name} Time from a message's arrival to its fan-out.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in LAG_BUCKETS.iter().zip(&self.lag_buckets) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let total = self.lag_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let sum = self.lag_sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {total}");
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: i64) {
    let _ = writeln!(out, "# HELP baatchit_{name} {help}\n# TYPE baatchit_{name} gauge");
    let _ = writeln!(out, "baatchit_{name} {value}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP baatchit_{name} {help}\n# TYPE baatchit_{name} counter");
    let _ = writeln!(out, "baatchit_{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_counted_by_code() {
        let metrics = Metrics::default();
        metrics.error("name_taken");
        metrics.error("name_taken");
        assert!(metrics.render(0, 0).contains("baatchit_errors_total{code=\"name_taken\"} 2"));
    }

    #[test]
    fn http_refusals_are_counted_by_reason() {
        let metrics = Metrics::default();
        metrics.http_refused(HttpRefusal::ConnectionsPerIp);
        let text = metrics.render(0, 0);
        assert!(text.contains("baatchit_http_refused_total{reason=\"connections_per_ip\"} 1"));
        assert!(text.contains("baatchit_http_refused_total{reason=\"origin\"} 0"));
    }

    #[test]
    fn lag_lands_in_every_bucket_at_or_above_it() {
        let metrics = Metrics::default();
        metrics.delivery_lag(Duration::from_millis(3));
        let text = metrics.render(0, 0);
        assert!(text.contains("le=\"0.002\"} 0"));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 1"));
    }
}
