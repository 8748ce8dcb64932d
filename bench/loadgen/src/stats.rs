//! What a load process counts: exact accounting windows with their latency
//! histograms, send tallies, failures by reason, and its own CPU time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Latencies are recorded in microseconds, from 1 µs to a minute, to three
/// significant figures.
const HIGHEST_US: u64 = 60_000_000;
/// Histograms per window: receivers record into the shard of their client
/// number, so the runtime's threads rarely wait for each other's lock.
const SHARDS: usize = 16;

/// A shard on cache lines of its own: neighbours in one line made the
/// threads' deliveries bounce it between cores (false sharing).
#[repr(align(128))]
struct Shard(Mutex<Histogram<u64>>);

/// Wall-clock milliseconds since the epoch, as the send stamps carry them
/// (the same clock as the harness's `performance.timeOrigin + now()`).
pub fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Failures counted by their reason, keeping reports short.
#[derive(Default)]
pub struct Tally(Mutex<HashMap<String, u64>>);

impl Tally {
    pub fn add(&self, reason: impl Into<String>) {
        let mut reasons = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *reasons.entry(reason.into()).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).values().sum()
    }

    pub fn to_json(&self) -> Value {
        json!(*self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Messages one `send` command sent and how their acks came back.
#[derive(Default)]
pub struct SendTally {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub failures: Tally,
}

/// An exact accounting window over send stamps `[from, to)`: the window's
/// messages this process sent, their acks, and every delivery of a window
/// message it received, however late, with its latency.
pub struct Window {
    pub from: f64,
    pub to: f64,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub failures: Tally,
    /// Every delivery's latency; their counts are the deliveries (no shared
    /// counter that every delivery on every thread would write).
    latency: Vec<Shard>,
    /// This process's CPU microseconds between `from` and `to`, once known.
    pub cpu_micros: Mutex<Option<f64>>,
}

impl Window {
    pub fn new(from: f64, to: f64) -> Self {
        let histogram =
            || Histogram::new_with_bounds(1, HIGHEST_US, 3).map(|h| Shard(Mutex::new(h)));
        Self {
            from,
            to,
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            failures: Tally::default(),
            latency: (0..SHARDS).filter_map(|_| histogram().ok()).collect(),
            cpu_micros: Mutex::new(None),
        }
    }

    pub fn covers(&self, stamp: f64) -> bool {
        stamp >= self.from && stamp < self.to
    }

    /// Counts one delivery of a window message sent at `stamp`.
    pub fn delivered(&self, stamp: f64, receiver: usize) {
        let micros = ((now_ms() - stamp) * 1000.0).clamp(1.0, HIGHEST_US as f64) as u64;
        if let Some(shard) = self.latency.get(receiver % SHARDS) {
            let mut histogram = shard.0.lock().unwrap_or_else(|e| e.into_inner());
            histogram.saturating_record(micros);
        }
    }

    /// The window so far, as run.mjs reads it: the histogram as
    /// `[milliseconds, count]` pairs (each value the middle of its HDR bucket).
    pub fn to_json(&self) -> Value {
        let mut merged = Histogram::<u64>::new_with_bounds(1, HIGHEST_US, 3).ok();
        for shard in &self.latency {
            if let Some(all) = merged.as_mut() {
                let _ = all.add(&*shard.0.lock().unwrap_or_else(|e| e.into_inner()));
            }
        }
        let received = merged.as_ref().map_or(0, Histogram::len);
        let histogram: Vec<Value> = merged
            .iter()
            .flat_map(|h| {
                h.iter_recorded().map(|v| {
                    json!([
                        h.median_equivalent(v.value_iterated_to()) as f64 / 1000.0,
                        v.count_at_value()
                    ])
                })
            })
            .collect();
        let cpu = *self.cpu_micros.lock().unwrap_or_else(|e| e.into_inner());
        json!({
            "sent": self.sent.load(Ordering::Relaxed),
            "acked": self.acked.load(Ordering::Relaxed),
            "received": received,
            "failures": self.failures.to_json(),
            "histogram": histogram,
            "cpuMicros": cpu,
        })
    }
}

/// CPU time this process has used (user + system), in microseconds, from
/// /proc/self/stat (clock ticks of 1/100 s, Linux's fixed USER_HZ).
pub fn cpu_micros() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let Some((_, fields)) = stat.rsplit_once(") ") else { return 0.0 };
    let ticks: f64 = fields.split(' ').skip(11).take(2).filter_map(|f| f.parse::<f64>().ok()).sum();
    ticks * 10_000.0
}
