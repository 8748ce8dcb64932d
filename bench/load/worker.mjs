// One load-generator process (forked by run.mjs), holding up to a few
// thousand connections: a process may open at most 20,000 files, and one
// Node thread is one core, so the harness spreads clients over several.
// It obeys commands sent over IPC, `{ id, cmd, ...args }`, and answers each
// with `{ id, ...result }`. Clients are numbered globally (`offset + i`) so
// the harness can pick senders, rooms and the presence watcher by number.
import { Client, STAMP, now } from "./client.mjs";

/** Latency histogram: 0.1 ms buckets up to 10 s, then one overflow bucket. */
const BUCKETS = 100_000;

const clients = []; // { client, global, room }
let offset = 0;
let measuring = false;
let cpuAtStart; // process.cpuUsage() when measuring began
let deliveries = 0;
let sentMeasured = 0; // messages this process sent while measuring
let unstamped = 0;
let latency = new Uint32Array(BUCKETS + 1);
const disconnects = new Map(); // reason -> count
let watched; // { global, target, reachedAt } for the join storm
/**
 * An exact accounting window (see the `window` command): messages whose
 * send stamp is in [from, to), counted where they were sent and wherever
 * they arrive, however late, so expected and received deliveries can be
 * compared one for one.
 */
let win = null;

function onMessage(stamp) {
  if (win && stamp >= win.from && stamp < win.to) {
    win.received += 1;
    win.latency[Math.min(Math.max(Math.floor((now() - stamp) * 10), 0), BUCKETS)] += 1;
  }
  if (!measuring) return;
  deliveries += 1;
  if (Number.isNaN(stamp)) {
    unstamped += 1;
    return;
  }
  const bucket = Math.floor((now() - stamp) * 10);
  latency[Math.min(Math.max(bucket, 0), BUCKETS)] += 1;
}

function onClose(reason) {
  disconnects.set(reason, (disconnects.get(reason) ?? 0) + 1);
}

/** Runs `task(item)` over `items` with at most `limit` in flight. */
async function pool(items, limit, task) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** Counts failures by message, keeping the report short. */
function tally(failures, error) {
  const key = String(error?.message ?? error).slice(0, 120);
  failures[key] = (failures[key] ?? 0) + 1;
}

const countOf = (failures) => Object.values(failures).reduce((a, b) => a + b, 0);

const inRange = ([lo, hi]) => clients.filter((c) => c.global >= lo && c.global < hi);

const commands = {
  /** Connects clients first … first+count-1, client i to urls[i % urls.length]. */
  async connect({ urls, first, count, concurrency }) {
    offset = first;
    const failures = {};
    const slots = Array.from({ length: count }, (_, i) => first + i);
    const started = now();
    await pool(slots, concurrency, async (global) => {
      const handlers = { onMessage, onClose };
      const client = new Client(urls[global % urls.length], handlers);
      try {
        await client.ready;
        clients.push({ client, global, handlers });
      } catch (error) {
        tally(failures, error);
      }
    });
    return { connected: clients.length, failures, ms: now() - started };
  },

  /** Joins clients [lo, hi) to `room` (one room) or to `r<global / groupSize>`. */
  async join({ range, room, groupSize, concurrency, watch }) {
    if (watch) {
      watched = { ...watch, reachedAt: null };
      const entry = clients.find((c) => c.global === watch.global);
      if (entry) {
        entry.handlers.onPresence = (p) => {
          if (watched.reachedAt === null && p.count >= watched.target) watched.reachedAt = now();
        };
      }
    }
    const failures = {};
    let joined = 0;
    let lastAckAt = 0;
    let maxCount = 0;
    await pool(inRange(range), concurrency ?? Infinity, async (entry) => {
      entry.room = room ?? `r${Math.floor(entry.global / groupSize)}`;
      try {
        const ack = await entry.client.request("join", { room: entry.room, name: `c${entry.global}` });
        if (!ack.ok) throw new Error(`join refused: ${ack.error.code}`);
        joined += 1;
        lastAckAt = Math.max(lastAckAt, now());
        maxCount = Math.max(maxCount, ack.count);
      } catch (error) {
        tally(failures, error);
      }
    });
    return { joined, failures, lastAckAt, maxCount };
  },

  /** When (epoch ms) the watched client saw the target count, or null. */
  watched() {
    return { reachedAt: watched?.reachedAt ?? null };
  },

  /**
   * Opens an exact accounting window over send stamps [from, to) (epoch
   * ms, set a little in the future so every worker hears of it first):
   * this process counts the window's messages it sends, their acks, and
   * every delivery of a window message it receives, whenever it arrives.
   * Also notes this process's CPU use between `from` and `to`.
   */
  window({ from, to }) {
    const late = now() > from;
    win = { from, to, sent: 0, acked: 0, failures: {}, received: 0, latency: new Uint32Array(BUCKETS + 1) };
    const opened = win;
    setTimeout(() => {
      opened.cpu0 = process.cpuUsage();
      setTimeout(() => {
        const cpu = process.cpuUsage(opened.cpu0);
        opened.cpuMicros = cpu.user + cpu.system;
      }, to - now());
    }, from - now());
    return { late };
  },

  /** What the window has counted so far. */
  windowResult() {
    const histogram = [];
    win.latency.forEach((n, bucket) => n && histogram.push([(bucket + 0.5) / 10, n]));
    const { sent, acked, failures, received, cpuMicros } = win;
    return { sent, acked, failures, received, histogram, cpuMicros: cpuMicros ?? NaN };
  },

  measure({ on }) {
    if (on) {
      deliveries = 0;
      sentMeasured = 0;
      unstamped = 0;
      latency = new Uint32Array(BUCKETS + 1);
      measuring = true;
      cpuAtStart = process.cpuUsage();
      return {};
    }
    measuring = false;
    const cpu = process.cpuUsage(cpuAtStart);
    // Sparse [milliseconds, count] pairs (each bucket's middle): the full
    // array is mostly zeros. The Rust load generator answers in the same form.
    const histogram = [];
    latency.forEach((n, bucket) => n && histogram.push([(bucket + 0.5) / 10, n]));
    // CPU microseconds: tells whether this load process was the bottleneck.
    return { deliveries, sentMeasured, unstamped, histogram, cpuMicros: cpu.user + cpu.system };
  },

  /**
   * Clients [lo, hi) each send `rate` messages a second for `ms`, open loop
   * (not waiting for acks), starting at random phases so they don't burst.
   * Sends are scheduled by absolute time: a busy event loop delays them but
   * then catches up, so the offered rate holds.
   */
  async send({ range, rate, ms }) {
    const failures = {};
    let sent = 0;
    let acked = 0;
    const pending = [];
    const period = 1000 / rate;
    const until = now() + ms;
    const sendOne = (entry) => {
      sent += 1;
      if (measuring) sentMeasured += 1;
      const t = now();
      const text = `${STAMP}${t}@ from c${entry.global}`;
      // The window this message counts in, if any.
      const counted = win && t >= win.from && t < win.to ? win : null;
      if (counted) counted.sent += 1;
      pending.push(
        entry.client.request("message", { room: entry.room, text }).then(
          (ack) => {
            if (ack.ok) {
              acked += 1;
              if (counted) counted.acked += 1;
            } else {
              tally(failures, `refused: ${ack.error.code}`);
              if (counted) tally(counted.failures, `refused: ${ack.error.code}`);
            }
          },
          (error) => {
            tally(failures, error);
            if (counted) tally(counted.failures, error);
          },
        ),
      );
    };
    const sender = (entry) =>
      new Promise((done) => {
        let next = now() + Math.random() * period;
        const run = () => {
          const t = now();
          if (t >= until || !entry.client.open) return done();
          for (; next <= t; next += period) sendOne(entry);
          setTimeout(run, next - t);
        };
        setTimeout(run, next - now());
      });
    await Promise.all(inRange(range).map(sender));
    // Give outstanding acks a moment; a server that is far behind won't make it.
    const settled = await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 5000, "late"))]);
    if (settled === "late") failures["no ack within 5 s of the last send"] = sent - acked - countOf(failures);
    return { sent, acked, failures };
  },

  stats() {
    return {
      open: clients.filter((c) => c.client.open).length,
      disconnects: Object.fromEntries(disconnects),
    };
  },

  close() {
    for (const { client } of clients) client.close();
    setTimeout(() => process.exit(0), 200);
    return {};
  },
};

process.on("message", async ({ id, cmd, ...args }) => {
  try {
    process.send({ id, ...(await commands[cmd](args)) });
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error) });
  }
});
