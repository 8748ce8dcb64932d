// Search over a large history: seeds N messages straight into the store's
// schema with SQL (no sockets), starts the release server on it, and times
// `search` calls through the real server with the official client, one at a
// time from one connection. Reports p50/p95/p99 per kind of query and
// overall, and writes bench/results/search.md.
//
//   make -C bench search                         # SQLite, 1 000 000 messages
//   make -C bench search ARGS="--backend postgres"
//   node search.mjs --messages 100000 --queries 200
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { io } from "socket.io-client";

const ROOT = resolve(import.meta.dirname, "..");
process.env.BAATCHIT_BIN ??= join(ROOT, "target", "release", "baat-chit");
const { startServer } = await import("../tests/support/server.mjs");

const { values: opts } = parseArgs({
  options: {
    backend: { type: "string", default: "sqlite" },
    messages: { type: "string", default: "1000000" },
    rooms: { type: "string", default: "500" },
    vocabulary: { type: "string", default: "20000" },
    words: { type: "string", default: "10" },
    queries: { type: "string", default: "300" },
    postgres: { type: "string", default: "postgres://postgres@127.0.0.1:5432" },
    out: { type: "string", default: join(import.meta.dirname, "results", "search.md") },
    /** Leaves the seeded SQLite file in place (its path is printed), to look into. */
    keep: { type: "boolean", default: false },
  },
});
const N = Number(opts.messages);
const ROOMS = Number(opts.rooms);
const VOCAB = Number(opts.vocabulary);
const WORDS = Number(opts.words);

/** A pronounceable word per index, so every index is one distinct token. */
function word(i) {
  const c = "bcdfghklmnprstvz";
  const v = "aeiou";
  let s = "";
  let n = i + VOCAB; // at least three syllables' worth of digits
  do {
    s += c[n % 16] + v[Math.floor(n / 16) % 5];
    n = Math.floor(n / 80);
  } while (n > 0);
  return s;
}

/**
 * The seeding SQL: message i's words are picked by a hash of (i, k),
 * skewed so low word indices are common (density ∝ 1/√index, roughly
 * Zipf-like), as in real chat where a few words are everywhere.
 */
function seedSql(backend) {
  const vocab = Array.from({ length: VOCAB }, (_, i) => `(${i}, '${word(i)}')`).join(",");
  // A hash of (i, k) that mixes well enough that a message's words are
  // independent of each other (SQL without XOR: a ^ b = (a | b) - (a & b)).
  const hash = (k) => {
    const a = `((n.i * ${WORDS} + ${k}) * 2654435761 % 4294967296)`;
    const mixed = `((${a} | (${a} >> 15)) - (${a} & (${a} >> 15)))`;
    return `(${mixed} * 73244475 % 4294967296)`;
  };
  const pick = (k) => `(SELECT w FROM vocab WHERE vocab.i = ((${hash(k)} % ${VOCAB}) * (${hash(k)} % ${VOCAB})) / ${VOCAB})`;
  const words = Array.from({ length: WORDS }, (_, k) => pick(k)).join(" || ' ' || ");
  const user = backend === "sqlite" ? "printf('%032x', n.i % 1000)" : "lpad(to_hex(n.i % 1000), 32, '0')";
  const text = backend === "sqlite" ? `(${words})` : `convert_to(${words}, 'UTF8')`;
  const series = backend === "sqlite"
    ? `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${N - 1})`
    : `WITH n(i) AS (SELECT generate_series(0, ${N - 1})::bigint)`;
  return [
    backend === "sqlite" ? "PRAGMA synchronous = OFF;" : "SET synchronous_commit = off;",
    "CREATE TEMP TABLE vocab (i INTEGER PRIMARY KEY, w TEXT NOT NULL);",
    `INSERT INTO vocab VALUES ${vocab};`,
    `${series} INSERT INTO messages (room, seq, user_id, user_name, text, ts)
       SELECT 'bench-' || (n.i % ${ROOMS}), n.i / ${ROOMS} + 1, ${user}, 'user', ${text}, 1700000000000 + n.i FROM n;`,
    "INSERT INTO rooms (name, last_seq) SELECT room, MAX(seq) FROM messages GROUP BY room;",
    backend === "sqlite" ? "PRAGMA wal_checkpoint(TRUNCATE);" : "ANALYZE messages;",
  ].join("\n");
}

/** Queries of three kinds, by how many messages match them. */
function queries(count) {
  const rnd = mulberry32(42);
  const at = (lo, hi) => Math.floor(lo + rnd() * (hi - lo));
  const kinds = {
    "rare word (top 50% of the vocabulary)": () => word(at(VOCAB / 2, VOCAB)),
    "common word (top 1%)": () => word(at(0, VOCAB / 100)),
    "two common words (top 1% and top 5%)": () => `${word(at(0, VOCAB / 100))} ${word(at(0, VOCAB / 20))}`,
    "phrase of two very common words (top 0.1%)": () => `"${word(at(0, VOCAB / 1000))} ${word(at(0, VOCAB / 1000))}"`,
  };
  const list = [];
  for (let i = 0; i < count; i += 1) {
    const [kind, make] = Object.entries(kinds)[i % 4];
    list.push({ kind, q: make() });
  }
  return list;
}

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The server's CPU time so far (user + system, in ms, 10 ms ticks): the
 * machine is shared, so wall times carry other tenants' load; CPU time
 * per query does not.
 */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * PostgreSQL's backend processes serving the bench database (the server's
 * pool): the search itself runs there, so its CPU time is counted too.
 */
function databasePids(dbName) {
  if (opts.backend !== "postgres") return [];
  const out = execFileSync("psql", ["-Atq", `${opts.postgres}/postgres`, "-c",
    `SELECT pid FROM pg_stat_activity WHERE datname = '${dbName}'`], { encoding: "utf8" });
  return out.split("\n").filter(Boolean).map(Number);
}

/** The CPU time so far of these processes (ms); one that has gone counts 0. */
function cpuOfMs(pids) {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpuMs(pid);
    } catch {
      // The pool closed that connection.
    }
  }
  return sum;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "baat-chit-search-"));
  const dbName = `baatchit_bench_search_${process.pid}`;
  const database = opts.backend === "sqlite" ? `sqlite://${join(dir, "bench.db")}` : `${opts.postgres}/${dbName}`;
  const flags = ["--search-rate-limit", "0"];
  try {
    // The server creates and migrates the database; then it is seeded.
    let server = await startServer({ database, args: flags, dir });
    await server.stop();
    const seeding = Date.now();
    const sql = seedSql(opts.backend);
    if (opts.backend === "sqlite") {
      execFileSync("sqlite3", [join(dir, "bench.db")], { input: sql, maxBuffer: 1 << 26 });
    } else {
      execFileSync("psql", ["-q", "-v", "ON_ERROR_STOP=1", database], { input: sql, maxBuffer: 1 << 26 });
    }
    const seedSeconds = (Date.now() - seeding) / 1000;
    console.log(`seeded ${N} messages in ${seedSeconds.toFixed(1)} s`);
    server = await startServer({ database, args: flags, dir });
    const socket = io(server.url, { auth: { protocol: 2 }, transports: ["websocket"] });
    await new Promise((done) => socket.once("session", done));
    const ask = async (q) => {
      const started = process.hrtime.bigint();
      const ack = await socket.timeout(30_000).emitWithAck("search", { q, limit: 20 });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (!ack.ok) throw new Error(`search ${q}: ${JSON.stringify(ack.error)}`);
      return { ms, hits: ack.results.length };
    };
    for (const { q } of queries(20)) await ask(q); // warm the caches
    const dbPids = databasePids(dbName);
    const byKind = {};
    const all = [];
    const loadBefore = loadavg()[0];
    for (const { kind, q } of queries(Number(opts.queries))) {
      const cpuBefore = cpuMs(server.process.pid);
      const dbCpuBefore = cpuOfMs(dbPids);
      const { ms, hits } = await ask(q);
      const entry = (byKind[kind] ??= { times: [], hits: 0, cpu: 0, dbCpu: 0 });
      entry.times.push(ms);
      entry.hits += hits;
      entry.cpu += cpuMs(server.process.pid) - cpuBefore;
      entry.dbCpu += cpuOfMs(dbPids) - dbCpuBefore;
      all.push(ms);
    }
    const load = [loadBefore, loadavg()[0]];
    socket.close();
    await server.stop();
    report({ byKind, all, seedSeconds, load });
  } finally {
    if (opts.backend === "postgres") {
      try {
        execFileSync("psql", ["-q", `${opts.postgres}/postgres`, "-c", `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`]);
      } catch (error) {
        console.error(`could not drop ${dbName}: ${error.message}`);
      }
    }
    if (opts.keep) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

function report({ byKind, all, seedSeconds, load }) {
  const pg = opts.backend === "postgres";
  const row = (name, times, hits, cpu, dbCpu) => {
    const sorted = [...times].sort((a, b) => a - b);
    const fmt = (p) => percentile(sorted, p).toFixed(1);
    const mean = (x) => (x === undefined ? "" : (x / times.length).toFixed(1));
    const db = pg ? ` ${mean(dbCpu)} |` : "";
    return `| ${name} | ${times.length} | ${fmt(50)} | ${fmt(95)} | ${fmt(99)} | ${sorted.at(-1).toFixed(1)} | ${mean(cpu)} |${db} ${mean(hits)} |`;
  };
  const sortedAll = [...all].sort((a, b) => a - b);
  const p95 = percentile(sortedAll, 95);
  const lines = [
    `## ${opts.backend === "sqlite" ? "SQLite (FTS5)" : "PostgreSQL (tsvector, GIN)"}: ${N.toLocaleString("en")} messages`,
    "",
    `${new Date().toISOString().slice(0, 16)} UTC, ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), \`${relative(ROOT, process.env.BAATCHIT_BIN)}\`, ` +
      `${ROOMS} public rooms, ${WORDS} words a message from a ${VOCAB}-word vocabulary (skewed: few words are everywhere), ` +
      `seeded in ${seedSeconds.toFixed(0)} s by SQL. One connection, one search at a time, limit 20, ` +
      "times measured by the client from emit to ack (milliseconds).",
    "",
    `Load average (1 min) ${load[0].toFixed(1)} before and ${load[1].toFixed(1)} after the queries: ` +
      "other tenants share the machine, so wall times include waiting for a core; " +
      "`server CPU` is the server's own CPU time per query (mean, from /proc, 10 ms ticks)" +
      (pg ? "; the search itself runs in PostgreSQL's processes: `DB CPU` is theirs (the backends of the server's pool), counted the same way." : "."),
    "",
    pg ? "| query | n | p50 | p95 | p99 | max | server CPU | DB CPU | results |" : "| query | n | p50 | p95 | p99 | max | server CPU | results |",
    pg ? "|---|---|---|---|---|---|---|---|---|" : "|---|---|---|---|---|---|---|---|",
    ...Object.entries(byKind).map(([kind, { times, hits, cpu, dbCpu }]) => row(kind, times, hits, cpu, dbCpu)),
    row("**all**", all),
    "",
    `p95 over all queries: **${p95.toFixed(1)} ms** (target ≤ 100 ms): ${p95 <= 100 ? "met" : "NOT met"}.`,
    "",
  ];
  const text = lines.join("\n");
  console.log(text);
  mkdirSync(resolve(opts.out, ".."), { recursive: true });
  const header = "# Search benchmark\n\nWritten by `make -C bench search` (see bench/README.md); newest run first per backend.\n\n";
  let kept = "";
  try {
    const old = readFileSync(opts.out, "utf8");
    const own = lines[0];
    kept = old.replace(header, "").split(/(?=^## )/m).filter((s) => s.trim() && !s.startsWith(own.split(":")[0])).join("");
  } catch {
    // No earlier results.
  }
  writeFileSync(opts.out, header + text + "\n" + kept);
}

await main();
