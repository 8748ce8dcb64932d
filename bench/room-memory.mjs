// Room memory: how much server memory rooms full of the largest messages
// cost. Fills --rooms rooms with --messages messages of --chars four-byte
// characters each (2,000 is the most a message may hold: about 8 KB of
// UTF-8), the way one address could (50 rooms per connection), and prints
// the server's RSS before, after filling, and once every client has left
// (the rooms then idle). Not part of the test suite:
//
//   node bench/room-memory.mjs [--rooms 1000] [--messages 50] [--chars 2000] [--out FILE]
//
// `BAATCHIT_BIN` picks the binary (default: the release build), so two
// builds can be compared.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "./load/client.mjs";

const BENCH = import.meta.dirname;
const ROOT = resolve(BENCH, "..");
const BINARY = process.env.BAATCHIT_BIN ?? join(ROOT, "target", "release", "baat-chit");
/** Rooms one connection may be in by default: an attacker uses them all. */
const ROOMS_PER_CONNECTION = 50;
/** Messages in flight at once, across all connections. */
const IN_FLIGHT = 64;

const { values: opt } = parseArgs({
  options: {
    rooms: { type: "string", default: "1000" },
    messages: { type: "string", default: "50" },
    chars: { type: "string", default: "2000" },
    settle: { type: "string", default: "3" }, // seconds to wait before each reading
    out: { type: "string" },
    label: { type: "string", default: "" },
  },
});
const ROOMS = Number(opt.rooms);
const MESSAGES = Number(opt.messages);
// U+1F600: one character, four bytes of UTF-8, sent as is in JSON.
const TEXT = "\u{1F600}".repeat(Number(opt.chars));
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

if (!existsSync(BINARY)) {
  console.error(`${BINARY} missing: cargo build --release (or set BAATCHIT_BIN)`);
  process.exit(1);
}

const server = await startServer();
try {
  const clients = await connect(Math.ceil(ROOMS / ROOMS_PER_CONNECTION));
  const rooms = await joinAll(clients);
  const readings = [await reading("connected, rooms joined, empty")];
  const started = Date.now();
  await fill(rooms);
  const seconds = (Date.now() - started) / 1000;
  readings.push(await reading(`${ROOMS} rooms × ${MESSAGES} messages sent`));
  for (const client of clients) client.close();
  readings.push(await reading("every client gone (rooms idle)"));
  report(readings, seconds);
} finally {
  await server.stop();
}

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "baat-chit-room-memory-"));
  const args = [
    "--listen", "127.0.0.1:0", "--database", `sqlite://${dir}/rooms.db`,
    "--rate-limit", "0", "--user-rate-limit", "0", "--join-rate-limit", "0",
    "--max-connections-per-ip", "0",
  ];
  const child = spawn(BINARY, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "warn" } });
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
    async stop() {
      child.kill("SIGTERM");
      await new Promise((done) => child.once("exit", done));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function connect(count) {
  const clients = [];
  for (let i = 0; i < count; i += 1) {
    const client = new Client(server.url, { onClose: (why) => console.error(`client ${i} closed: ${why}`) });
    await client.ready;
    clients.push(client);
  }
  return clients;
}

/** Each client joins its 50 rooms; returns every room with its client. */
async function joinAll(clients) {
  const rooms = Array.from({ length: ROOMS }, (_, i) => ({ room: `mem-${i}`, client: clients[Math.floor(i / ROOMS_PER_CONNECTION)] }));
  await Promise.all(rooms.map(async ({ room, client }) => {
    const ack = await client.request("join", { room, name: "filler" });
    if (!ack.ok) throw new Error(`join ${room} refused: ${ack.error.code}`);
  }));
  return rooms;
}

/** Sends every message, `IN_FLIGHT` at a time, each acked before counting. */
async function fill(rooms) {
  const work = rooms.flatMap(({ room, client }) => Array.from({ length: MESSAGES }, () => ({ room, client })));
  let next = 0;
  const worker = async () => {
    while (next < work.length) {
      const { room, client } = work[next++];
      const ack = await client.request("message", { room, text: TEXT });
      if (!ack.ok) throw new Error(`message to ${room} refused: ${ack.error.code}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

async function reading(when) {
  await sleep(Number(opt.settle) * 1000);
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  const rssMiB = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
  console.log(`${when}: RSS ${rssMiB.toFixed(1)} MiB`);
  return { when, rssMiB };
}

function report(readings, seconds) {
  const textMiB = (ROOMS * MESSAGES * Buffer.byteLength(TEXT)) / 2 ** 20;
  const base = readings[0].rssMiB;
  const rows = readings.map(({ when, rssMiB }) =>
    `| ${when} | ${rssMiB.toFixed(1)} | ${(rssMiB - base).toFixed(1)} | ${(((rssMiB - base) * 1024) / ROOMS).toFixed(1)} |`);
  const lines = [
    `# Room memory${opt.label ? `: ${opt.label}` : ""}, ${new Date().toISOString()}`,
    "",
    `${ROOMS} rooms (${ROOMS_PER_CONNECTION} per connection), ${MESSAGES} messages each of ${opt.chars} four-byte characters ` +
      `(${Buffer.byteLength(TEXT)} bytes of text each, ${textMiB.toFixed(0)} MiB in all), sent in ${seconds.toFixed(0)} s; ` +
      `binary ${BINARY}.`,
    "",
    "| when | RSS (MiB) | growth (MiB) | growth per room (KiB) |",
    "|---|---:|---:|---:|",
    ...rows,
    "",
  ];
  console.log(lines.join("\n"));
  if (opt.out) writeFileSync(opt.out, lines.join("\n"));
}
