// Loopback benchmark: baat-chit (Rust, release build) against a Node.js
// Socket.IO baseline (bench/baseline/server.mjs), driven by the same load
// generator (bench/load/). Not part of the test suite.
//
//   node bench/run.mjs [--reps 3] [--duration 10] [--scenarios fanout,rooms,idle,storm] ...
//   node bench/run.mjs --help
//
// Every run starts a fresh server, so runs don't inherit each other's
// memory or history. Servers alternate within each repetition, so drift in
// the (shared, noisy) machine hits both alike. Prints and writes medians.
import { execFileSync, fork, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const BENCH = import.meta.dirname;
const ROOT = resolve(BENCH, "..");

const { values: opt } = parseArgs({
  options: {
    reps: { type: "string", default: "3" },
    duration: { type: "string", default: "10" }, // measured seconds per run
    warmup: { type: "string", default: "2" }, // seconds of load before measuring
    servers: { type: "string", default: "rust,node" },
    scenarios: { type: "string", default: "fanout,rooms,idle,storm" },
    "fanout-clients": { type: "string", default: "1000" },
    "fanout-senders": { type: "string", default: "4" },
    "fanout-rate": { type: "string", default: "10" }, // messages/s per sender
    rooms: { type: "string", default: "1000" },
    "room-size": { type: "string", default: "10" },
    "room-rate": { type: "string", default: "0.2" }, // messages/s per client
    "idle-clients": { type: "string", default: "5000" },
    "storm-clients": { type: "string", default: "2000" },
    "per-worker": { type: "string", default: "5000" }, // connections per load process
    "min-workers": { type: "string", default: "2" }, // one per core
    "no-build": { type: "boolean", default: false },
    out: { type: "string", default: join(BENCH, "results", "latest.md") },
    help: { type: "boolean", default: false },
  },
});
if (opt.help) {
  console.log(readFileSync(join(BENCH, "README.md"), "utf8"));
  process.exit(0);
}
if (!existsSync(join(BENCH, "node_modules", "ws"))) {
  console.error("bench dependencies missing: run `npm ci --prefix bench` (or `make -C bench`)");
  process.exit(1);
}
const num = (name) => Number(opt[name]);
const REPS = num("reps");
const DURATION = num("duration") * 1000;
const WARMUP = num("warmup") * 1000;
const RUST_BIN = process.env.BAATCHIT_BIN ?? join(ROOT, "target", "release", "baat-chit");
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString()) || 100;

/** Whole-machine CPU seconds so far: { busy, steal } (from /proc/stat). */
function machineCpu() {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8")
    .split("\n")[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { busy: (user + nice + system + irq + softirq) / CLK_TCK, steal: steal / CLK_TCK };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- servers

/** The server's limits, all turned off: the load is many people, and one generator speaks for them all. */
const LIMITS_OFF = [
  "--rate-limit", "0",
  "--user-rate-limit", "0",
  "--join-rate-limit", "0",
  "--max-rooms-per-connection", "0",
  "--typing-interval-ms", "0",
  // Every client comes from loopback.
  "--max-connections-per-ip", "0",
];

/** Starts one server on a free loopback port; resolves once it says where. */
async function startServer(kind) {
  const dir = mkdtempSync(join(tmpdir(), "baat-chit-bench-"));
  const [command, args, env] =
    kind === "rust"
      ? [
          RUST_BIN,
          ["--listen", "127.0.0.1:0", "--database", `sqlite://${dir}/bench.db`, ...LIMITS_OFF],
          { RUST_LOG: "warn" },
        ]
      : [process.execPath, ["--max-old-space-size=4096", join(BENCH, "baseline", "server.mjs")], {}];
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let logs = "";
  child.stderr.on("data", (chunk) => (logs += chunk));
  const exited = new Promise((done) => child.once("exit", (code, signal) => done({ code, signal })));
  const url = await new Promise((found, fail) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) found(match[1]);
    });
    exited.then(({ code }) => fail(new Error(`${kind} server exited (${code}) before listening:\n${logs}`)));
  });
  const proc = (file) => readFileSync(`/proc/${child.pid}/${file}`, "utf8");
  return {
    kind,
    url,
    /** Resident memory, KiB. */
    rssKiB: () => Number(/VmRSS:\s+(\d+)/.exec(proc("status"))[1]),
    /** CPU seconds used so far (user + system). */
    cpuSeconds: () => {
      const fields = proc("stat").split(") ")[1].split(" ");
      return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
    },
    /**
     * baat-chit's own delivery-lag counters (arrival to fan-out, so commit
     * included), as { count, sum } seconds; null for the Node baseline.
     */
    async lag() {
      if (kind !== "rust") return null;
      const text = await (await fetch(`${url}/metrics`)).text();
      const read = (name) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
      return { count: read("baatchit_delivery_lag_seconds_count"), sum: read("baatchit_delivery_lag_seconds_sum") };
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    /** Warnings and errors it logged, without colours and timestamps. */
    problems: () =>
      logs
        .replace(/\x1b\[[0-9;]*m/g, "")
        .split("\n")
        .filter((line) => /\b(WARN|ERROR)\b|Error|error/.test(line))
        .map((line) => line.replace(/^\S+Z\s+/, "").trim()),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      const result = await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}

// ---------------------------------------------------------- load workers

/** Forks enough workers for `total` clients; each knows its slice. */
function startWorkers(total) {
  const perWorker = num("per-worker");
  const count = Math.max(num("min-workers"), Math.ceil(total / perWorker));
  const size = Math.ceil(total / count);
  return Array.from({ length: count }, (_, i) => {
    const child = fork(join(BENCH, "load", "worker.mjs"), [], { execArgv: ["--max-old-space-size=2048"] });
    const waiting = new Map();
    let nextId = 0;
    child.on("message", ({ id, ...reply }) => waiting.get(id)?.(reply));
    child.on("exit", (code) => {
      for (const answer of waiting.values()) answer({ error: `worker exited (${code})` });
    });
    const first = i * size;
    return {
      first,
      count: Math.max(0, Math.min(size, total - first)),
      /** Sends a command and resolves with its answer (throws on error/timeout). */
      call(cmd, args = {}, timeoutMs = 120_000) {
        const id = nextId++;
        return new Promise((ok, fail) => {
          const timer = setTimeout(() => fail(new Error(`worker: ${cmd} timed out`)), timeoutMs);
          waiting.set(id, (reply) => {
            clearTimeout(timer);
            waiting.delete(id);
            reply.error ? fail(new Error(reply.error)) : ok(reply);
          });
          child.send({ id, cmd, ...args });
        });
      },
      kill: () => child.kill("SIGKILL"),
    };
  });
}

/** Runs one command on every worker at once; resolves with all answers. */
const all = (workers, cmd, args, timeoutMs) => Promise.all(workers.map((w) => w.call(cmd, args, timeoutMs)));

/** Connects each worker's slice; returns how many connected and notes if not all. */
async function connectAll(workers, url, total, notes) {
  const replies = await Promise.all(
    workers.map((w) => w.call("connect", { url, first: w.first, count: w.count, concurrency: 100 }, 300_000)),
  );
  const connected = replies.reduce((n, r) => n + r.connected, 0);
  if (connected < total) notes.push(`only ${connected} of ${total} clients connected: ${fmtFailures(replies)}`);
  return { connected, ms: Math.max(...replies.map((r) => r.ms)) };
}

async function joinAll(workers, args, total, notes) {
  const replies = await all(workers, "join", args, 300_000);
  const joined = replies.reduce((n, r) => n + r.joined, 0);
  if (joined < total) notes.push(`only ${joined} of ${total} joins succeeded: ${fmtFailures(replies)}`);
  return replies;
}

function fmtFailures(replies) {
  const merged = {};
  for (const { failures = {} } of replies) {
    for (const [why, n] of Object.entries(failures)) merged[why] = (merged[why] ?? 0) + n;
  }
  return Object.entries(merged).map(([why, n]) => `${n}× ${why}`).join("; ") || "no error reported";
}

/** Notes disconnects the clients saw, and problems the server logged. */
async function checkHealth(workers, server, expectedOpen, notes) {
  const stats = await all(workers, "stats");
  const open = stats.reduce((n, s) => n + s.open, 0);
  if (open < expectedOpen) {
    const reasons = {};
    for (const { disconnects } of stats) {
      for (const [why, n] of Object.entries(disconnects)) reasons[why] = (reasons[why] ?? 0) + n;
    }
    const list = Object.entries(reasons).map(([why, n]) => `${n}× ${why}`).join("; ");
    notes.push(`${expectedOpen - open} of ${expectedOpen} connections were lost (${list})`);
  }
  if (!server.alive()) notes.push("the server process died");
  // Group lines that differ only in numbers and ids; show the first of each.
  const groups = new Map();
  for (const line of server.problems()) {
    const key = line.replace(/sid=\S+/g, "").replace(/[\d.]+/g, "#");
    const group = groups.get(key) ?? { first: line, n: 0 };
    group.n += 1;
    groups.set(key, group);
  }
  for (const { first, n } of [...groups.values()].slice(0, 5)) {
    notes.push(`server logged ${n}× \`${first.slice(0, 200)}\``);
  }
}

// ---------------------------------------------------------------- metrics

/** Merges sparse [bucket, count] histograms (0.1 ms buckets) and reads a percentile. */
function percentile(histograms, p) {
  const merged = new Map();
  for (const h of histograms) for (const [bucket, n] of h) merged.set(bucket, (merged.get(bucket) ?? 0) + n);
  const sorted = [...merged].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  if (total === 0) return NaN;
  let seen = 0;
  for (const [bucket, n] of sorted) {
    seen += n;
    if (seen >= total * p) return (bucket + 0.5) / 10;
  }
  return NaN;
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Steady load: `range` clients send at `rate`/s each; measures deliveries
 * and latency over the window after the warm-up, plus the server's CPU.
 */
async function measureLoad(workers, server, range, rate) {
  const sending = all(workers, "send", { range, rate, ms: WARMUP + DURATION + 500 }, 300_000);
  await sleep(WARMUP);
  await all(workers, "measure", { on: true });
  const lag0 = await server.lag();
  const cpu0 = server.cpuSeconds();
  const machine0 = machineCpu();
  const t0 = now();
  await sleep(DURATION);
  const results = await all(workers, "measure", { on: false });
  const seconds = (now() - t0) / 1000;
  const cpu = ((server.cpuSeconds() - cpu0) / seconds) * 100;
  const machine1 = machineCpu();
  // What neither the server nor the load generator used: other tenants of
  // this shared machine, which make a run noisy.
  const loadTotal = results.reduce((n, r) => n + r.cpuMicros / 1e4 / seconds, 0);
  const others = ((machine1.busy - machine0.busy) / seconds) * 100 - cpu - loadTotal;
  const steal = ((machine1.steal - machine0.steal) / seconds) * 100;
  const lag1 = await server.lag();
  // Mean time a message spent inside the server before its fan-out.
  const serverLag = lag0 ? ((lag1.sum - lag0.sum) / (lag1.count - lag0.count)) * 1000 : NaN;
  const sent = await sending;
  const histograms = results.map((r) => r.histogram);
  const loadCpu = Math.max(...results.map((r) => r.cpuMicros / 1e4 / seconds));
  return {
    deliveriesPerSec: results.reduce((n, r) => n + r.deliveries, 0) / seconds,
    sentPerSec: results.reduce((n, r) => n + r.sentMeasured, 0) / seconds,
    p50: percentile(histograms, 0.5),
    p99: percentile(histograms, 0.99),
    max: percentile(histograms, 1),
    cpu,
    others,
    steal,
    serverLag,
    // The busiest load process, in % of one core: near 100 means the load
    // generator, not the server, set the pace.
    loadCpu,
    sent: sent.reduce((n, r) => n + r.sent, 0),
    acked: sent.reduce((n, r) => n + r.acked, 0),
    sendFailures: fmtFailures(sent),
  };
}

/**
 * Waits until the server is nearly idle (under 10% of a core for 250 ms),
 * at most 15 s: the presence traffic of a thousand joins must not spill
 * into the measurement.
 */
async function settle(server) {
  const deadline = now() + 15_000;
  let last = server.cpuSeconds();
  while (now() < deadline) {
    await sleep(250);
    const cpu = server.cpuSeconds();
    if (cpu - last < 0.025) return;
    last = cpu;
  }
}

/** Notes what kept a load run from being a clean measurement of the server. */
function noteLoad(load, nominalSends, roomSize, notes) {
  if (load.sentPerSec < nominalSends * 0.95) {
    notes.push(`the senders managed ${Math.round(load.sentPerSec)} messages/s of ${nominalSends}/s`);
  }
  // Each message goes to everyone in its room but the sender.
  const offered = load.sentPerSec * (roomSize - 1);
  if (load.deliveriesPerSec < offered * 0.95) {
    notes.push(`delivered ${Math.round(load.deliveriesPerSec)}/s of ${Math.round(offered)}/s sent (${Math.round((100 * load.deliveriesPerSec) / offered)}%)`);
  }
  if (load.acked < load.sent) {
    notes.push(`${load.sent - load.acked} of ${load.sent} sends not acked ok: ${load.sendFailures}`);
  }
  if (load.others > 20 || load.steal > 5) {
    notes.push(
      `noisy: other processes used ${Math.round(load.others)}% of a core and the hypervisor stole ${Math.round(load.steal)}% during the window`,
    );
  }
  if (load.loadCpu > 85) {
    notes.push(`a load process used ${Math.round(load.loadCpu)}% of a core: the client side may have set the pace`);
  }
}

// -------------------------------------------------------------- scenarios
// Each takes a started server and returns { metrics: { name: value }, notes }.

const SCENARIOS = {
  fanout: {
    title: () => `fan-out: 1 room × ${opt["fanout-clients"]} clients, ${opt["fanout-senders"]} senders × ${opt["fanout-rate"]} msg/s`,
    clients: () => num("fanout-clients"),
    async run(server, workers, notes) {
      const n = num("fanout-clients");
      const senders = num("fanout-senders");
      await connectAll(workers, server.url, n, notes);
      await joinAll(workers, { range: [0, n], room: "fanout", concurrency: 50 }, n, notes);
      await settle(server);
      const load = await measureLoad(workers, server, [0, senders], num("fanout-rate"));
      noteLoad(load, senders * num("fanout-rate"), n, notes);
      await checkHealth(workers, server, n, notes);
      return {
        "deliveries/s": load.deliveriesPerSec,
        "latency p50 (ms)": load.p50,
        "latency p99 (ms)": load.p99,
        "latency max (ms)": load.max,
        "server-side lag mean (ms)": load.serverLag,
        "server CPU (%)": load.cpu,
        "(load generator) busiest process CPU (%)": load.loadCpu,
      };
    },
  },

  rooms: {
    title: () => `many rooms: ${opt.rooms} rooms × ${opt["room-size"]} clients, each ${opt["room-rate"]} msg/s`,
    clients: () => num("rooms") * num("room-size"),
    async run(server, workers, notes) {
      const size = num("room-size");
      const n = num("rooms") * size;
      await connectAll(workers, server.url, n, notes);
      await joinAll(workers, { range: [0, n], groupSize: size, concurrency: 100 }, n, notes);
      await settle(server);
      const load = await measureLoad(workers, server, [0, n], num("room-rate"));
      noteLoad(load, n * num("room-rate"), size, notes);
      await checkHealth(workers, server, n, notes);
      return {
        "deliveries/s": load.deliveriesPerSec,
        "stored (acked) msg/s": load.acked / ((WARMUP + DURATION + 500) / 1000),
        "latency p50 (ms)": load.p50,
        "latency p99 (ms)": load.p99,
        "server-side lag mean (ms)": load.serverLag,
        "server CPU (%)": load.cpu,
        "(load generator) busiest process CPU (%)": load.loadCpu,
      };
    },
  },

  idle: {
    title: () => `idle memory: ${opt["idle-clients"]} connected clients, no rooms`,
    clients: () => num("idle-clients"),
    async run(server, workers, notes) {
      const n = num("idle-clients");
      await sleep(1000);
      const before = server.rssKiB();
      const { connected } = await connectAll(workers, server.url, n, notes);
      await sleep(3000); // let allocations settle (Node's GC, Rust's allocator)
      const after = server.rssKiB();
      await checkHealth(workers, server, n, notes);
      return {
        "RSS per connection (KiB)": (after - before) / connected,
        "RSS with all connected (MiB)": after / 1024,
      };
    },
  },

  storm: {
    title: () => `join storm: ${opt["storm-clients"]} clients join one room at once`,
    clients: () => num("storm-clients"),
    async run(server, workers, notes) {
      const n = num("storm-clients");
      await connectAll(workers, server.url, n, notes);
      // Client 0 joins first and watches presence until the count reaches n.
      await joinAll(workers, { range: [0, 1], room: "storm" }, 1, notes);
      const t0 = now();
      const replies = await joinAll(
        workers,
        { range: [1, n], room: "storm", watch: { global: 0, target: n } },
        n - 1,
        notes,
      );
      const lastAck = Math.max(...replies.map((r) => r.lastAckAt));
      const watcher = workers.find((w) => w.first === 0);
      let reachedAt = null;
      while (reachedAt === null && now() - t0 < 60_000) {
        ({ reachedAt } = await watcher.call("watched"));
        if (reachedAt === null) await sleep(20);
      }
      if (reachedAt === null) notes.push(`the first joiner's count never reached ${n} within 60 s`);
      await checkHealth(workers, server, n, notes);
      return {
        "all join acks (s)": (lastAck - t0) / 1000,
        [`count reaches ${n} (s)`]: reachedAt === null ? NaN : (reachedAt - t0) / 1000,
      };
    },
  },
};

/** Lower is better for times, latency, memory and CPU; higher for rates. */
const higherIsBetter = (metric) => /\/s\b/.test(metric) && !/\(s\)/.test(metric);

// ------------------------------------------------------------------- main

const fmt = (x) =>
  !Number.isFinite(x) ? "n/a" : Math.abs(x) >= 100 ? Math.round(x).toLocaleString("en-US") : x.toPrecision(3);

async function runOnce(name, kind) {
  const scenario = SCENARIOS[name];
  const notes = [];
  const server = await startServer(kind);
  const workers = startWorkers(scenario.clients());
  try {
    const metrics = await scenario.run(server, workers, notes);
    return { metrics, notes };
  } catch (error) {
    notes.push(`run failed: ${error.message.split("\n")[0]}`);
    return { metrics: {}, notes };
  } finally {
    await Promise.allSettled(workers.map((w) => w.call("close", {}, 5000)));
    workers.forEach((w) => w.kill());
    await server.stop();
  }
}

async function main() {
  const servers = opt.servers.split(",");
  const scenarios = opt.scenarios.split(",");
  for (const s of scenarios) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${s}`);
  if (servers.includes("rust") && !opt["no-build"] && !process.env.BAATCHIT_BIN) {
    console.log("building the release binary (cargo build --release)…");
    execFileSync("cargo", ["build", "--release", "--quiet"], { cwd: ROOT, stdio: "inherit" });
  }
  // Read now, not at the end: the report must name what was built and measured.
  const commit = commitOf();
  const started = Date.now();
  const rows = [];
  const allNotes = [];
  for (const name of scenarios) {
    console.log(`\n## ${SCENARIOS[name].title()}`);
    const values = {}; // metric -> kind -> [value per rep]
    for (let rep = 1; rep <= REPS; rep++) {
      for (const kind of servers) {
        const { metrics, notes } = await runOnce(name, kind);
        for (const [metric, value] of Object.entries(metrics)) {
          ((values[metric] ??= {})[kind] ??= []).push(value);
        }
        const summary = Object.entries(metrics).map(([m, v]) => `${m} ${fmt(v)}`).join(", ");
        console.log(`  rep ${rep} ${kind.padEnd(4)}: ${summary || "no result"}`);
        for (const note of notes) {
          console.log(`    ! ${note}`);
          allNotes.push(`${name}, ${kind}, rep ${rep}: ${note}`);
        }
      }
    }
    for (const [metric, byKind] of Object.entries(values)) {
      const rust = median(byKind.rust ?? []);
      const node = median(byKind.node ?? []);
      rows.push({ scenario: SCENARIOS[name].title(), metric, rust, node, ratio: rust / node });
    }
  }
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  if (commitOf() !== commit) allNotes.push(`the work tree changed during the run (now ${commitOf()})`);
  report(rows, allNotes, minutes, commit);
}

/** The commit being measured, and whether src/ differs from it. */
function commitOf() {
  try {
    const git = (...args) => execFileSync("git", args, { cwd: ROOT }).toString().trim();
    return git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--", "src") ? " + uncommitted src/ changes" : "");
  } catch {
    return "unknown";
  }
}

function report(rows, notes, minutes, commit) {
  const header = [
    "| scenario | metric | Rust median | Node median | Rust/Node |",
    "|---|---|---:|---:|---:|",
  ];
  const lines = rows.map(
    (r) =>
      `| ${r.scenario} | ${r.metric} (${higherIsBetter(r.metric) ? "higher" : "lower"} is better) | ${fmt(r.rust)} | ${fmt(r.node)} | ${fmt(r.ratio)} |`,
  );
  const md = [
    "# Baat-Chit benchmark: Rust server vs Node.js Socket.IO baseline",
    "",
    `Run ${new Date().toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, commit ${commit}; took ${minutes} min.`,
    `Command: \`node bench/run.mjs ${process.argv.slice(2).join(" ")}\`. Medians of ${REPS} repetitions; ${DURATION / 1000} s measured after ${WARMUP / 1000} s of warm-up per load run; loopback only.`,
    "",
    `Rust: \`target/release/baat-chit ${LIMITS_OFF.join(" ")}\`, SQLite in a temp dir (every message committed before its ack).`,
    "Node: `bench/baseline/server.mjs`, socket.io 4 with in-memory rooms and history, presence broadcast per join (no batching).",
    "The load generator runs on the same 2 cores as the server, so absolute numbers are a floor, not a ceiling.",
    "",
    ...header,
    ...lines,
    "",
    "## Problems seen",
    "",
    ...(notes.length ? notes.map((n) => `- ${n}`) : ["- none: every client connected, joined and stayed connected; no server warnings."]),
    "",
  ].join("\n");
  mkdirSync(resolve(opt.out, ".."), { recursive: true });
  writeFileSync(opt.out, md);
  console.log(`\n${[...header, ...lines].join("\n")}\n\nwritten to ${opt.out}`);
}

await main();
