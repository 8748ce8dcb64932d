// Crashes and stops under load. SIGKILL, 20 rounds in a row on the same
// SQLite file: every acked message is there after each restart, the same
// id, seq, user and text, and the file passes PRAGMA integrity_check.
// SIGTERM: the server exits 0 within 10 s, its clients see a transport
// close (not a server disconnect), come back by themselves to the restarted
// server, and no acked message is lost. Always one process on SQLite, also
// when the suite runs on a cluster (tests/cluster/ kills cluster processes).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, test } from "node:test";
import { startServer } from "../support/server.mjs";
import { brief, closeClients, connect, range, sleep, uniqueRoom } from "./helpers.mjs";

const ROUNDS = 20;
const WRITERS = 3;
/** Messages each writer keeps in flight. */
const IN_FLIGHT = 8;

const servers = [];
after(async () => {
  closeClients();
  for (const server of servers) await server.kill();
  for (const server of servers) server.cleanup();
});

// No limits: the writers send as fast as acks come back, and the reader
// takes a join per page of 500 to read the history back. On a fast machine
// the two rooms pass 15,000 messages, more than the 30 joins a minute a
// connection is allowed by default.
const NO_LIMITS = ["--rate-limit", "0", "--user-rate-limit", "0", "--join-rate-limit", "0"];

async function start(options = {}) {
  const server = await startServer({ ...options, args: NO_LIMITS });
  servers.push(server);
  return server;
}

test("SIGKILL under load, 20 rounds on one SQLite file: every acked message survives and the file is sound", async () => {
  const rooms = [uniqueRoom("crash"), uniqueRoom("crash")];
  const acked = [];
  let dir;
  for (let round = 1; round <= ROUNDS; round += 1) {
    const server = await start({ dir });
    dir = server.dir;
    await assertStored(server, rooms, acked, `round ${round}, after restarting`);
    const writers = await writersIn(server, rooms);
    const before = acked.length;
    const load = writers.map((writer, w) => writeUntilCut(writer, `r${round} w${w}`, acked));
    // Kill at a random moment once the load is well under way.
    await until(() => acked.length >= before + 40, 10_000, `round ${round}: the load did not start`);
    await sleep(Math.random() * 150);
    await server.kill();
    await Promise.all(load);
    closeClients();
    assert.equal(integrityCheck(server.dbPath), "ok", `round ${round}: PRAGMA integrity_check`);
  }
  const last = await start({ dir });
  await assertStored(last, rooms, acked, "after the last round");
  assert.ok(acked.length >= ROUNDS * 40, `only ${acked.length} messages were acked`);
});

test("SIGTERM under load: exit 0 within 10 s, clients told and back by themselves, nothing acked lost", async () => {
  const first = await start();
  const rooms = [uniqueRoom("term"), uniqueRoom("term")];
  const writers = await writersIn(first, rooms, { reconnection: true });
  const acked = [];
  const load = writers.map((writer, w) => writeUntilCut(writer, `term w${w}`, acked));
  await until(() => acked.length >= 100, 10_000, "the load did not start");

  const signalledAt = Date.now();
  const exit = await first.stop();
  const tookMs = Date.now() - signalledAt;
  assert.deepEqual(exit, { code: 0, signal: null }, "exit status");
  assert.ok(tookMs < 10_000, `exited ${tookMs} ms after SIGTERM`);
  await Promise.all(load);
  for (const writer of writers) {
    const [reason] = writer.received("disconnect");
    assert.ok(["transport close", "transport error"].includes(reason), `a client was told "${reason}"`);
  }

  // Restarted where it was, the clients come back on their own.
  const second = await start({ dir: first.dir, listen: `127.0.0.1:${first.port}` });
  for (const writer of writers) {
    await until(() => writer.socket.connected, 10_000, "a client did not reconnect by itself");
  }
  await assertStored(second, rooms, acked, "after SIGTERM");
  const back = writers[0];
  await back.join(back.room, back.name, { since: 0 });
  assert.equal((await back.say(back.room, "after the restart")).text, "after the restart");
});

/** Connects `WRITERS` clients, spread over `rooms`, each joined to its room. */
async function writersIn(server, rooms, options = {}) {
  const writers = [];
  for (let w = 0; w < WRITERS; w += 1) {
    const writer = await connect(server, { transports: ["websocket"], ...options });
    writer.socket.auth = { token: writer.token };
    writer.room = rooms[w % rooms.length];
    writer.name = `writer ${w}`;
    await writer.join(writer.room, writer.name);
    writers.push(writer);
  }
  return writers;
}

/**
 * Keeps `IN_FLIGHT` messages in flight from `writer` until its connection
 * drops; pushes every acked message onto `acked`.
 */
async function writeUntilCut(writer, tag, acked) {
  const cut = new Promise((done) => writer.socket.once("disconnect", done));
  let dropped = false;
  cut.then(() => (dropped = true));
  let sent = 0;
  const lane = async () => {
    while (!dropped) {
      const text = `${tag} #${sent++}`;
      const ack = await Promise.race([
        new Promise((done) => writer.socket.emit("message", { room: writer.room, text, clientId: text }, done)),
        cut.then(() => null),
      ]);
      if (ack === null) return;
      assert.equal(ack?.ok, true, `message refused: ${brief(ack)}`);
      acked.push(ack.message);
    }
  };
  await Promise.all(range(1, IN_FLIGHT).map(lane));
}

/** Asserts every message in `acked` is stored as acked (read back through the contract). */
async function assertStored(server, rooms, acked, when) {
  const reader = await connect(server, { transports: ["websocket"] });
  for (const room of rooms) {
    const stored = new Map();
    for (let since = 0, more = true; more;) {
      const ack = await reader.join(room, "reader", { since });
      for (const message of ack.history) stored.set(message.seq, message);
      more = ack.hasMore;
      since = ack.history.at(-1)?.seq ?? since;
    }
    const seqs = [...stored.keys()];
    assert.deepEqual(seqs, range(1, seqs.length), `${when}: seqs of ${room} have a gap`);
    for (const message of acked.filter((m) => m.room === room)) {
      assert.deepEqual(stored.get(message.seq), message, `${when}: acked message ${message.seq} of ${room}`);
    }
  }
  reader.close();
}

/** `PRAGMA integrity_check` by the sqlite3 CLI, read-only so the server recovers the WAL itself. */
function integrityCheck(dbPath) {
  return execFileSync("sqlite3", ["-readonly", dbPath, "PRAGMA integrity_check;"], { encoding: "utf8" }).trim();
}

async function until(condition, timeout, failure = "timed out") {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(failure);
    await sleep(10);
  }
}
