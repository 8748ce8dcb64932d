// Limits: the maximum packet size and the per-connection message rate.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  assertError, brief, connect, get, processUrls, range, sendMany, seqs, sleep, uniqueRoom, useServer,
} from "./helpers.mjs";

/** A room with a witness that must keep working whatever others do. */
async function witnessedRoom(server) {
  const room = uniqueRoom();
  const witness = await connect(server, { transports: ["websocket"] });
  await witness.join(room, "witness");
  return { room, witness };
}

/**
 * What socket.io-client reports when the server closes a connection for a
 * packet over the maximum (docs/protocol.md, "Transport").
 */
const OVERSIZE_REASON = { websocket: "transport close", polling: "transport error" };

/**
 * Asserts the server still serves the witness and new connections, and
 * that the room stored and delivered exactly `stored` and then the talker's
 * "the server is still up": nothing of an oversized packet.
 */
async function assertStillServing(server, room, witness, stored = []) {
  assert.equal(witness.received("disconnect").length, 0, "the witness was disconnected too");
  const talker = await connect(server);
  await talker.join(room, "talker");
  const still = await talker.say(room, "the server is still up");
  await witness.waitFor("message", (m) => m.id === still.id);
  const expected = [...stored, still];
  assert.deepEqual(await witness.assertExactly("message", expected.length), expected, "delivered");
  assert.deepEqual((await witness.emit("history", { room })).messages, expected, "stored");
}

describe("with the default maximum payload", () => {
  const server = useServer();

  for (const transport of ["websocket", "polling"]) {
    test(`a packet over 16 KiB closes that ${transport} connection and the server keeps serving`, async () => {
      const { room, witness } = await witnessedRoom(server);
      const big = await connect(server, { transports: [transport] });
      await big.join(room, "big");
      big.send("message", { room, text: "x".repeat(17 * 1024) });
      const reason = await big.waitFor("disconnect", () => true, { timeout: 3000 });
      assert.equal(reason, OVERSIZE_REASON[transport]);
      await assertStillServing(server, room, witness);
    });
  }

  test("a packet under 16 KiB is answered, not cut off", async () => {
    const { room, witness } = await witnessedRoom(server);
    const client = await connect(server, { transports: ["websocket"] });
    assertError(await client.emit("join", { room, name: "n".repeat(15_000) }), "invalid_name");
    await client.join(room, "client");
    assertError(await client.emit("message", { room, text: "名".repeat(5000) }), "too_large");
    assert.equal((await client.say(room, "名".repeat(2000))).text.length, 2000);
    assert.equal(client.received("disconnect").length, 0);
    await witness.waitFor("message", (m) => m.user.name === "client");
  });
});

describe("with a 2 KiB maximum payload", () => {
  const server = useServer({ args: ["--max-payload", "2048"] });

  for (const transport of ["websocket", "polling"]) {
    test(`a valid message bigger than the configured maximum closes that ${transport} connection, unstored`, async () => {
      const { room, witness } = await witnessedRoom(server);
      const client = await connect(server, { transports: [transport] });
      await client.join(room, "client");
      const fits = await client.say(room, "é".repeat(900));
      assert.equal(fits.text.length, 900);
      await witness.waitFor("message", (m) => m.id === fits.id);
      // 1500 characters is a valid text, but 3000 bytes is over the packet limit.
      client.send("message", { room, text: "é".repeat(1500) });
      const reason = await client.waitFor("disconnect", () => true, { timeout: 3000 });
      assert.equal(reason, OVERSIZE_REASON[transport]);
      await assertStillServing(server, room, witness, [fits]);
    });
  }
});

describe("with a rate limit of 5 messages a second", () => {
  const server = useServer({ args: ["--rate-limit", "5"] });

  test("a burst over twice the rate is refused with rate_limited and retryAfterMs", async () => {
    const { room, witness } = await witnessedRoom(server);
    const sender = await connect(server);
    await sender.join(room, "sender");
    const started = Date.now();
    const acks = await Promise.all(range(1, 25).map((i) => sender.emit("message", { room, text: `burst ${i}` })));
    const refilled = Math.ceil(((Date.now() - started) / 1000) * 5);
    const accepted = acks.filter((ack) => ack.ok).length;
    assert.ok(accepted >= 10 && accepted <= 10 + refilled + 1, `accepted ${accepted} of 25 with a burst of 10`);
    assert.ok(acks.slice(0, 10).every((ack) => ack.ok), "the first 10 fit in the burst");
    const refused = acks.filter((ack) => !ack.ok);
    for (const ack of refused) {
      assertError(ack, "rate_limited");
      assert.equal(typeof ack.error.retryAfterMs, "number", `retryAfterMs in ${brief(ack)}`);
      assert.ok(ack.error.retryAfterMs > 0 && ack.error.retryAfterMs <= 1000, `retryAfterMs ${ack.error.retryAfterMs}`);
    }
    await witness.waitForCount("message", accepted);
    await sleep(200);
    assert.equal(witness.received("message").length, accepted, "refused messages were sent");
    const history = await sender.emit("history", { room });
    assert.equal(history.messages.length, accepted, "refused messages were stored");

    await sleep(Math.max(...refused.map((ack) => ack.error.retryAfterMs)));
    assert.equal((await sender.say(room, "after waiting")).text, "after waiting");
  });

  test("the limit is per connection and only on messages", async () => {
    const room = uniqueRoom();
    const tab1 = await connect(server);
    const tab2 = await connect(server, { token: tab1.token });
    await tab1.join(room, "tabby");
    await tab2.join(room, "tabby");
    const acks = await Promise.all(range(1, 15).map((i) => tab1.emit("message", { room, text: `m${i}` })));
    assert.ok(acks.some((ack) => !ack.ok), "tab1 should be rate limited");
    assert.equal((await tab2.say(room, "tab2 is not limited")).text, "tab2 is not limited");
    assert.equal((await tab1.emit("history", { room })).ok, true);
    assert.equal((await tab1.emit("rooms", {})).ok, true);
    assertError(await tab1.emit("message", { room, text: "  " }), "invalid_message");
    assertError(await tab1.emit("message", { room, text: "limited" }), "rate_limited");
  });
});

describe("with the default rate limit", () => {
  const server = useServer();

  test("a burst of 40 messages is accepted and more are refused", async () => {
    const room = uniqueRoom();
    const sender = await connect(server);
    await sender.join(room, "sender");
    const started = Date.now();
    const acks = await Promise.all(range(1, 80).map((i) => sender.emit("message", { room, text: `m${i}` })));
    const refilled = Math.ceil(((Date.now() - started) / 1000) * 20);
    const accepted = acks.filter((ack) => ack.ok).length;
    assert.ok(acks.slice(0, 40).every((ack) => ack.ok), "the first 40 fit in the default burst");
    assert.ok(accepted <= 40 + refilled + 1, `accepted ${accepted} of 80 with a burst of 40 at 20/s`);
    assert.ok(acks.some((ack) => ack.error?.code === "rate_limited"), "nothing was rate limited");
  });
});

/**
 * What socket.io-client reports when the server cuts off a reader too slow
 * to keep up: contract decision 2 closes the transport (no Socket.IO
 * disconnect packet), so the client reconnects by itself.
 */
const SLOW_READER_REASON = "transport close";

/** One message of the slow-reader test: about 6 KB on the wire. */
const bigText = (i) => `${i} ${"名".repeat(1990)}`;
const BIG_MESSAGE_BYTES = 6000;

/**
 * Most the test sends before calling the server's buffering unbounded:
 * twice what the kernel may buffer at both ends of a TCP connection (Linux
 * `tcp_rmem` plus `tcp_wmem` maxima; 64 MB elsewhere), so the server's own
 * queue is what must give.
 */
const MAX_SLOW_READER_BYTES = (() => {
  try {
    const max = (name) => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, "utf8").trim().split(/\s+/)[2]);
    return 2 * (max("tcp_rmem") + max("tcp_wmem"));
  } catch {
    return 64 * 1024 * 1024;
  }
})();

/** The server's message counters from /metrics, summed over its processes. */
async function counters(server) {
  const texts = await Promise.all(processUrls(server).map(async (url) => (await get({ url }, "/metrics")).text()));
  const value = (name) =>
    texts.reduce((sum, text) => sum + Number(new RegExp(`^baatchit_${name} (\\d+)$`, "m").exec(text)?.[1]), 0);
  return { stored: value("messages_stored_total"), closed: value("slow_consumers_closed_total") };
}

/**
 * Sends big messages to `room` until the server reports it closed a
 * connection too slow to keep up: the only other connection there, which
 * has stopped reading. That proves it fell behind, whatever the size of
 * the buffers in between. (Counting deliveries instead would race the
 * delivery, which on a cluster happens on another process after the ack.)
 * Resolves with the messages sent and when the batch that cut it off began.
 */
async function sendUntilCutOff(server, sender, room) {
  const start = await counters(server);
  const sent = [];
  for (;;) {
    const batchStarted = Date.now();
    sent.push(...await sendMany(sender, room, 200, (i) => bigText(sent.length + i)));
    const now = await counters(server);
    assert.equal(now.stored - start.stored, sent.length, "messages stored");
    if (now.closed > start.closed) return { sent, cutOffAfter: batchStarted };
    const bytes = sent.length * BIG_MESSAGE_BYTES;
    assert.ok(bytes < MAX_SLOW_READER_BYTES, `${bytes >> 20} MB were all delivered to a reader that reads nothing`);
  }
}

/** Joins `room` with `since` until nothing more is missing; resolves with what came. */
async function catchUp(client, room, since) {
  const caughtUp = [];
  for (let last = since, more = true; more;) {
    const ack = await client.join(room, "slow", { since: last });
    caughtUp.push(...ack.history);
    more = ack.hasMore;
    last = ack.history.at(-1)?.seq ?? last;
  }
  return caughtUp;
}

describe("with a reader too slow to keep up", () => {
  const GRACE_MS = 3000;
  const server = useServer({
    args: ["--rate-limit", "0", "--user-rate-limit", "0", "--presence-grace", String(GRACE_MS / 1000)],
  });

  test("a reader too slow to keep up is disconnected once, never skipped, stays present and catches up with since", async () => {
    const room = uniqueRoom();
    const slow = await connect(server, { transports: ["websocket"] });
    const sender = await connect(server, { transports: ["websocket"] });
    await slow.join(room, "slow");
    await sender.join(room, "sender");
    const aboutSlow = (p) => [...p.joined, ...p.left].some((user) => user.id === slow.userId);

    // Stop reading the socket, as a stalled client would.
    const tcp = slow.socket.io.engine.transport.ws._socket;
    tcp.pause();
    const { sent, cutOffAfter } = await sendUntilCutOff(server, sender, room);
    tcp.resume();
    assert.equal(await slow.waitFor("disconnect", () => true, { timeout: 5000 }), SLOW_READER_REASON);
    // The server disconnected it between these two moments; its grace period began then.
    const disconnectedBy = Date.now();
    const got = slow.received("message");
    assert.ok(got.length < sent.length, `the slow reader got all ${sent.length} messages`);
    assert.deepEqual(seqs(got), seqs(sent).slice(0, got.length), `not a gap-free prefix: ${gapsIn(seqs(got))}`);

    // Late in the grace period the user is still present...
    await sleep(cutOffAfter + GRACE_MS - 1000 - Date.now());
    const listed = (await sender.emit("rooms", {})).rooms.find((r) => r.room === room);
    assert.deepEqual(listed, { room, count: 2 }, "the slow reader is no longer counted");
    assert.deepEqual(sender.received("presence", aboutSlow), [], "the others saw the slow reader leave");
    // ...and coming back within it gets every missed message, once.
    const back = await connect(server, { token: slow.token, transports: ["websocket"] });
    const caughtUp = await catchUp(back, room, got.at(-1)?.seq ?? 0);
    const ids = (messages) => messages.map((m) => m.id);
    assert.deepEqual(ids([...got, ...caughtUp]), ids(sent), "got and caught up on is not exactly what was sent");

    await sleep(disconnectedBy + GRACE_MS - Date.now());
    await sender.assertNoEvent("presence", aboutSlow);
    assert.deepEqual(slow.received("disconnect"), [SLOW_READER_REASON]);
  });
});

/** Describes the first few jumps in a list of seqs. */
function gapsIn(list) {
  const gaps = [];
  for (let i = 1; i < list.length && gaps.length < 3; i += 1) {
    if (list[i] !== list[i - 1] + 1) gaps.push(`${list[i - 1]}→${list[i]}`);
  }
  return gaps.join(", ");
}
