// Soak: steady load with connection churn against the release build, for
// --duration seconds (10 minutes by default). Every --sample seconds it
// prints the server's RSS and open file count; at the end it compares the
// first and the last minute after warm-up and says whether both stayed
// flat. Not part of the test suite: `make -C bench soak`.
//
//   node bench/soak.mjs [--duration 600] [--warmup 60] [--sample 10] ...
//
// `--server URL --pid PID` soaks a server started elsewhere (e.g. under
// heaptrack) instead of starting the release build; `--steady 0` churns
// only.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "./load/client.mjs";

const BENCH = import.meta.dirname;
const ROOT = resolve(BENCH, "..");

const { values: opt } = parseArgs({
  options: {
    duration: { type: "string", default: "600" }, // seconds of load
    warmup: { type: "string", default: "60" }, // seconds before the "first minute"
    sample: { type: "string", default: "10" }, // seconds between samples
    steady: { type: "string", default: "200" }, // clients connected throughout
    rooms: { type: "string", default: "20" },
    rate: { type: "string", default: "0.5" }, // messages/s per steady client
    churn: { type: "string", default: "20" }, // new short-lived connections per second
    out: { type: "string", default: join(BENCH, "results", "soak.md") },
    server: { type: "string" }, // URL of a server started elsewhere
    pid: { type: "string" }, // its process id, for RSS and open files
  },
});
const num = (name) => Number(opt[name]);
const DURATION = num("duration") * 1000;
const WARMUP = num("warmup") * 1000;
const SAMPLE = num("sample") * 1000;
/** The span compared at each end: a minute, or a third of a short run. */
const WINDOW = Math.min(60_000, (DURATION - WARMUP) / 3);
const BINARY = process.env.BAATCHIT_BIN ?? join(ROOT, "target", "release", "baat-chit");

if (!existsSync(join(BENCH, "node_modules", "ws"))) {
  console.error("bench dependencies missing: run `npm ci --prefix bench` (or `make -C bench soak`)");
  process.exit(1);
}
if (WINDOW < 2 * SAMPLE) {
  console.error(`--duration must leave at least ${(6 * SAMPLE + WARMUP) / 1000} s after --warmup`);
  process.exit(1);
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const counts = { sent: 0, acked: 0, refused: 0, churned: 0, churnFailed: 0, dropped: 0 };
const failures = new Map();
const note = (error) => {
  const key = String(error?.message ?? error).slice(0, 100);
  failures.set(key, (failures.get(key) ?? 0) + 1);
};

const server = opt.server ? attach(opt.server, Number(opt.pid)) : await startServer();
console.log(`soak: ${server.url}, ${opt.steady} steady clients in ${opt.rooms} rooms at ${opt.rate} msg/s, ` +
  `${opt.churn} connections/s churning, ${DURATION / 1000} s`);
const steady = await connectSteady();
const started = Date.now();
const until = started + DURATION;
const samples = [];
const take = () => {
  const s = sample(started);
  samples.push(s);
  console.log(`t=${s.t}s rss=${s.rssMiB.toFixed(1)} MiB open files=${s.fds} sent=${s.sent} acked=${s.acked} ` +
    `churned=${s.churned} churn failed=${s.churnFailed}`);
};
const sampler = setInterval(take, SAMPLE);
take();
await Promise.all([...steady.map((entry) => sendSteadily(entry, until)), churn(until)]);
clearInterval(sampler);
take();

for (const { client } of steady) client.close();
await sleep(3000);
const quiet = sample(started);
await server.stop();
report(samples, quiet);

/** Starts the release build on a free port with a fresh database, limits off. */
async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "baat-chit-soak-"));
  const args = ["--listen", "127.0.0.1:0", "--database", `sqlite://${dir}/soak.db`, "--rate-limit", "1000000", "--max-connections-per-ip", "0"];
  const env = { ...process.env, RUST_LOG: "warn", BAATCHIT_MAX_CONNECTIONS_PER_IP: "0" };
  const child = spawn(BINARY, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let logs = "";
  child.stderr.on("data", (chunk) => (logs += chunk));
  const url = await new Promise((found, failed) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) found(match[1]);
    });
    child.once("exit", (code) => failed(new Error(`server exited (${code}) before listening:\n${logs}`)));
  });
  return {
    url,
    pid: child.pid,
    logs: () => logs,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((done) => child.once("exit", done));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A server started elsewhere: it is left running, and its logs unread. */
function attach(url, pid) {
  if (!pid) throw new Error("--server needs --pid");
  return { url, pid, logs: () => "", async stop() {} };
}

/** Connects and joins the steady clients, 50 at a time. */
async function connectSteady() {
  const entries = Array.from({ length: num("steady") }, (_, i) => ({ i, room: `soak-${i % num("rooms")}` }));
  for (let at = 0; at < entries.length; at += 50) {
    await Promise.all(entries.slice(at, at + 50).map(async (entry) => {
      entry.client = new Client(server.url, { onClose: () => (counts.dropped += 1) });
      await entry.client.ready;
      const ack = await entry.client.request("join", { room: entry.room, name: `steady ${entry.i}` });
      if (!ack.ok) throw new Error(`steady join refused: ${ack.error.code}`);
    }));
  }
  return entries;
}

/** One steady client sends `--rate` messages a second until `until`. */
async function sendSteadily({ client, room, i }, until) {
  const period = 1000 / num("rate");
  await sleep(Math.random() * period);
  for (let n = 0; Date.now() < until && client.open; n += 1) {
    counts.sent += 1;
    client.request("message", { room, text: `steady ${i} #${n}` }).then(
      (ack) => (ack.ok ? (counts.acked += 1) : (counts.refused += 1, note(`refused: ${ack.error.code}`))),
      note,
    );
    await sleep(period);
  }
}

/** Starts `--churn` short lives a second until `until`; waits for them all. */
async function churn(until) {
  const lives = [];
  for (let n = 0; Date.now() < until; n += 1) {
    lives.push(shortLife(n).then(() => (counts.churned += 1), (error) => (counts.churnFailed += 1, note(error))));
    await sleep(1000 / num("churn"));
  }
  await Promise.all(lives);
}

/** Connect, join, send, stay a moment, leave, disconnect. */
async function shortLife(n) {
  const client = new Client(server.url);
  try {
    await client.ready;
    const room = `soak-${n % num("rooms")}`;
    const joined = await client.request("join", { room, name: `churn ${n}` });
    if (!joined.ok) throw new Error(`churn join refused: ${joined.error.code}`);
    const sent = await client.request("message", { room, text: `churn ${n}` });
    if (!sent.ok) throw new Error(`churn message refused: ${sent.error.code}`);
    await sleep(500 + Math.random() * 2500);
    const left = await client.request("leave", { room });
    if (!left.ok) throw new Error(`churn leave refused: ${left.error.code}`);
  } finally {
    client.close();
  }
}

/** The server's RSS (MiB), open files and connections gauge, now. */
function sample(started) {
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  return {
    t: Math.round((Date.now() - started) / 1000),
    rssMiB: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024,
    fds: readdirSync(`/proc/${server.pid}/fd`).length,
    ...counts,
  };
}

/** The server's warnings and errors, each kind once with a count. */
function serverProblems() {
  const kinds = new Map();
  for (const line of server.logs().replace(/\x1b\[[0-9;]*m/g, "").split("\n")) {
    if (!/\b(WARN|ERROR)\b/.test(line)) continue;
    const kind = line.replace(/^\S+Z\s+/, "").replace(/sid=\S+/g, "sid=…").trim();
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return [...kinds].map(([kind, n]) => `${n}× ${kind}`);
}

/** Prints the series and the verdict; writes them to `--out`. */
function report(series, quiet) {
  const lines = ["| t (s) | RSS (MiB) | open files | sent | acked | churned | churn failed |", "|---:|---:|---:|---:|---:|---:|---:|"];
  for (const s of series) {
    lines.push(`| ${s.t} | ${s.rssMiB.toFixed(1)} | ${s.fds} | ${s.sent} | ${s.acked} | ${s.churned} | ${s.churnFailed} |`);
  }
  const mean = (list, key) => list.reduce((sum, s) => sum + s[key], 0) / list.length;
  const first = series.filter((s) => s.t * 1000 >= WARMUP && s.t * 1000 <= WARMUP + WINDOW);
  const last = series.filter((s) => s.t * 1000 >= DURATION - WINDOW && s.t * 1000 <= DURATION);
  // The window halfway between warm-up and the end: growth that stops
  // (caches filling up to their bound) is a plateau, not a leak.
  const middle = (WARMUP + DURATION) / 2;
  const half = series.filter((s) => s.t * 1000 >= middle && s.t * 1000 <= middle + WINDOW);
  const rss = [mean(first, "rssMiB"), mean(last, "rssMiB")];
  const rssHalf = mean(half, "rssMiB");
  const fds = [mean(first, "fds"), mean(last, "fds")];
  // Flat: RSS within 10%, open files within 10% (connections come and go
  // by the second, so at least 10 files either way).
  const rssFlat = rss[1] - rss[0] <= rss[0] * 0.1;
  // Or a plateau: over the second half of the run it moved by at most 3%.
  const rssSettled = rss[1] - rssHalf <= rssHalf * 0.03;
  const fdsFlat = Math.abs(fds[1] - fds[0]) <= Math.max(10, fds[0] * 0.1);
  const window = `${WINDOW / 1000} s`;
  const verdict = [
    `RSS: ${rss[0].toFixed(1)} MiB in the first ${window} after warm-up, ${rss[1].toFixed(1)} MiB in the last: ${rssVerdict()}`,
    `open files: ${fds[0].toFixed(0)} then ${fds[1].toFixed(0)}: ${fdsFlat ? "flat" : "CHANGED"}`,
    `after the load (3 s later): ${quiet.rssMiB.toFixed(1)} MiB, ${quiet.fds} open files`,
    `messages: ${counts.sent} sent, ${counts.acked} acked, ${counts.refused} refused; ` +
      `${counts.churned} short lives done, ${counts.churnFailed} failed; ${counts.dropped} steady clients dropped`,
    ...[...failures].map(([why, n]) => `failure: ${n}× ${why}`),
    ...serverProblems().map((line) => `server: ${line}`),
  ];
  const text = [
    `# Soak, ${new Date().toISOString()}`,
    "",
    `${opt.steady} steady clients in ${opt.rooms} rooms at ${opt.rate} msg/s each; ${opt.churn} connections/s ` +
      `connecting, joining, sending, leaving and disconnecting; ${DURATION / 1000} s, sampled every ${SAMPLE / 1000} s.`,
    "",
    ...lines,
    "",
    ...verdict.map((line) => `- ${line}`),
    "",
  ].join("\n");
  console.log(`\n${text}`);
  mkdirSync(resolve(opt.out, ".."), { recursive: true });
  writeFileSync(opt.out, text);
  function rssVerdict() {
    if (rssFlat) return "flat";
    const moved = `${rssHalf.toFixed(1)} MiB from t=${Math.round(middle / 1000)} s, ${rss[1].toFixed(1)} MiB at the end`;
    return rssSettled ? `grew, then a plateau (${moved})` : `GREW (${moved})`;
  }
  const ok = (rssFlat || rssSettled) && fdsFlat && counts.churnFailed === 0 && counts.dropped === 0;
  process.exitCode = ok ? 0 : 1;
}
