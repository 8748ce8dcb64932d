// PostgreSQL outage: while the database is unreachable, `message` answers
// `unavailable`, nothing is acked that is not stored and /healthz is 503;
// when the database comes back the server recovers by itself. The test
// stops a private PostgreSQL of its own, never the machine's shared one.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  assertError, brief, closeClients, connect, launch, range, seqs, sleep, uniqueRoom,
} from "../contract/helpers.mjs";
import { startPrivatePostgres } from "../support/postgres.mjs";

/** Longest a message may wait while the database is down (the store gives up after 2.5 s). */
const OUTAGE_ACK_MS = 10_000;
/** Longest the server may take to notice the database is back. */
const RECOVERY_MS = 20_000;

let postgres;
let server;

before(async () => {
  postgres = await startPrivatePostgres();
  // The database does not exist yet: the server creates it on first start.
  server = await launch({ database: postgres.url("baatchit"), args: ["--rate-limit", "10000"] });
}, { timeout: 90_000 });

after(async () => {
  closeClients();
  await server?.stop();
  server?.cleanup();
  await postgres?.destroy();
});

async function health() {
  const url = new URL("/healthz", server.url);
  return (await fetch(url, { signal: AbortSignal.timeout(OUTAGE_ACK_MS) })).status;
}

async function healthBecomes(status) {
  const deadline = Date.now() + RECOVERY_MS;
  let last;
  while (Date.now() < deadline) {
    last = await health().catch((error) => error.message);
    if (last === status) return;
    await sleep(200);
  }
  assert.fail(`/healthz did not become ${status} within ${RECOVERY_MS} ms (last: ${last})`);
}

/** Sends messages with a clientId each, one after another, until stopped; records each ack and when it was sent. */
function stream(client, room) {
  const sent = [];
  let running = true;
  const finished = (async () => {
    for (let i = 0; running; i += 1) {
      const clientId = `stream-${i}`;
      const at = Date.now();
      const ack = await client.emitWithTimeout(OUTAGE_ACK_MS, "message", { room, text: clientId, clientId });
      sent.push({ clientId, at, ack });
      await sleep(20);
    }
  })();
  return { sent, stop: async () => { running = false; await finished; } };
}

/** Every message of the room, oldest first, page by page. */
async function history(client, room) {
  const all = [];
  for (;;) {
    const ack = await client.emit("history", { room, after: all.at(-1)?.seq ?? 0, limit: 100 });
    assert.equal(ack?.ok, true, `history failed: ${brief(ack)}`);
    all.push(...ack.messages);
    if (!ack.hasMore) return all;
  }
}

test("while PostgreSQL is down messages are unavailable and /healthz is 503; afterwards the server recovers by itself and history holds exactly the acked messages", { timeout: 120_000 }, async () => {
  const room = uniqueRoom("outage");
  const [writer, streamer, reader] = await Promise.all([connect(server), connect(server), connect(server)]);
  for (const [client, name] of [[writer, "writer"], [streamer, "streamer"], [reader, "reader"]]) {
    await client.join(room, name);
  }
  assert.equal(await health(), 200, "/healthz before the outage");
  const first = await writer.say(room, "before the outage", { clientId: "before" });

  // Messages in flight while the database stops: each is acked or unavailable.
  const racing = stream(streamer, room);
  await sleep(300);
  await postgres.stop();
  const stoppedAt = Date.now();
  const down = await writer.emitWithTimeout(OUTAGE_ACK_MS, "message", { room, text: "while down", clientId: "down" });
  await racing.stop();
  assertError(down, "unavailable", "a message while PostgreSQL is down:");
  assert.equal(await health(), 503, "/healthz while PostgreSQL is down");
  const sentWhileDown = racing.sent.filter((s) => s.at > stoppedAt);
  assert.ok(sentWhileDown.length > 0, "the stream kept sending while the database was down");
  for (const { ack } of sentWhileDown) assertError(ack, "unavailable", "a streamed message while down:");

  await postgres.start();
  await healthBecomes(200);
  const back = await writer.say(room, "after the outage", { clientId: "after" });

  const acked = [first, ...racing.sent.filter((s) => s.ack?.ok).map((s) => s.ack.message), back];
  const stored = await history(writer, room);
  assert.deepEqual(seqs(stored), range(1, stored.length), "seqs have no gaps");
  assert.deepEqual(stored, [...acked].sort((a, b) => a.seq - b.seq), "history is exactly the acked messages, each once");
  assert.ok(!stored.some((m) => m.clientId === "down"), "a message answered unavailable was not stored");

  // Retrying what was unavailable stores each message once, now.
  const retries = [{ clientId: "down", text: "while down" }, ...racing.sent
    .filter((s) => !s.ack?.ok)
    .map((s) => ({ clientId: s.clientId, text: s.clientId }))];
  for (const { clientId, text } of retries) await streamer.say(room, text, { clientId });
  const healed = await history(writer, room);
  assert.equal(healed.length, stored.length + retries.length);
  assert.equal(new Set(healed.map((m) => m.clientId)).size, healed.length, "no message is stored twice");

  // The reader saw, live and in order, exactly what was stored: nothing unstored, nothing missing.
  await reader.waitForCount("message", healed.length, () => true, { timeout: RECOVERY_MS });
  assert.deepEqual(reader.received("message"), healed);
});
