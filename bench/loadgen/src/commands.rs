//! The commands run.mjs sends (see main.rs for the wire format).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{Client, Shared, Watch};
use crate::stats::{SendTally, Tally, Window, cpu_micros, now_ms};

/// How long a `send` waits for the acks still out after its last send.
const ACK_GRACE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Generator {
    clients: RwLock<Vec<Arc<Client>>>,
    shared: Arc<Shared>,
    /// CPU microseconds when the `measure` period began.
    measure_cpu: Mutex<f64>,
}

type Reply = Result<Value, String>;

impl Generator {
    pub async fn run(&self, command: &str, args: &Value) -> Reply {
        match command {
            "connect" => self.connect(args).await,
            "join" => self.join(args).await,
            "watched" => Ok(self.watched()),
            "counts" => Ok(self.counts(args)),
            "window" => Ok(self.window(args)),
            "windowResult" => self.window_result(),
            "measure" => Ok(self.measure(args)),
            "send" => self.send(args).await,
            "reconnect" => self.reconnect(args).await,
            "seqReport" => Ok(self.seq_report()),
            "seqCheck" => Ok(self.seq_check(args)),
            "stats" => Ok(self.stats()),
            "close" => Ok(self.close()),
            other => Err(format!("unknown command {other:?}")),
        }
    }

    /// Clients whose global number is in `args.range` ([lo, hi)), every
    /// `args.stride`-th from lo (1: all).
    fn in_range(&self, args: &Value) -> Vec<Arc<Client>> {
        let range = args.get("range");
        let bound = |i: usize| range.and_then(|r| r.get(i)?.as_u64()).map(|n| n as usize);
        let (lo, hi) = (bound(0).unwrap_or(0), bound(1).unwrap_or(usize::MAX));
        let stride = args.get("stride").and_then(Value::as_u64).unwrap_or(1).max(1) as usize;
        let clients = self.clients.read().unwrap_or_else(|e| e.into_inner());
        clients
            .iter()
            .filter(|c| c.global >= lo && c.global < hi && (c.global - lo) % stride == 0)
            .cloned()
            .collect()
    }

    /// Connects clients `first` … `first + count - 1`, client i to
    /// `urls[i % urls.len()]` from source address 127.0.0.(1 + i % sources):
    /// one source address runs out of ports near 28,000 connections.
    async fn connect(&self, args: &Value) -> Reply {
        let urls: Vec<SocketAddr> = args
            .get("urls")
            .and_then(Value::as_array)
            .ok_or("connect: urls missing")?
            .iter()
            .map(|u| address_of(u.as_str().unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        let first = uint(args, "first", 0) as usize;
        let count = uint(args, "count", 0) as usize;
        let sources = uint(args, "sources", 8).clamp(1, 250) as usize;
        let concurrency = uint(args, "concurrency", 100) as usize;
        let failures = Tally::default();
        let started = now_ms();
        let fresh: Vec<Arc<Client>> = (first..first + count)
            .filter_map(|global| {
                let addr = *urls.get(global % urls.len().max(1))?;
                let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (global % sources) as u8));
                Some(Arc::new(Client::new(global, addr, source)))
            })
            .collect();
        let connected: Vec<Arc<Client>> = stream::iter(fresh)
            .map(|client| async move {
                let result = client.connect(&self.shared).await;
                (client, result)
            })
            .buffer_unordered(concurrency.max(1))
            .filter_map(|(client, result)| {
                let kept = match result {
                    Ok(()) => Some(client),
                    Err(error) => {
                        failures.add(error);
                        None
                    }
                };
                async move { kept }
            })
            .collect()
            .await;
        let mut clients = self.clients.write().unwrap_or_else(|e| e.into_inner());
        clients.extend(connected);
        clients.sort_by_key(|c| c.global);
        Ok(
            json!({ "connected": clients.len(), "failures": failures.to_json(), "ms": now_ms() - started }),
        )
    }

    /// Joins clients in `range` to `room`, or to `r<global / groupSize>`.
    /// `watch: { global, target }` makes that client note when its presence
    /// count reaches the target; `track` starts the seq log of each client.
    async fn join(&self, args: &Value) -> Reply {
        if let Some(watch) = args.get("watch") {
            let watched = uint(watch, "global", 0) as usize;
            *self.shared.watch.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(Watch { target: uint(watch, "target", 0), reached_at: None });
            for client in self.clients.read().unwrap_or_else(|e| e.into_inner()).iter() {
                client.watching.store(client.global == watched, Ordering::Relaxed);
            }
        }
        let room = args.get("room").and_then(Value::as_str).map(str::to_owned);
        let group = uint(args, "groupSize", 1).max(1) as usize;
        let track = args.get("track").and_then(Value::as_bool).unwrap_or(false);
        let concurrency =
            args.get("concurrency").and_then(Value::as_u64).map(|n| n.max(1) as usize);
        let failures = Tally::default();
        let outcomes: Vec<Option<(f64, u64)>> = stream::iter(self.in_range(args))
            .map(|client| {
                let room = room.clone().unwrap_or_else(|| format!("r{}", client.global / group));
                let failures = &failures;
                async move {
                    *client.room.lock().unwrap_or_else(|e| e.into_inner()) = Some(room.clone());
                    join_one(&client, &room, track, false).await.map_err(|e| failures.add(e)).ok()
                }
            })
            .buffer_unordered(concurrency.unwrap_or(usize::MAX))
            .collect()
            .await;
        let done: Vec<(f64, u64)> = outcomes.into_iter().flatten().collect();
        Ok(json!({
            "joined": done.len(),
            "failures": failures.to_json(),
            "lastAckAt": done.iter().map(|d| d.0).fold(0.0, f64::max),
            "maxCount": done.iter().map(|d| d.1).max().unwrap_or(0),
        }))
    }

    fn watched(&self) -> Value {
        let watch = self.shared.watch.lock().unwrap_or_else(|e| e.into_inner());
        json!({ "reachedAt": watch.as_ref().and_then(|w| w.reached_at) })
    }

    /// How many clients in range last heard their room's count as `target`.
    fn counts(&self, args: &Value) -> Value {
        let target = uint(args, "target", 0);
        let clients = self.in_range(args);
        let right = clients.iter().filter(|c| c.count.load(Ordering::Relaxed) == target).count();
        json!({ "right": right, "clients": clients.len() })
    }

    /// Opens an exact accounting window over send stamps [from, to) (epoch
    /// ms, a little in the future so every process hears of it first), and
    /// notes this process's CPU time between the two.
    fn window(&self, args: &Value) -> Value {
        let from = args.get("from").and_then(Value::as_f64).unwrap_or(0.0);
        let to = args.get("to").and_then(Value::as_f64).unwrap_or(0.0);
        let late = now_ms() > from;
        let window = Arc::new(Window::new(from, to));
        *self.shared.window.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&window));
        self.shared.windows_changed();
        tokio::spawn(async move {
            tokio::time::sleep(until(from)).await;
            let cpu0 = cpu_micros();
            tokio::time::sleep(until(to)).await;
            *window.cpu_micros.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(cpu_micros() - cpu0);
        });
        json!({ "late": late })
    }

    fn window_result(&self) -> Reply {
        let window = self.shared.window.read().unwrap_or_else(|e| e.into_inner()).clone();
        window.map(|w| w.to_json()).ok_or_else(|| "no window opened".into())
    }

    /// Starts (`on: true`) or ends a plain measuring period: deliveries,
    /// sends and latency of everything in between, and this process's CPU.
    fn measure(&self, args: &Value) -> Value {
        let mut slot = self.shared.measure.write().unwrap_or_else(|e| e.into_inner());
        if args.get("on").and_then(Value::as_bool).unwrap_or(false) {
            *slot = Some(Arc::new(Window::new(f64::MIN, f64::MAX)));
            self.shared.windows_changed();
            *self.measure_cpu.lock().unwrap_or_else(|e| e.into_inner()) = cpu_micros();
            return json!({});
        }
        let Some(measured) = slot.take() else { return json!({ "error": "not measuring" }) };
        self.shared.windows_changed();
        let cpu = cpu_micros() - *self.measure_cpu.lock().unwrap_or_else(|e| e.into_inner());
        let result = measured.to_json();
        json!({
            "deliveries": result["received"],
            "sentMeasured": result["sent"],
            "unstamped": 0,
            "histogram": result["histogram"],
            "cpuMicros": cpu,
        })
    }

    /// Clients in range each send `rate` messages a second for `ms`, open
    /// loop (not waiting for acks), from random phases so they don't burst.
    /// Sends are scheduled by absolute time: a busy runtime delays them but
    /// then catches up, so the offered rate holds.
    async fn send(&self, args: &Value) -> Reply {
        let rate = args
            .get("rate")
            .and_then(Value::as_f64)
            .filter(|r| *r > 0.0)
            .ok_or("send: rate missing")?;
        let until_at = Instant::now() + Duration::from_millis(uint(args, "ms", 0));
        let size = uint(args, "size", 64) as usize;
        let period = Duration::from_secs_f64(1.0 / rate);
        let tally = Arc::new(SendTally::default());
        let senders: Vec<_> = self
            .in_range(args)
            .into_iter()
            .enumerate()
            .map(|(i, client)| {
                let (tally, shared) = (Arc::clone(&tally), Arc::clone(&self.shared));
                // A spread of phases without a random number generator.
                let phase = period.mul_f64((i as f64 * 0.618_033_988_7).fract());
                tokio::spawn(async move {
                    let mut next = Instant::now() + phase;
                    loop {
                        tokio::time::sleep_until(next.into()).await;
                        let now = Instant::now();
                        if now >= until_at {
                            break;
                        }
                        while next <= now {
                            client.send_message(size, &tally, &shared);
                            next += period;
                        }
                    }
                })
            })
            .collect();
        for sender in senders {
            let _ = sender.await;
        }
        let answered = || tally.acked.load(Ordering::Relaxed) + tally.failures.total();
        let deadline = Instant::now() + ACK_GRACE;
        while answered() < tally.sent.load(Ordering::Relaxed) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sent = tally.sent.load(Ordering::Relaxed);
        let late = sent.saturating_sub(answered());
        let mut failures = tally.failures.to_json();
        if late > 0 {
            failures["no ack within 5 s of the last send"] = json!(late);
        }
        Ok(
            json!({ "sent": sent, "acked": tally.acked.load(Ordering::Relaxed), "failures": failures }),
        )
    }

    /// The reconnect storm: every client in range drops its connection at
    /// once (no close frame, no disconnect packet), connects again with its
    /// token and re-joins its room with `since` its last seen seq.
    async fn reconnect(&self, args: &Value) -> Reply {
        let clients = self.in_range(args);
        let dropped_at = now_ms();
        clients.iter().for_each(|c| c.drop_connection());
        let failures = Tally::default();
        let outcomes: Vec<Option<f64>> = stream::iter(clients)
            .map(|client| {
                let failures = &failures;
                async move {
                    let rejoined = async {
                        client.connect(&self.shared).await?;
                        let room = client.room().ok_or("no room to re-join")?;
                        join_one(&client, &room, true, true).await.map(|(at, _)| at)
                    };
                    rejoined.await.map_err(|e| failures.add(e)).ok()
                }
            })
            .buffer_unordered(uint(args, "concurrency", 10_000).max(1) as usize)
            .collect()
            .await;
        let acks: Vec<f64> = outcomes.into_iter().flatten().collect();
        Ok(json!({
            "droppedAt": dropped_at,
            "rejoined": acks.len(),
            "lastAckAt": acks.iter().copied().fold(0.0, f64::max),
            "failures": failures.to_json(),
        }))
    }

    /// The highest seq any tracking client saw, per room.
    fn seq_report(&self) -> Value {
        let mut rooms: HashMap<String, u64> = HashMap::new();
        for client in self.clients.read().unwrap_or_else(|e| e.into_inner()).iter() {
            let Some(room) = client.room() else { continue };
            let Some(log) =
                client.seqs.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|l| l.since())
            else {
                continue;
            };
            let top = rooms.entry(room).or_default();
            *top = (*top).max(log);
        }
        json!({ "rooms": rooms })
    }

    /// Checks every tracking client against `max` (room → highest seq):
    /// it must have seen each seq after its first join exactly once.
    fn seq_check(&self, args: &Value) -> Value {
        let (mut clients, mut missing, mut doubled) = (0u64, 0u64, 0u64);
        let mut examples: Vec<String> = Vec::new();
        for client in self.clients.read().unwrap_or_else(|e| e.into_inner()).iter() {
            let Some(room) = client.room() else { continue };
            let seqs = client.seqs.lock().unwrap_or_else(|e| e.into_inner());
            let Some(log) = seqs.as_ref() else { continue };
            let top =
                args.get("max").and_then(|m| m.get(&room)).and_then(Value::as_u64).unwrap_or(0);
            let lacking = (log.base + 1..=top).filter(|s| !log.seen.contains(s)).count() as u64;
            if (lacking > 0 || log.doubled > 0) && examples.len() < 3 {
                examples.push(format!(
                    "c{} in {room}: {lacking} missing, {} doubled",
                    client.global, log.doubled
                ));
            }
            clients += 1;
            missing += lacking;
            doubled += log.doubled;
        }
        json!({ "clients": clients, "missing": missing, "doubled": doubled, "examples": examples })
    }

    fn stats(&self) -> Value {
        let clients = self.clients.read().unwrap_or_else(|e| e.into_inner());
        let open = clients.iter().filter(|c| c.open.load(Ordering::Relaxed)).count();
        json!({ "open": open, "disconnects": self.shared.disconnects.to_json() })
    }

    fn close(&self) -> Value {
        self.clients.read().unwrap_or_else(|e| e.into_inner()).iter().for_each(|c| c.close());
        json!({})
    }
}

/// What the bench reads of a join ack. The members (`users`, `you`) are
/// skipped: the count says how many there are.
#[derive(Deserialize)]
struct JoinAck {
    #[serde(default)]
    ok: bool,
    #[serde(default)]
    count: u64,
    error: Option<AckError>,
    #[serde(default)]
    history: Vec<Seqd>,
}

#[derive(Deserialize)]
struct AckError {
    code: String,
}

#[derive(Deserialize)]
struct Seqd {
    seq: Option<u64>,
}

/// Joins `room` (with `since` on a re-join); resolves with when the ack
/// came and the room's count in it.
async fn join_one(
    client: &Client,
    room: &str,
    track: bool,
    rejoin: bool,
) -> Result<(f64, u64), String> {
    let since = if rejoin {
        client.seqs.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|l| l.since())
    } else {
        None
    };
    let mut payload = json!({ "room": room, "name": format!("c{}", client.global) });
    if let Some(since) = since {
        payload["since"] = json!(since);
    }
    let ack: JoinAck = client.request("join", &payload).await?;
    if !ack.ok {
        let code = ack.error.map_or_else(|| "no code".to_string(), |e| e.code);
        return Err(format!("join refused: {code}"));
    }
    let at = now_ms();
    let count = ack.count;
    // A presence event may have come before the ack; the larger is the later.
    client.count.fetch_max(count, Ordering::Relaxed);
    if track {
        let history: Vec<u64> = ack.history.iter().filter_map(|m| m.seq).collect();
        client.track(&history, since);
    }
    Ok((at, count))
}

fn uint(args: &Value, key: &str, default: u64) -> u64 {
    args.get(key).and_then(Value::as_u64).unwrap_or(default)
}

/// `http://127.0.0.1:3000` → 127.0.0.1:3000.
fn address_of(url: &str) -> Result<SocketAddr, String> {
    let rest = url.split("://").last().unwrap_or(url);
    let host = rest.split('/').next().unwrap_or(rest);
    host.parse().map_err(|e| format!("bad server url {url}: {e}"))
}

/// How long until `epoch_ms` (zero if past).
fn until(epoch_ms: f64) -> Duration {
    Duration::from_secs_f64(((epoch_ms - now_ms()) / 1000.0).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::first_arg;

    #[test]
    fn a_join_ack_yields_its_count_and_history_seqs_past_its_members() {
        let ack = r#"[{"ok":true,"room":"r","you":{"id":"a","name":"c1"},"users":[{"id":"a","name":"c1"},{"id":"b","name":"c2"}],"count":2,"history":[{"id":9,"seq":4,"text":"hi"},{"id":10,"seq":5}],"hasMore":false}]"#;
        let ack: JoinAck = first_arg(ack).expect("a join ack");
        assert!(ack.ok);
        assert_eq!(ack.count, 2);
        assert_eq!(ack.history.iter().filter_map(|m| m.seq).collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn a_refused_join_yields_its_code() {
        let ack = r#"[{"ok":false,"error":{"code":"name_taken","message":"that name is taken"}}]"#;
        let ack: JoinAck = first_arg(ack).expect("a refusal");
        assert!(!ack.ok);
        assert_eq!(ack.error.map(|e| e.code).as_deref(), Some("name_taken"));
    }

    #[test]
    fn an_ack_that_is_not_one_argument_is_an_error() {
        assert!(first_arg::<JoinAck>("[]").is_err());
        assert!(first_arg::<JoinAck>(r#"[{"ok":true},{"ok":true}]"#).is_err());
        assert!(first_arg::<JoinAck>(r#"{"ok":true}"#).is_err());
    }
}
