// Loopback benchmark: baat-chit (Rust, release build, one process or a
// cluster of three) against a Node.js Socket.IO baseline
// (bench/baseline/server.mjs), a plain socketioxide server and a
// raw-websocket ceiling (bench/servers), all driven by the same load
// generator (bench/loadgen, Rust; or bench/load, Node). `make test` runs
// only a tiny smoke of it (bench/Makefile's test-smoke: --profile debug
// --parallel --strict).
//
//   node bench/run.mjs [--reps 3] [--duration 10] [--scenarios fanout,rooms,idle,storm] ...
//   node bench/run.mjs --servers rust,node,plain,raw --scenarios s1,s2,s3,s4,s5,s6   (make -C bench perf)
//   node bench/run.mjs --help
//
// Every run starts a fresh server, so runs don't inherit each other's
// memory or history. Servers alternate within each repetition, so drift in
// the (shared, noisy) machine hits them all alike. Prints and writes medians.
import { execFile, execFileSync, fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs, promisify } from "node:util";

const BENCH = import.meta.dirname;
const ROOT = resolve(BENCH, "..");

const { values: opt } = parseArgs({
  options: {
    reps: { type: "string", default: "3" },
    duration: { type: "string", default: "10" }, // measured seconds per run
    warmup: { type: "string", default: "2" }, // seconds of load before measuring
    servers: { type: "string", default: "rust,node" },
    scenarios: { type: "string", default: "fanout,rooms,idle,storm" },
    // Scenarios the `cluster` kind runs in when it is among --servers (all if empty).
    "cluster-scenarios": { type: "string", default: "" },
    loadgen: { type: "string", default: "rust" }, // rust | node
    "loadgen-threads": { type: "string", default: "2" }, // runtime threads per Rust load process
    sources: { type: "string", default: "8" }, // client source addresses 127.0.0.1…
    size: { type: "string", default: "64" }, // message text bytes (Rust load generator)
    "fanout-clients": { type: "string", default: "1000" },
    "fanout-senders": { type: "string", default: "4" },
    "fanout-rate": { type: "string", default: "10" }, // messages/s per sender
    "sustained-p99": { type: "string", default: "100" }, // ms: the sustained search's latency limit
    "sustained-refine": { type: "string", default: "2" }, // bisection steps after doubling
    "sustained-steps": { type: "string", default: "10" }, // doublings at most
    strict: { type: "boolean", default: false }, // exit 1 if a run failed or lost a message (the smoke)
    "sustained-retries": { type: "string", default: "2" }, // reruns of a step that failed on a noisy machine
    noisy: { type: "string", default: "50" }, // % of a core used by other tenants that makes a window noisy
    "quiet-wait": { type: "string", default: "60" }, // s at most a search step waits for a quiet machine (0: none)
    "idle-settle": { type: "string", default: "3" }, // s S4 waits before reading RSS
    rooms: { type: "string", default: "1000" },
    "room-size": { type: "string", default: "10" },
    "room-rate": { type: "string", default: "0.2" }, // messages/s per client
    "idle-clients": { type: "string", default: "5000" },
    "storm-clients": { type: "string", default: "2000" },
    "per-worker": { type: "string", default: "" }, // connections per load process (rust 10000, node 5000)
    "min-workers": { type: "string", default: "" }, // load processes at least (rust 1, node 2)
    "s2-rate": { type: "string", default: "0.1" }, // S2: first step, msg/s per client
    "s3-rate": { type: "string", default: "1" }, // S3: msg/s per room
    "s4-clients": { type: "string", default: "15000" },
    "s6-clients": { type: "string", default: "5000" },
    "s6-rooms": { type: "string", default: "500" },
    "s6-rate": { type: "string", default: "2" }, // S6: msg/s per room during the storm
    "no-build": { type: "boolean", default: false },
    // Which cargo build to run: target/release (the benchmark) or target/debug
    // (what `cargo build` leaves; `make test`'s smoke, which checks correctness,
    // not figures). BAATCHIT_BENCH_PROFILE sets the default.
    profile: { type: "string", default: process.env.BAATCHIT_BENCH_PROFILE ?? "release" },
    // Run the server kinds of each repetition at once instead of one after
    // the other: quicker, but they share the CPU, so only for the smoke.
    parallel: { type: "boolean", default: false },
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
const PROFILE = opt.profile;
if (PROFILE !== "release" && PROFILE !== "debug") {
  console.error(`unknown --profile ${PROFILE} (release, debug)`);
  process.exit(1);
}
/** Where the binaries are, relative to the repository (the report names them so). */
const BIN_DIR = `target/${PROFILE}`;
const RUST_BIN = process.env.BAATCHIT_BIN ?? join(ROOT, BIN_DIR, "baat-chit");
const LOADGEN = opt.loadgen;
const LOADGEN_BIN = join(ROOT, BIN_DIR, "baat-chit-loadgen");
/** The bench's own comparison servers (bench/servers). */
const PLAIN_BIN = join(ROOT, BIN_DIR, "plain-socketioxide");
const RAW_BIN = join(ROOT, BIN_DIR, "raw-ws");
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

/**
 * Flags every baat-chit process gets, single or in the cluster, so both
 * kinds run with the same limits: all of them off, because the load is
 * many people, one generator speaks for them all, and every client comes
 * from loopback.
 */
const RUST_FLAGS = [
  "--rate-limit", "0",
  "--user-rate-limit", "0",
  "--join-rate-limit", "0",
  "--max-rooms-per-connection", "0",
  "--typing-interval-ms", "0",
  "--max-connections-per-ip", "0",
];
/** Processes in the `cluster` server kind. */
const CLUSTER_SIZE = 3;
const PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"];
const REDIS = { host: "127.0.0.1", port: 6379 };

const run = promisify(execFile);

/** Starts one server process; resolves once it prints where it listens. */
async function startProcess(label, command, args, env = {}) {
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
    exited.then(({ code }) => fail(new Error(`${label} exited (${code}) before listening:\n${logs}`)));
  });
  const proc = (file) => readFileSync(`/proc/${child.pid}/${file}`, "utf8");
  return {
    url,
    rssKiB: () => Number(/VmRSS:\s+(\d+)/.exec(proc("status"))[1]),
    openFiles: () => readdirSync(`/proc/${child.pid}/fd`).length,
    cpuSeconds: () => procCpuSeconds(child.pid),
    /** baat-chit's delivery-lag counters, as { count, sum } seconds. */
    async lag() {
      const text = await (await fetch(`${url}/metrics`)).text();
      const read = (name) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
      return {
        count: read("baatchit_delivery_lag_seconds_count"),
        sum: read("baatchit_delivery_lag_seconds_sum"),
        // Messages that spent at most 1 ms and 2 ms inside the server.
        within1ms: read('baatchit_delivery_lag_seconds_bucket\\{le="0.001"\\}'),
        within2ms: read('baatchit_delivery_lag_seconds_bucket\\{le="0.002"\\}'),
        gapReads: read("baatchit_cluster_gap_reads_total"),
      };
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    /** Warnings and errors it logged, without colours and timestamps. */
    problems: () =>
      logs
        .replace(/\x1b\[[0-9;]*m/g, "")
        .split("\n")
        .filter((line) => /\b(WARN|ERROR)\b|Error|error/.test(line))
        .map((line) => line.replace(/^\S+Z\s+/, "").trim()),
    /** SIGTERM, then SIGKILL after `graceMs` (a cluster process may take 9 s to leave). */
    async stop(graceMs = 5000) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** CPU seconds a process has used so far (user + system), or 0 once it is gone. */
function procCpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
  } catch {
    return 0;
  }
}

/**
 * Starts a server of one kind: `rust` (one release process on a fresh
 * SQLite file), `cluster` (CLUSTER_SIZE release processes on one fresh
 * PostgreSQL database and one fresh Redis prefix) or `node` (the
 * baseline). Its `urls` are where clients connect, round-robin; RSS, CPU
 * and delivery lag are summed over its processes.
 */
async function startServer(kind) {
  const dir = mkdtempSync(join(tmpdir(), "baat-chit-bench-"));
  const cleanups = [() => rmSync(dir, { recursive: true, force: true })];
  const processes = [];
  let backing = null; // the cluster's PostgreSQL backends and Redis
  const cleanUp = async () => {
    await Promise.allSettled(processes.map((p) => p.stop(kind === "cluster" ? 12_000 : 5000)));
    for (const cleanup of cleanups.reverse()) {
      await Promise.resolve()
        .then(cleanup)
        .catch((error) => console.error(`    cleaning up after ${kind}: ${error.message.split("\n")[0]}`));
    }
  };
  try {
    if (kind === "rust") {
      const args = ["--listen", "127.0.0.1:0", "--database", `sqlite://${dir}/bench.db`, ...RUST_FLAGS];
      processes.push(await startProcess("rust server", RUST_BIN, args, { RUST_LOG: "warn" }));
    } else if (kind === "cluster") {
      const suffix = randomBytes(6).toString("hex");
      const database = `baatchit_bench_${suffix}`;
      const prefix = `baatchit-bench-${suffix}`;
      try {
        await run("pg_isready", ["-q", ...PG]);
      } catch {
        throw new Error("PostgreSQL not reachable at 127.0.0.1:5432 (the cluster kind needs it)");
      }
      await run("createdb", [...PG, database]);
      cleanups.push(() => run("dropdb", [...PG, "--force", "--if-exists", database]));
      cleanups.push(() => deleteRedisKeys(prefix));
      const args = [
        "--listen", "127.0.0.1:0",
        "--database", `postgres://postgres@127.0.0.1:5432/${database}`,
        "--redis", `redis://${REDIS.host}:${REDIS.port}`,
        "--redis-prefix", prefix,
        ...RUST_FLAGS,
      ];
      // One at a time: the first creates the schema.
      for (let i = 1; i <= CLUSTER_SIZE; i++) {
        processes.push(await startProcess(`cluster process ${i}`, RUST_BIN, args, { RUST_LOG: "warn" }));
      }
      backing = { database };
    } else if (kind === "node") {
      const args = ["--max-old-space-size=4096", join(BENCH, "baseline", "server.mjs")];
      processes.push(await startProcess("node server", process.execPath, args));
    } else if (kind === "plain") {
      processes.push(await startProcess("plain socketioxide", PLAIN_BIN, ["--listen", "127.0.0.1:0"]));
    } else if (kind === "raw") {
      processes.push(await startProcess("raw websocket", RAW_BIN, ["--listen", "127.0.0.1:0"]));
    } else {
      throw new Error(`unknown server kind ${kind}`);
    }
  } catch (error) {
    await cleanUp();
    throw error;
  }
  const sum = (f) => processes.reduce((n, p) => n + f(p), 0);
  return {
    kind,
    urls: processes.map((p) => p.url),
    /** Resident memory, KiB, summed over the processes. */
    rssKiB: () => sum((p) => p.rssKiB()),
    /** Open files of its busiest process (a process may open at most 20,000 here). */
    openFiles: () => Math.max(...processes.map((p) => p.openFiles())),
    /** CPU seconds used so far (user + system), summed over the processes. */
    cpuSeconds: () => sum((p) => p.cpuSeconds()),
    /**
     * baat-chit's own delivery-lag counters (arrival to fan-out, so commit
     * included), summed over the processes, as { count, sum, gapReads };
     * null for the Node baseline.
     */
    async lag() {
      if (kind !== "rust" && kind !== "cluster") return null;
      const each = await Promise.all(processes.map((p) => p.lag()));
      return {
        count: each.reduce((n, l) => n + l.count, 0),
        sum: each.reduce((n, l) => n + l.sum, 0),
        within1ms: each.reduce((n, l) => n + l.within1ms, 0),
        within2ms: each.reduce((n, l) => n + l.within2ms, 0),
        gapReads: each.reduce((n, l) => n + l.gapReads, 0),
      };
    },
    /**
     * CPU seconds used so far by what the cluster runs on: { postgres: Map
     * of pid to seconds for each PostgreSQL backend serving its database,
     * redis: seconds of the whole Redis server (shared with anyone else
     * using it) }. Null for the other kinds.
     */
    async backingCpu() {
      if (!backing) return null;
      const { stdout } = await run("psql", [...PG, "-Atc", `select pid from pg_stat_activity where datname = '${backing.database}'`]);
      const pids = stdout.split("\n").filter(Boolean).map(Number);
      const postgres = new Map(pids.map((pid) => [pid, procCpuSeconds(pid)]));
      const info = (await run("redis-cli", ["-h", REDIS.host, "-p", String(REDIS.port), "info", "cpu"])).stdout;
      const read = (name) => Number(new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1] ?? 0);
      return { postgres, redis: read("used_cpu_user") + read("used_cpu_sys") };
    },
    alive: () => processes.every((p) => p.alive()),
    problems: () =>
      processes.flatMap((p, i) => p.problems().map((line) => (processes.length > 1 ? `[process ${i + 1}] ${line}` : line))),
    stop: cleanUp,
  };
}

/** Deletes every key under a Redis prefix (the cluster's presence, heartbeats). */
async function deleteRedisKeys(prefix) {
  const cli = ["-h", REDIS.host, "-p", String(REDIS.port)];
  const { stdout } = await run("redis-cli", [...cli, "--scan", "--pattern", `${prefix}:*`]);
  const keys = stdout.split("\n").filter(Boolean);
  for (let i = 0; i < keys.length; i += 500) await run("redis-cli", [...cli, "del", ...keys.slice(i, i + 500)]);
}

// ---------------------------------------------------------- load workers

/**
 * Starts enough load processes for `total` clients; each knows its slice.
 * `--loadgen rust` (the default): `baat-chit-loadgen` processes of up to
 * --per-worker (10,000) connections, commands as JSON lines over stdio;
 * `--loadgen node`: forked `load/worker.mjs` (5,000 each), over IPC.
 */
function startWorkers(total) {
  const rust = LOADGEN === "rust";
  const perWorker = num("per-worker") || (rust ? 10_000 : 5000);
  const minWorkers = num("min-workers") || (rust ? 1 : 2);
  const count = Math.max(minWorkers, Math.ceil(total / perWorker));
  const size = Math.ceil(total / count);
  return Array.from({ length: count }, (_, i) => {
    const waiting = new Map();
    let nextId = 0;
    const answer = ({ id, ...reply }) => waiting.get(id)?.(reply);
    let child;
    let send;
    if (rust) {
      child = spawn(LOADGEN_BIN, ["--threads", opt["loadgen-threads"]], { stdio: ["pipe", "pipe", "inherit"] });
      createInterface({ input: child.stdout }).on("line", (line) => answer(JSON.parse(line)));
      child.stdin.on("error", () => {}); // a dead process shows through `exit`
      send = (message) => child.stdin.write(`${JSON.stringify(message)}\n`);
    } else {
      child = fork(join(BENCH, "load", "worker.mjs"), [], { execArgv: ["--max-old-space-size=2048"] });
      child.on("message", answer);
      send = (message) => child.send(message);
    }
    child.on("exit", (code) => {
      for (const reply of waiting.values()) reply({ error: `load process exited (${code})` });
    });
    const first = i * size;
    return {
      first,
      count: Math.max(0, Math.min(size, total - first)),
      /** Sends a command and resolves with its answer (throws on error/timeout). */
      call(cmd, args = {}, timeoutMs = 120_000) {
        const id = nextId++;
        return new Promise((ok, fail) => {
          const timer = setTimeout(() => fail(new Error(`load process: ${cmd} timed out`)), timeoutMs);
          waiting.set(id, (reply) => {
            clearTimeout(timer);
            waiting.delete(id);
            reply.error ? fail(new Error(reply.error)) : ok(reply);
          });
          send({ id, cmd, ...args });
        });
      },
      kill: () => child.kill("SIGKILL"),
    };
  });
}

/** Runs one command on every worker at once; resolves with all answers. */
const all = (workers, cmd, args, timeoutMs) => Promise.all(workers.map((w) => w.call(cmd, args, timeoutMs)));

/**
 * Connects each worker's slice, client i to urls[i % urls.length]; returns
 * how many connected and notes if not all.
 */
async function connectAll(workers, urls, total, notes) {
  const replies = await Promise.all(
    workers.map((w) =>
      w.call("connect", { urls, first: w.first, count: w.count, concurrency: 100, sources: num("sources") }, 300_000),
    ),
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
  if (!server.alive()) notes.push(server.urls.length > 1 ? "a server process died" : "the server process died");
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

/**
 * Merges sparse [milliseconds, count] histograms (the Node load generator's
 * 0.1 ms buckets, the Rust one's HDR buckets) and reads a percentile.
 */
function percentile(histograms, p) {
  const merged = new Map();
  for (const h of histograms) for (const [ms, n] of h) merged.set(ms, (merged.get(ms) ?? 0) + n);
  const sorted = [...merged].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  if (total === 0) return NaN;
  let seen = 0;
  for (const [ms, n] of sorted) {
    seen += n;
    if (seen >= total * p) return ms;
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
  const backing0 = await server.backingCpu();
  const cpu0 = server.cpuSeconds();
  const machine0 = machineCpu();
  const t0 = now();
  await sleep(DURATION);
  const results = await all(workers, "measure", { on: false });
  const seconds = (now() - t0) / 1000;
  const cpu = ((server.cpuSeconds() - cpu0) / seconds) * 100;
  const machine1 = machineCpu();
  const backing = backingPercent(backing0, await server.backingCpu(), seconds);
  // What neither the server (with its PostgreSQL and Redis) nor the load
  // generator used: other tenants of this shared machine, which make a run noisy.
  const loadTotal = results.reduce((n, r) => n + r.cpuMicros / 1e4 / seconds, 0);
  const backingTotal = backing ? backing.postgres + backing.redis : 0;
  const others = ((machine1.busy - machine0.busy) / seconds) * 100 - cpu - loadTotal - backingTotal;
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

/** The cluster's PostgreSQL and Redis CPU between two readings, in % of a core; null for other kinds. */
function backingPercent(before, after, seconds) {
  if (!before || !after) return null;
  return {
    // A backend that started in between counts whole; one that ended is missed.
    postgres: ([...after.postgres].reduce((n, [pid, c]) => n + c - (before.postgres.get(pid) ?? 0), 0) / seconds) * 100,
    redis: ((after.redis - before.redis) / seconds) * 100,
  };
}

/**
 * Steady load with exact accounting: the `senders` ({ range, stride }:
 * clients in [lo, hi), every stride-th) send at `rate`/s each, and each
 * message should reach `receivers` clients. Every message sent in the window is
 * followed to every receiver, however late it arrives (the workers keep
 * counting until nothing more comes), so `lost` is exact and the latency
 * percentiles include the stragglers.
 */
async function measureWindow(workers, server, senders, rate, receivers) {
  const LEAD = 500; // ms for the window's bounds to reach every worker
  const started = now();
  // Senders go on for a second (or the window's length, if shorter) after
  // the window closes, so its last messages meet the same load as its first.
  const TAIL = Math.min(1000, DURATION);
  const sending = all(workers, "send", { ...senders, rate, size: num("size"), ms: WARMUP + LEAD + DURATION + TAIL }, 300_000);
  const from = started + WARMUP + LEAD;
  const to = from + DURATION;
  await sleep(WARMUP);
  const opened = await all(workers, "window", { from, to });
  if (opened.some((o) => o.late)) throw new Error("a load process heard of the window after it opened");
  const lag0 = await server.lag();
  const backing0 = await server.backingCpu();
  await sleep(from - now());
  const cpu0 = server.cpuSeconds();
  const machine0 = machineCpu();
  await sleep(to - now());
  const cpu = ((server.cpuSeconds() - cpu0) / (DURATION / 1000)) * 100;
  const machine1 = machineCpu();
  const backing1 = await server.backingCpu();
  const lag1 = await server.lag();
  const seconds = DURATION / 1000;
  await sending;
  // Drain: wait for the window's last deliveries, until all are in or
  // nothing more arrives for 2 s.
  let results = await all(workers, "windowResult");
  const count = (rs, key) => rs.reduce((n, r) => n + r[key], 0);
  const expected = count(results, "sent") * receivers;
  let lastProgress = now();
  let received = count(results, "received");
  while (received < expected && now() - lastProgress < 2000) {
    await sleep(250);
    results = await all(workers, "windowResult");
    if (count(results, "received") > received) lastProgress = now();
    received = count(results, "received");
  }
  const histograms = results.map((r) => r.histogram);
  const loadCpus = results.map((r) => r.cpuMicros / 1e4 / seconds);
  const backing = backingPercent(backing0, backing1, seconds);
  const loadTotal = loadCpus.reduce((a, b) => a + b, 0);
  const backingTotal = backing ? backing.postgres + backing.redis : 0;
  return {
    sent: count(results, "sent"),
    acked: count(results, "acked"),
    sendFailures: fmtFailures(results),
    expected,
    received,
    sentPerSec: count(results, "sent") / seconds,
    deliveriesPerSec: received / seconds,
    offeredPerSec: expected / seconds,
    p50: percentile(histograms, 0.5),
    p99: percentile(histograms, 0.99),
    max: percentile(histograms, 1),
    cpu,
    backing,
    // The busiest load process, in % of one core, and all of them together.
    loadCpu: Math.max(...loadCpus),
    loadTotal,
    // Neither the server, its PostgreSQL and Redis, nor the load generator:
    // other tenants of this shared machine.
    others: ((machine1.busy - machine0.busy) / seconds) * 100 - cpu - loadTotal - backingTotal,
    steal: ((machine1.steal - machine0.steal) / seconds) * 100,
    serverLag: lag0 ? ((lag1.sum - lag0.sum) / (lag1.count - lag0.count)) * 1000 : NaN,
    // Of the messages fanned out in the window, % that spent longer than
    // 1 ms and 2 ms inside the server (arrival to fan-out, commit included).
    serverOver1ms: lag0 ? overPercent(lag0, lag1, "within1ms") : NaN,
    serverOver2ms: lag0 ? overPercent(lag0, lag1, "within2ms") : NaN,
    gapReads: lag0 ? lag1.gapReads - lag0.gapReads : NaN,
  };
}

/** % of the messages counted between two lag readings that were not `within`. */
function overPercent(lag0, lag1, within) {
  const count = lag1.count - lag0.count;
  return count > 0 ? (100 * (count - (lag1[within] - lag0[within]))) / count : NaN;
}

/**
 * Waits (at most `maxMs`) until the rest of the machine uses less than
 * --noisy % of a core over a second, so a step does not start in the middle
 * of someone else's build. Resolves with the last reading.
 */
async function waitQuiet(maxMs = num("quiet-wait") * 1000) {
  if (maxMs <= 0) return 0;
  const deadline = now() + maxMs;
  for (;;) {
    const before = machineCpu();
    await sleep(1000);
    const busy = (machineCpu().busy - before.busy) * 100;
    if (busy < num("noisy") || now() > deadline) return busy;
  }
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

/**
 * Finds the highest send rate a server kind sustains: every message
 * delivered to every receiver (counted one for one), every send acked,
 * p99 ≤ --sustained-p99. Doubles the per-sender rate from `plan.startRate`
 * until a step fails (or halves until one passes), then bisects
 * --sustained-refine times between the last pass and the first fail.
 * Each step runs on a fresh server with freshly connected clients, once
 * the machine is quiet (or 60 s have passed); a step that fails while
 * other tenants used more than --noisy % of a core is run again, up to
 * --sustained-retries times.
 *
 * `plan`: { clients, join (joinAll's args), senders (how many send),
 * sendRange ({ range, stride }: who sends), receivers(joined) (deliveries
 * per message), startRate (msg/s per sender) }.
 */
async function sustainedSearch(kind, notes, details, plan) {
  const n = plan.clients;
  const senders = plan.senders;
  const limit = num("sustained-p99");
  const steps = [];
  const step = async (rate, attempt = 1) => {
    const stepNotes = [];
    const quiet = await waitQuiet();
    if (quiet >= num("noisy")) stepNotes.push(`the machine was still busy (${Math.round(quiet)}% of a core) after ${opt["quiet-wait"]} s of waiting to start`);
    const load = await withServer(kind, n, async (server, workers) => {
      await connectAll(workers, server.urls, n, stepNotes);
      const replies = await joinAll(workers, plan.join, n, stepNotes);
      const joined = replies.reduce((m, r) => m + r.joined, 0);
      await settle(server);
      const load = await measureWindow(workers, server, plan.sendRange, rate, plan.receivers(joined));
      await checkHealth(workers, server, n, stepNotes);
      return load;
    });
    const failed = [];
    const lost = load.expected - load.received;
    if (lost > 0) failed.push(`${lost.toLocaleString("en-US")} of ${load.expected.toLocaleString("en-US")} deliveries missing`);
    if (lost < 0) failed.push(`${(-lost).toLocaleString("en-US")} deliveries more than sent (duplicates?)`);
    if (load.acked < load.sent) failed.push(`${load.sent - load.acked} of ${load.sent} sends not acked ok (${load.sendFailures})`);
    // --strict (the smoke) fails on any loss, even in a step the search moves past.
    if (opt.strict) for (const why of failed) notes.push(`at ${fmt(rate * senders)} msg/s: ${why}`);
    if (!(load.p99 <= limit)) failed.push(`p99 ${fmt(load.p99)} ms > ${limit} ms`);
    // The load generator could not offer the rate: no point going higher.
    const short = load.sentPerSec < rate * senders * 0.95;
    const noisy = load.others > num("noisy") || load.steal > 5;
    // Noise only makes a server look worse: a noisy pass stands, a noisy failure is rerun.
    const retry = failed.length > 0 && noisy && attempt <= num("sustained-retries");
    if (retry) failed.push(`noisy (others ${Math.round(load.others)}%): rerun`);
    const result = { rate, load, pass: failed.length === 0, failed, short };
    steps.push(result);
    const line = `${fmt(rate * senders)} msg/s offered: ${fmt(load.deliveriesPerSec)} deliveries/s, p50 ${fmt(load.p50)} ms, p99 ${fmt(load.p99)} ms, server lag ${fmt(load.serverLag)} ms${kind === "cluster" ? `, ${load.gapReads} gap reads` : ""}, server CPU ${fmt(load.cpu)}%${load.backing ? `, PostgreSQL ${fmt(load.backing.postgres)}% + Redis ${fmt(load.backing.redis)}%` : ""}, load ${fmt(load.loadCpu)}% busiest / ${fmt(load.loadTotal)}% all, others ${fmt(load.others)}%: ${result.pass ? "pass" : `FAIL (${failed.join("; ")})`}`;
    console.log(`    ${kind} step ${line}`);
    for (const note of stepNotes) notes.push(`at ${fmt(rate * senders)} msg/s: ${note}`);
    if (short) notes.push(`at ${fmt(rate * senders)} msg/s: the senders managed ${fmt(load.sentPerSec)} msg/s: the load generator could not offer the rate (the search does not go higher)`);
    if (noisy) {
      notes.push(`at ${fmt(rate * senders)} msg/s: noisy: other processes used ${Math.round(load.others)}% of a core, the hypervisor stole ${Math.round(load.steal)}%${retry ? "; failed, so run again" : ""}`);
    }
    return retry ? step(rate, attempt + 1) : result;
  };

  let best = null; // highest passing step
  let worst = null; // lowest failing step
  const first = await step(plan.startRate);
  if (first.pass) {
    best = first;
    for (let i = 0; i < num("sustained-steps") && !best.short; i++) {
      const next = await step(best.rate * 2);
      if (!next.pass) {
        worst = next;
        break;
      }
      best = next;
    }
  } else {
    worst = first;
    for (let i = 0; i < 4 && !best; i++) {
      const next = await step(worst.rate / 2);
      next.pass ? (best = next) : (worst = next);
    }
  }
  for (let i = 0; i < num("sustained-refine") && best && worst && !best.short; i++) {
    const next = await step((best.rate + worst.rate) / 2);
    next.pass ? (best = next) : (worst = next);
  }

  details.push(
    "| step | msg/s sent | deliveries/s | missing | p50 (ms) | p99 (ms) | server-side lag mean (ms) | gap reads | server CPU (%) | PostgreSQL + Redis CPU (%) | load gen busiest / all (%) | others (%) | result |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...steps.map(
      ({ load, pass, failed }, i) =>
        `| ${i + 1} | ${fmt(load.sentPerSec)} | ${fmt(load.deliveriesPerSec)} | ${(load.expected - load.received).toLocaleString("en-US")} | ${fmt(load.p50)} | ${fmt(load.p99)} | ${fmt(load.serverLag)} | ${kind === "cluster" ? load.gapReads : "n/a"} | ${fmt(load.cpu)} | ${load.backing ? `${fmt(load.backing.postgres)} + ${fmt(load.backing.redis)}` : "n/a"} | ${fmt(load.loadCpu)} / ${fmt(load.loadTotal)} | ${fmt(load.others)} | ${pass ? "pass" : failed.join("; ")} |`,
    ),
  );
  if (!best) notes.push(`no step passed, down to ${fmt(worst.rate * senders)} msg/s`);
  const at = best?.load ?? {};
  return {
    "sustained deliveries/s": best ? at.deliveriesPerSec : NaN,
    "sustained messages sent/s": best ? at.sentPerSec : NaN,
    "latency p50 at sustained (ms)": at.p50 ?? NaN,
    "latency p99 at sustained (ms)": at.p99 ?? NaN,
    "server-side lag mean at sustained (ms)": at.serverLag ?? NaN,
    "server CPU at sustained (%)": at.cpu ?? NaN,
    "PostgreSQL + Redis CPU at sustained (%)": at.backing ? at.backing.postgres + at.backing.redis : NaN,
    "(load generator) busiest process CPU at sustained (%)": at.loadCpu ?? NaN,
    "(load generator) all processes CPU at sustained (%)": at.loadTotal ?? NaN,
    "first failing step: deliveries/s offered": worst ? worst.load.offeredPerSec : NaN,
  };
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
      await connectAll(workers, server.urls, n, notes);
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

  sustained: {
    title: () =>
      `sustained fan-out: 1 room × ${opt["fanout-clients"]} clients, ${opt["fanout-senders"]} senders from ${opt["fanout-rate"]} msg/s each, doubling while every message reaches everyone with p99 ≤ ${opt["sustained-p99"]} ms`,
    clients: () => num("fanout-clients"),
    medianBy: "sustained deliveries/s",
    search: (kind, notes, details) =>
      sustainedSearch(kind, notes, details, {
        clients: num("fanout-clients"),
        join: { range: [0, num("fanout-clients")], room: "fanout", concurrency: 50 },
        senders: num("fanout-senders"),
        sendRange: { range: [0, num("fanout-senders")] },
        receivers: (joined) => joined - 1,
        startRate: num("fanout-rate"),
      }),
  },

  rooms: {
    title: () => `many rooms: ${opt.rooms} rooms × ${opt["room-size"]} clients, each ${opt["room-rate"]} msg/s`,
    clients: () => num("rooms") * num("room-size"),
    async run(server, workers, notes) {
      const size = num("room-size");
      const n = num("rooms") * size;
      await connectAll(workers, server.urls, n, notes);
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
      const { connected } = await connectAll(workers, server.urls, n, notes);
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
      await connectAll(workers, server.urls, n, notes);
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
      // Every client's last heard count (ack, then presence) must be n too
      // (the Rust load generator tracks it; polled every 20 ms).
      let allRightAt = NaN;
      while (LOADGEN === "rust" && now() - t0 < 60_000) {
        const counts = await all(workers, "counts", { range: [0, n], target: n });
        if (counts.reduce((m, c) => m + c.right, 0) >= n) {
          allRightAt = now();
          break;
        }
        await sleep(20);
      }
      if (LOADGEN === "rust" && Number.isNaN(allRightAt)) notes.push(`not every client's count reached ${n} within 60 s`);
      await checkHealth(workers, server, n, notes);
      return {
        "all join acks (s)": (lastAck - t0) / 1000,
        [`count reaches ${n} (s)`]: reachedAt === null ? NaN : (reachedAt - t0) / 1000,
        ...(LOADGEN === "rust" ? { [`every client's count is ${n} (s)`]: (allRightAt - t0) / 1000 } : {}),
      };
    },
  },

  // ---- Issue 10's scenarios (the Rust load generator, every server kind).

  s1: {
    title: () => `S1 one room × ${opt["fanout-clients"]} clients, ${opt.size} B, ${opt["fanout-senders"]} senders`,
    clients: () => num("fanout-clients"),
    medianBy: "sustained deliveries/s",
    headline: ["sustained deliveries/s", "latency p99 at sustained (ms)"],
    search: (kind, notes, details) => SCENARIOS.sustained.search(kind, notes, details),
  },

  s2: {
    title: () => `S2 ${opt.rooms} rooms × ${opt["room-size"]} clients, every client sends`,
    clients: () => num("rooms") * num("room-size"),
    medianBy: "sustained deliveries/s",
    headline: ["sustained deliveries/s", "latency p99 at sustained (ms)"],
    search(kind, notes, details) {
      const n = num("rooms") * num("room-size");
      return sustainedSearch(kind, notes, details, {
        clients: n,
        join: { range: [0, n], groupSize: num("room-size"), concurrency: 100 },
        senders: n,
        sendRange: { range: [0, n] },
        // Rooms are full when everyone joined; a failed join shows in the notes.
        receivers: () => num("room-size") - 1,
        startRate: num("s2-rate"),
      });
    },
  },

  s3: {
    title: () => `S3 ${opt.rooms} rooms × ${opt["room-size"]} clients, ${opt["s3-rate"]} msg/s per room`,
    clients: () => num("rooms") * num("room-size"),
    headline: ["latency p99 (ms)", "latency p50 (ms)"],
    async run(server, workers, notes) {
      const size = num("room-size");
      const n = num("rooms") * size;
      await connectAll(workers, server.urls, n, notes);
      await joinAll(workers, { range: [0, n], groupSize: size, concurrency: 100 }, n, notes);
      await settle(server);
      // One sender per room: the first client of each.
      const load = await measureWindow(workers, server, { range: [0, n], stride: size }, num("s3-rate"), size - 1);
      const lost = load.expected - load.received;
      if (lost !== 0) notes.push(`${lost} of ${load.expected} deliveries missing (negative: doubled)`);
      if (load.acked < load.sent) notes.push(`${load.sent - load.acked} of ${load.sent} sends not acked ok: ${load.sendFailures}`);
      await checkHealth(workers, server, n, notes);
      return {
        "latency p50 (ms)": load.p50,
        "latency p99 (ms)": load.p99,
        "latency max (ms)": load.max,
        "deliveries missing": lost,
        "server CPU (%)": load.cpu,
        "server-side lag > 1 ms (% of messages)": load.serverOver1ms,
        "server-side lag > 2 ms (% of messages)": load.serverOver2ms,
      };
    },
  },

  s4: {
    title: () => `S4 ${opt["s4-clients"]} idle connections, each joined to a room of ${opt["room-size"]}`,
    clients: () => num("s4-clients"),
    headline: ["RSS per connection (KiB)"],
    async run(server, workers, notes) {
      const n = num("s4-clients");
      const settleMs = num("idle-settle") * 1000;
      await sleep(settleMs / 3);
      const before = server.rssKiB();
      const { connected } = await connectAll(workers, server.urls, n, notes);
      await joinAll(workers, { range: [0, n], groupSize: num("room-size"), concurrency: 100 }, n, notes);
      await settle(server);
      await sleep(settleMs); // let allocations settle (Node's GC, Rust's allocator)
      const after = server.rssKiB();
      await checkHealth(workers, server, n, notes);
      return {
        "RSS per connection (KiB)": (after - before) / connected,
        "RSS with all connected (MiB)": after / 1024,
        "open files": server.openFiles(),
      };
    },
  },

  s5: {
    title: () => `S5 ${opt["storm-clients"]} clients join one room at once`,
    clients: () => num("storm-clients"),
    headline: () => [`every client's count is ${opt["storm-clients"]} (s)`, `count reaches ${opt["storm-clients"]} (s)`],
    run: (server, workers, notes) => SCENARIOS.storm.run(server, workers, notes),
  },

  s6: {
    title: () => `S6 reconnect storm: ${opt["s6-clients"]} clients in ${opt["s6-rooms"]} rooms drop at once and re-join with since`,
    clients: () => num("s6-clients"),
    headline: ["all back (s)", "messages missing", "messages doubled"],
    // The bench's plain servers keep no history, so `since` means nothing to them.
    supports: (kind) => kind !== "plain" && kind !== "raw",
    run: reconnectStorm,
  },
};

/**
 * S6: every client drops its connection at once (no close frame, no
 * disconnect packet), connects again with its token and re-joins with
 * `since` its last seen seq, while the first client of each room sends
 * --s6-rate messages/s throughout. Then every client must hold each of its
 * room's seqs since its first join exactly once (live, in a join's
 * history, or in its own acks).
 */
async function reconnectStorm(server, workers, notes) {
  const n = num("s6-clients");
  const size = Math.ceil(n / num("s6-rooms"));
  await connectAll(workers, server.urls, n, notes);
  await joinAll(workers, { range: [0, n], groupSize: size, concurrency: 100, track: true }, n, notes);
  await settle(server);
  // Send before, through and after the storm (which should take under 5 s);
  // a --duration under 1.5 s (the smoke) shortens the margins with it.
  const margin = Math.min(1500, DURATION);
  const ms = margin + DURATION + 2 * margin;
  const sending = all(workers, "send", { range: [0, n], stride: size, rate: num("s6-rate"), size: num("size"), ms }, 300_000);
  await sleep(margin);
  const storms = await all(workers, "reconnect", { range: [0, n] }, 120_000);
  const droppedAt = Math.min(...storms.map((r) => r.droppedAt));
  const lastAckAt = Math.max(...storms.map((r) => r.lastAckAt));
  const rejoined = storms.reduce((m, r) => m + r.rejoined, 0);
  if (rejoined < n) notes.push(`only ${rejoined} of ${n} came back: ${fmtFailures(storms)}`);
  await sending; // every send answered (or 5 s passed)
  await sleep(margin); // the last messages' deliveries, and any late duplicate
  // Then until every client holds every seq, or nothing changes for 2 s (a
  // busy machine, a debug build).
  let { top, checks, missing, doubled } = await checkSeqs(workers);
  let lastProgress = now();
  while (missing > 0 && now() - lastProgress < 2000) {
    await sleep(250);
    const next = await checkSeqs(workers);
    if (next.missing !== missing || next.doubled !== doubled) lastProgress = now();
    ({ top, checks, missing, doubled } = next);
  }
  if (missing > 0 || doubled > 0) notes.push(`${missing} messages missing and ${doubled} doubled over ${n} clients`);
  for (const example of checks.flatMap((c) => c.examples).slice(0, 3)) notes.push(`for example ${example}`);
  await checkHealth(workers, server, n, notes);
  return {
    "all back (s)": rejoined < n ? NaN : (lastAckAt - droppedAt) / 1000,
    "messages missing": missing,
    "messages doubled": doubled,
    "messages sent in all rooms": Object.values(top).reduce((a, b) => a + b, 0),
  };
}

/**
 * S6's check: the highest seq any client saw per room, then every client
 * against it; { top (room -> seq), checks (each load process's answer),
 * missing, doubled }.
 */
async function checkSeqs(workers) {
  const top = {};
  for (const { rooms } of await all(workers, "seqReport")) {
    for (const [room, seq] of Object.entries(rooms)) top[room] = Math.max(top[room] ?? 0, seq);
  }
  const checks = await all(workers, "seqCheck", { max: top });
  return {
    top,
    checks,
    missing: checks.reduce((m, c) => m + c.missing, 0),
    doubled: checks.reduce((m, c) => m + c.doubled, 0),
  };
}

/** Lower is better for times, latency, memory and CPU; higher for rates. */
const higherIsBetter = (metric) => /\/s\b/.test(metric) && !/\(s\)/.test(metric);
/** What the report says after a metric's name. */
const direction = (metric) =>
  /^first failing/.test(metric)
    ? "(an upper bound)"
    : /^messages sent in all rooms|^open files/.test(metric)
      ? "(for reference)"
      : higherIsBetter(metric)
        ? "(higher is better)"
        : "(lower is better)";

// ------------------------------------------------------------------- main

const fmt = (x) =>
  !Number.isFinite(x)
    ? "n/a"
    : Math.abs(x) >= 100 || Number.isInteger(x)
      ? Math.round(x).toLocaleString("en-US")
      : x.toPrecision(3);

/** Starts a server of `kind` and workers for `clients`, runs `task`, cleans up. */
async function withServer(kind, clients, task) {
  const server = await startServer(kind);
  const workers = startWorkers(clients);
  try {
    return await task(server, workers);
  } finally {
    await Promise.allSettled(workers.map((w) => w.call("close", {}, 5000)));
    workers.forEach((w) => w.kill());
    await server.stop();
  }
}

/**
 * One repetition of a scenario on one server kind: { metrics, notes,
 * details } (details: extra report lines, such as a search's steps).
 */
async function runOnce(name, kind) {
  const scenario = SCENARIOS[name];
  const notes = [];
  const details = [];
  try {
    const metrics = scenario.search
      ? await scenario.search(kind, notes, details)
      : await withServer(kind, scenario.clients(), (server, workers) => scenario.run(server, workers, notes));
    return { metrics, notes, details };
  } catch (error) {
    notes.push(`run failed: ${error.message.split("\n")[0]}`);
    return { metrics: {}, notes, details };
  }
}

/** How the report names each server kind. */
const LABELS = { rust: "Rust", cluster: "Cluster", node: "Node", plain: "Plain", raw: "Raw" };
/**
 * Ratio columns, when both kinds ran: [numerator, denominator]. Every kind
 * against Node.js and against the raw-websocket ceiling, and the cluster
 * against one process.
 */
const RATIOS = [
  ...["rust", "cluster", "plain", "raw"].map((k) => [k, "node"]),
  ...["rust", "cluster", "plain", "node"].map((k) => [k, "raw"]),
  ["cluster", "rust"],
];

/** Whether `kind` runs in scenario `name` (its own limits, and --cluster-scenarios). */
function runsIn(name, kind) {
  if (SCENARIOS[name].supports && !SCENARIOS[name].supports(kind)) return false;
  const only = opt["cluster-scenarios"];
  return kind !== "cluster" || !only || only.split(",").includes(name);
}

async function main() {
  const servers = opt.servers.split(",");
  const scenarios = opt.scenarios.split(",");
  for (const s of scenarios) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${s}`);
  for (const k of servers) if (!LABELS[k]) throw new Error(`unknown server kind ${k} (${Object.keys(LABELS).join(", ")})`);
  if (LOADGEN !== "rust" && LOADGEN !== "node") throw new Error(`unknown --loadgen ${LOADGEN} (rust, node)`);
  if (!opt["no-build"]) {
    console.log(`building the ${PROFILE} binaries (cargo build: the server, the load generator, the bench servers)…`);
    const cargo = (...args) => execFileSync("cargo", ["build", "--quiet", ...args], { cwd: ROOT, stdio: "inherit" });
    const bench = ["-p", "baat-chit-loadgen", "-p", "baat-chit-bench-servers"];
    if (PROFILE === "release") {
      cargo("--release", "-p", "baat-chit", ...bench);
    } else {
      // Apart, as bench/Makefile's test-smoke does: built together, the
      // server's dependencies would get the bench crates' features too,
      // and the server would differ from (and replace) the one `cargo
      // build` and the tests use.
      cargo();
      cargo(...bench);
    }
  }
  // Read now, not at the end: the report must name what was built and measured.
  const commit = commitOf();
  const started = Date.now();
  const rows = [];
  const allNotes = [];
  const allDetails = [];
  for (const name of scenarios) {
    console.log(`\n## ${SCENARIOS[name].title()}`);
    const perRep = Object.fromEntries(servers.map((k) => [k, []])); // kind -> [metrics of each rep]
    const metricNames = new Set();
    const kinds = servers.filter((k) => runsIn(name, k));
    for (let rep = 1; rep <= REPS; rep++) {
      // --parallel (the smoke): every kind at once, then their results in order.
      const runs = opt.parallel ? kinds.map((kind) => runOnce(name, kind)) : [];
      for (const [i, kind] of kinds.entries()) {
        const { metrics, notes, details } = await (opt.parallel ? runs[i] : runOnce(name, kind));
        perRep[kind].push(metrics);
        Object.keys(metrics).forEach((m) => metricNames.add(m));
        const summary = Object.entries(metrics).map(([m, v]) => `${m} ${fmt(v)}`).join(", ");
        console.log(`  rep ${rep} ${kind.padEnd(7)}: ${summary || "no result"}`);
        for (const note of notes) {
          console.log(`    ! ${note}`);
          allNotes.push(`${name}, ${kind}, rep ${rep}: ${note}`);
        }
        if (details.length) allDetails.push({ title: `${SCENARIOS[name].title()}: ${kind}, rep ${rep}`, lines: details });
      }
    }
    // A search's metrics all describe one step, so they come from one rep:
    // the one with the median result (a rep where nothing passed ranks
    // lowest). Other scenarios take each metric's median on its own.
    const by = SCENARIOS[name].medianBy;
    const medianRep = (reps) => {
      const ranked = [...reps].sort((a, b) => (a[by] || 0) - (b[by] || 0));
      return ranked[Math.floor((ranked.length - 1) / 2)] ?? {};
    };
    for (const metric of metricNames) {
      const medians = Object.fromEntries(
        servers.map((k) => [k, by ? (medianRep(perRep[k])[metric] ?? NaN) : median(perRep[k].map((m) => m[metric] ?? NaN))]),
      );
      const headline = [SCENARIOS[name].headline ?? []].flatMap((h) => (typeof h === "function" ? h() : h));
      rows.push({ scenario: SCENARIOS[name].title(), metric, medians, headline: headline.includes(metric) });
    }
    // The report so far, after each scenario: a long run cut short keeps what it measured.
    const sofar = ((Date.now() - started) / 60000).toFixed(1);
    report(servers, rows, [...allNotes, `(partial: ${name} is the last scenario done so far)`], allDetails, sofar, commit, true);
  }
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  if (commitOf() !== commit) allNotes.push(`the work tree changed during the run (now ${commitOf()})`);
  report(servers, rows, allNotes, allDetails, minutes, commit);
  // In seconds too: the smoke's "took" would round to 0.1 min.
  console.log(`ran for ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // The smoke's verdict: every run produced figures, and nothing was lost or doubled.
  const broken = allNotes.filter((n) =>
    /run failed|missing|doubled|duplicates|not acked|only \d+ of|no step passed|lost|died|never reached|not every/.test(n),
  );
  if (opt.strict && broken.length) {
    console.error(`\n${broken.length} problem(s):\n${broken.map((n) => `- ${n}`).join("\n")}`);
    process.exit(1);
  }
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

function report(servers, rows, notes, details, minutes, commit, quiet = false) {
  const ratios = RATIOS.filter(([a, b]) => servers.includes(a) && servers.includes(b));
  const header = [
    `| scenario | metric | ${[...servers.map((k) => `${LABELS[k]} median`), ...ratios.map(([a, b]) => `${LABELS[a]}/${LABELS[b]}`)].join(" | ")} |`,
    `|---|---|${[...servers, ...ratios].map(() => "---:").join("|")}|`,
  ];
  const lines = rows.map((r) => {
    const cells = [...servers.map((k) => r.medians[k]), ...ratios.map(([a, b]) => r.medians[a] / r.medians[b])];
    return `| ${r.scenario} | ${r.metric} ${direction(r.metric)} | ${cells.map(fmt).join(" | ")} |`;
  });
  // The headline figures, each with its ratio to Node.js and to the ceiling.
  const bases = ["node", "raw"].filter((b) => servers.includes(b));
  const cell = (r, k) => {
    const v = r.medians[k];
    if (!Number.isFinite(v)) return "—";
    const parts = bases
      .filter((b) => b !== k && Number.isFinite(v / r.medians[b]))
      .map((b) => `${fmt(v / r.medians[b])}× ${LABELS[b]}`);
    return parts.length ? `${fmt(v)} (${parts.join(", ")})` : fmt(v);
  };
  const summary = rows.some((r) => r.headline)
    ? [
        "## Summary",
        "",
        `Medians; in brackets each figure divided by Node.js's and by the raw-websocket ceiling's in the same run (for latency, time and memory lower is better, so a ratio below 1 beats the other).`,
        "",
        `| scenario | metric | ${servers.map((k) => LABELS[k]).join(" | ")} |`,
        `|---|---|${servers.map(() => "---:").join("|")}|`,
        ...rows.filter((r) => r.headline).map((r) => `| ${r.scenario} | ${r.metric} | ${servers.map((k) => cell(r, k)).join(" | ")} |`),
        "",
        "## Every metric",
        "",
      ]
    : [];
  const describe = {
    plain: `Plain: \`${BIN_DIR}/plain-socketioxide\` (bench/servers), the same patched socketioxide as Baat-Chit with in-memory rooms, \`to(room).emit\` fan-out, nothing stored.`,
    raw: `Raw: \`${BIN_DIR}/raw-ws\` (bench/servers), a bare tokio websocket server that frames each broadcast once and hands every recipient the same bytes: the practical ceiling.`,
    rust: `Rust: \`${BIN_DIR}/baat-chit ${RUST_FLAGS.join(" ")}\`, SQLite in a temp dir (every message committed before its ack).`,
    cluster:
      `Cluster: ${CLUSTER_SIZE} × \`${BIN_DIR}/baat-chit ${RUST_FLAGS.join(" ")}\` on one fresh PostgreSQL database (127.0.0.1:5432) and one fresh Redis key prefix (127.0.0.1:6379), both on this machine; clients spread round-robin over the processes. Server RSS, CPU and lag are summed over the ${CLUSTER_SIZE} processes; PostgreSQL and Redis are not in \"server CPU\".`,
    node: "Node: `bench/baseline/server.mjs`, socket.io 4 with in-memory rooms and history, presence broadcast per join (no batching).",
  };
  const title = `# Baat-Chit benchmark: ${servers.map((k) => LABELS[k]).join(", ")}`;
  const md = [
    title,
    "",
    `Run ${new Date().toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, commit ${commit}; took ${minutes} min.`,
    `Command: \`node bench/run.mjs ${process.argv.slice(2).join(" ")}\`. Medians of ${REPS} repetitions${opt.scenarios.split(",").some((n) => SCENARIOS[n].medianBy) ? " (a search's metrics all from its median repetition)" : ""}; ${DURATION / 1000} s measured after ${WARMUP / 1000} s of warm-up per load run; loopback only.`,
    ...(PROFILE !== "release" || opt.parallel
      ? [
          "",
          `**A smoke, not a measurement:** ${[PROFILE !== "release" && "debug builds", opt.parallel && "the server kinds of each scenario ran at the same time, sharing the CPU"].filter(Boolean).join("; ")}. It checks that every run works and loses nothing; its figures mean nothing.`,
        ]
      : []),
    "",
    ...servers.map((k) => describe[k]),
    "The load generator runs on the same 2 cores as the server, so absolute numbers are a floor, not a ceiling.",
    "",
    `Load generator: ${LOADGEN === "rust" ? `\`${BIN_DIR}/baat-chit-loadgen\` (bench/loadgen), clients spread over ${opt.sources} source addresses 127.0.0.1…, ${opt.size} B message texts` : "`bench/load/worker.mjs` (Node)"}.`,
    "",
    ...summary,
    ...header,
    ...lines,
    "",
    ...details.flatMap(({ title, lines }) => [`### ${title}`, "", ...lines, ""]),
    "## Problems seen",
    "",
    ...(notes.length ? notes.map((n) => `- ${n}`) : ["- none: every client connected, joined and stayed connected; no server warnings."]),
    "",
  ].join("\n");
  mkdirSync(resolve(opt.out, ".."), { recursive: true });
  writeFileSync(opt.out, md);
  if (!quiet) console.log(`\n${[...header, ...lines].join("\n")}\n\nwritten to ${opt.out}`);
}

await main();
