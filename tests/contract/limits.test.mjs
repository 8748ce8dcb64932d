// Limits: the maximum packet size and the per-connection message rate.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertError, brief, connect, range, sendMany, seqs, sleep, uniqueRoom, useServer } from "./helpers.mjs";

/** A room with a witness that must keep working whatever others do. */
async function witnessedRoom(server) {
  const room = uniqueRoom();
  const witness = await connect(server, { transports: ["websocket"] });
  await witness.join(room, "witness");
  return { room, witness };
}

/** Asserts the server still serves the witness and new connections. */
async function assertStillServing(server, room, witness) {
  assert.equal(witness.received("disconnect").length, 0, "the witness was disconnected too");
  const talker = await connect(server);
  await talker.join(room, "talker");
  await talker.say(room, "the server is still up");
  await witness.waitFor("message", (m) => m.text === "the server is still up");
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
      assert.ok(typeof reason === "string", `disconnected with ${brief(reason)}`);
      await witness.assertNoEvent("message", (m) => m.user.name === "big", { within: 100 });
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

  test("a valid message bigger than the configured maximum closes the connection", async () => {
    const { room, witness } = await witnessedRoom(server);
    const client = await connect(server, { transports: ["websocket"] });
    await client.join(room, "client");
    assert.equal((await client.say(room, "é".repeat(900))).text.length, 900);
    client.send("message", { room, text: "é".repeat(1500) });
    await client.waitFor("disconnect", () => true, { timeout: 3000 });
    await assertStillServing(server, room, witness);
  });
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

describe("with a reader too slow to keep up", () => {
  const server = useServer({ args: ["--rate-limit", "100000", "--user-rate-limit", "0"] });

  test("a connection too slow to keep up is disconnected, never skipped, and catches up with since", async () => {
    const room = uniqueRoom();
    const slow = await connect(server, { transports: ["websocket"] });
    const sender = await connect(server, { transports: ["websocket"] });
    await slow.join(room, "slow");
    await sender.join(room, "sender");
    // Stop reading the socket, as a stalled client would: the server's
    // buffers fill up (about 10 MB on Linux loopback; we send 18 MB).
    const tcp = slow.socket.io.engine.transport.ws._socket;
    tcp.pause();
    const total = 3000;
    for (let batch = 0; batch < total / 250; batch += 1) {
      await sendMany(sender, room, 250, (i) => `${batch}-${i} ${"名".repeat(1990)}`);
    }
    tcp.resume();
    const marker = await sender.say(room, "marker");
    await Promise.race([
      slow.waitFor("message", (m) => m.id === marker.id, { timeout: 5000 }),
      slow.waitFor("disconnect", () => true, { timeout: 5000 }),
    ]);
    await sleep(200);
    const got = seqs(slow.received("message"));
    assert.deepEqual(got, range(1, got.length), `a gap in what the slow reader got: ${gapsIn(got)}`);
    if (slow.received("disconnect").length === 0) {
      assert.equal(got.length, total + 1, "neither everything delivered nor disconnected");
      return;
    }
    const back = await connect(server, { token: slow.token });
    let last = got.at(-1) ?? 0;
    const caughtUp = [];
    for (let more = true; more;) {
      const ack = await back.join(room, "slow", { since: last });
      caughtUp.push(...ack.history);
      more = ack.hasMore;
      last = ack.history.at(-1)?.seq ?? last;
    }
    assert.deepEqual([...got, ...seqs(caughtUp)], range(1, total + 1));
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
