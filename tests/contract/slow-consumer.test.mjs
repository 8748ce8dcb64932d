// A reader that stops reading (contract decision 2): the server closes its
// transport soon after its buffer fills, stays small, keeps everyone else
// served, and the official client comes back by itself and catches up.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { brief, connect, get, range, seqs, sleep, uniqueRoom, useServer } from "./helpers.mjs";
import { holdsConnection, rssBytes } from "../support/proc.mjs";

/** The server's per-connection queue: MAX_QUEUED_PACKETS in src/startup.rs. */
const SERVER_QUEUE_PACKETS = 1024;
const MESSAGES = 2000;
const TEXT_BYTES = 2000; // about 2 KB per message on the wire
const SEND_BATCH = 100;

// The server process itself is watched (its RSS and sockets): on a cluster, its first process.
const server = useServer({ oneProcess: true, args: ["--rate-limit", "0", "--user-rate-limit", "0"] });

test("a reader that stops reading is closed at the transport, and comes back by itself missing nothing", async () => {
  const room = uniqueRoom("slow");
  const slow = await connect(server, { reconnection: true });
  await upgraded(slow);
  slow.socket.auth = { token: slow.token }; // it comes back as the same user
  const connects = [];
  slow.socket.on("connect", () => connects.push(Date.now()));
  const others = await Promise.all([
    connect(server, { transports: ["websocket"] }),
    connect(server, { transports: ["polling"] }),
  ]);
  const sender = await connect(server, { transports: ["websocket"] });
  await slow.join(room, "slow");
  for (const [i, other] of others.entries()) await other.join(room, `other${i}`);
  await sender.join(room, "sender");

  // Stop reading, as a frozen tab or a stalled bot does.
  const tcp = slow.socket.io.engine.transport.ws._socket;
  const clientPort = tcp.localPort;
  const pid = server.process.pid;
  assert.ok(holdsConnection(pid, server.port, clientPort), "the server holds the slow reader's connection");
  tcp.pause();
  const watch = watchServer(pid, () => holdsConnection(pid, server.port, clientPort));
  const closedBefore = await slowConsumersClosed(server);

  let sent, ackedAt, closedAt;
  try {
    ({ sent, ackedAt } = await sendBurst(sender, room, others));
    closedAt = await watch.closed(5000);
  } finally {
    watch.stop();
  }

  // Everyone else got everything, in order.
  for (const other of others) {
    const got = await other.waitForCount("message", MESSAGES, () => true, { timeout: 15_000 });
    assert.deepEqual(seqs(got), range(1, MESSAGES), "another reader missed or reordered messages");
  }
  assert.ok(watch.peakRss - watch.startRss < 50 * 1024 * 1024,
    `server RSS grew by ${mib(watch.peakRss - watch.startRss)} MiB (from ${mib(watch.startRss)} MiB)`);
  assert.equal(await slowConsumersClosed(server), closedBefore + 1, "baatchit_slow_consumers_closed_total");
  assert.match(server.logs(), /too slow; closing its transport/, "the server logs the cut-off");

  // Reading again, the client gets what the kernel held, then the close.
  tcp.resume();
  const reason = await slow.waitFor("disconnect", () => true, { timeout: 5000 });
  assert.ok(["transport close", "transport error"].includes(reason), `disconnected with "${reason}"`);
  const before = seqs(slow.received("message"));
  assert.deepEqual(before, range(1, before.length), "what it got before the close has a gap");

  // "Its buffer filled": the kernel's buffers for the connection (what it
  // read after resuming) and the server's queue of 1,024 packets were all
  // full. That cannot have happened before message
  // `before.length + SERVER_QUEUE_PACKETS + 1` was committed; its ack
  // (sent as it is handed to the readers) stands for that moment, which
  // is never later than the real one (the websocket writer buffers a few
  // more). The server let go of the TCP connection within 2 s of it.
  const fullSeq = before.length + SERVER_QUEUE_PACKETS + 1;
  assert.ok(fullSeq <= MESSAGES, `the buffer never filled: ${before.length} messages sat in the kernel`);
  const lateBy = closedAt - ackedAt.get(fullSeq);
  assert.ok(lateBy < 2000, `the transport closed ${lateBy} ms after the buffer filled`);

  // With its default reconnection, it comes back by itself and catches up.
  await until(() => connects.length >= 1, 5000, "the client did not reconnect by itself");
  const caughtUp = [];
  let last = before.at(-1) ?? 0;
  for (let more = true; more;) {
    const ack = await slow.join(room, "slow", { since: last });
    caughtUp.push(...ack.history);
    more = ack.hasMore;
    last = ack.history.at(-1)?.seq ?? last;
  }
  assert.deepEqual([...before, ...seqs(caughtUp)], range(1, MESSAGES), "missing or doubled after catching up");
  assert.deepEqual(caughtUp.map((m) => m.text), sent.slice(before.length).map((m) => m.text));
  slow.close();
});

/** Sends the burst, 100 at a time; returns the messages and when each was acked. */
/**
 * Sends MESSAGES in batches of SEND_BATCH; each batch once the readers
 * that keep reading have every earlier one. So they are never far behind,
 * however busy the machine, while the one that stopped reading fills up.
 */
async function sendBurst(sender, room, readers) {
  const ackedAt = new Map(); // seq -> when its ack arrived
  const sent = [];
  for (let batch = 0; batch < MESSAGES / SEND_BATCH; batch += 1) {
    const acks = await Promise.all(range(1, SEND_BATCH).map(async (i) => {
      const ack = await sender.emitWithTimeout(10_000, "message", { room, text: text(batch * SEND_BATCH + i) });
      assert.equal(ack?.ok, true, `message refused: ${brief(ack)}`);
      ackedAt.set(ack.message.seq, Date.now());
      return ack.message;
    }));
    sent.push(...acks);
    for (const reader of readers) {
      await reader.waitForCount("message", sent.length, () => true, { timeout: 15_000 });
    }
  }
  assert.deepEqual(seqs(sent), range(1, MESSAGES));
  return { sent, ackedAt };
}

/** About `TEXT_BYTES` bytes of text, numbered. */
function text(n) {
  const head = `#${n} `;
  return head + "x".repeat(TEXT_BYTES - head.length);
}

/** Waits until a default client has moved from polling to websocket. */
async function upgraded(client) {
  if (client.transport === "websocket") return;
  await new Promise((done) => client.socket.io.engine.once("upgrade", done));
}

/**
 * Samples the server every 20 ms: its peak RSS, and when `holds()` first
 * turned false (the server closed the connection).
 */
function watchServer(pid, holds) {
  const state = { startRss: rssBytes(pid), peakRss: 0, closedAt: null };
  const sample = () => {
    if (!existsSync(`/proc/${pid}`)) return;
    state.peakRss = Math.max(state.peakRss, rssBytes(pid));
    if (state.closedAt === null && !holds()) state.closedAt = Date.now();
  };
  sample();
  const timer = setInterval(sample, 20);
  timer.unref();
  return {
    get startRss() {
      return state.startRss;
    },
    get peakRss() {
      return state.peakRss;
    },
    async closed(timeout) {
      await until(() => state.closedAt !== null, timeout, "the server never closed the slow reader's connection");
      return state.closedAt;
    },
    stop: () => {
      clearInterval(timer);
      sample();
    },
  };
}

async function until(condition, timeout, failure) {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(failure);
    await sleep(20);
  }
}

async function slowConsumersClosed(server) {
  const text = await (await get(server, "/metrics")).text();
  return Number(/^baatchit_slow_consumers_closed_total (\d+)$/m.exec(text)?.[1]);
}

const mib = (bytes) => (bytes / 1024 / 1024).toFixed(1);
