// Limits on one person: messages per user across its connections, joins
// per connection per minute, rooms per connection, and typing floods.
// (Packet size and the per-connection message rate are in limits.test.mjs.)
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertError, brief, connect, range, sleep, uniqueRoom, useServer } from "./helpers.mjs";

/** Asserts an ack is `rate_limited` with a positive `retryAfterMs` of at most `max`. */
function assertRateLimited(ack, max) {
  assertError(ack, "rate_limited");
  const wait = ack.error.retryAfterMs;
  assert.ok(Number.isInteger(wait) && wait > 0 && wait <= max, `retryAfterMs in ${brief(ack)}`);
}

describe("with the default limit of 30 messages a second per user", () => {
  const server = useServer({ oneProcess: true });

  test("a flood from one user over 5 connections is limited, another user is not, and nothing refused is stored", async () => {
    const room = uniqueRoom();
    const first = await connect(server);
    const tabs = [first, ...(await Promise.all(range(2, 5).map(() => connect(server, { token: first.token }))))];
    for (const tab of tabs) await tab.join(room, "flooder");
    const bystander = await connect(server);
    await bystander.join(room, "bystander");

    const started = Date.now();
    const flood = tabs.flatMap((tab, t) => range(1, 24).map((i) => tab.emit("message", { room, text: `flood ${t}-${i}` })));
    const calm = range(1, 10).map((i) => bystander.emit("message", { room, text: `calm ${i}` }));
    const [floodAcks, calmAcks] = await Promise.all([Promise.all(flood), Promise.all(calm)]);
    const refilled = Math.ceil(((Date.now() - started) / 1000) * 30);

    const accepted = floodAcks.filter((ack) => ack.ok);
    assert.ok(accepted.length >= 60 && accepted.length <= 60 + refilled + 1,
      `accepted ${accepted.length} of 120 with a burst of 60 per user (each tab alone is within its own limit)`);
    for (const ack of floodAcks.filter((a) => !a.ok)) assertRateLimited(ack, 1000);
    assert.ok(calmAcks.every((ack) => ack.ok), `the other user was limited: ${brief(calmAcks.find((a) => !a.ok))}`);

    const history = await bystander.emit("history", { room, limit: 100 });
    const stored = history.messages.map((m) => m.text);
    assert.equal(history.hasMore, false);
    assert.equal(stored.filter((t) => t.startsWith("flood")).length, accepted.length, "refused messages were stored");
    assert.equal(stored.filter((t) => t.startsWith("calm")).length, 10);
  });

  test("after waiting retryAfterMs the user may send again", async () => {
    const room = uniqueRoom();
    const tab1 = await connect(server);
    const tab2 = await connect(server, { token: tab1.token });
    await tab1.join(room, "waiter");
    await tab2.join(room, "waiter");
    const acks = await Promise.all(range(1, 70).map((i) => (i % 2 ? tab1 : tab2).emit("message", { room, text: `m${i}` })));
    const refused = acks.find((ack) => !ack.ok);
    assertRateLimited(refused, 1000);
    await sleep(refused.error.retryAfterMs);
    assert.equal((await tab2.say(room, "after waiting")).text, "after waiting");
  });
});

describe("with the per-user limit turned off", () => {
  const server = useServer({ oneProcess: true, args: ["--user-rate-limit", "0"] });

  test("one user's connections are limited only one by one", async () => {
    const room = uniqueRoom();
    const first = await connect(server);
    const tabs = [first, ...(await Promise.all(range(2, 5).map(() => connect(server, { token: first.token }))))];
    for (const tab of tabs) await tab.join(room, "many");
    const acks = await Promise.all(tabs.flatMap((tab) => range(1, 30).map((i) => tab.emit("message", { room, text: `${i}` }))));
    assert.ok(acks.every((ack) => ack.ok), `refused: ${brief(acks.find((a) => !a.ok))}`);
  });
});

describe("with 3 joins a minute per connection", () => {
  const server = useServer({ oneProcess: true, args: ["--join-rate-limit", "3"] });

  test("a fourth join within the minute is rate_limited with retryAfterMs and joins nothing", async () => {
    const [a, b, c] = [uniqueRoom(), uniqueRoom(), uniqueRoom()];
    const client = await connect(server);
    const observer = await connect(server);
    await observer.join(c, "observer");
    await client.join(a, "joiner");
    await client.join(b, "joiner");
    await client.join(a, "joiner");
    assertRateLimited(await client.emit("join", { room: c, name: "joiner" }), 20_000);
    assertError(await client.emit("message", { room: c, text: "am I in?" }), "not_in_room");
    await observer.assertNoEvent("presence");
    assert.equal((await client.say(a, "still in a")).text, "still in a", "the connection keeps working");
  });

  test("the limit is per connection: another tab of the same user may join", async () => {
    const room = uniqueRoom();
    const tab1 = await connect(server);
    for (const r of range(1, 3)) await tab1.join(`${room}-${r}`, "tabby");
    assertRateLimited(await tab1.emit("join", { room, name: "tabby" }), 20_000);
    const tab2 = await connect(server, { token: tab1.token });
    assert.equal((await tab2.join(room, "tabby")).ok, true);
  });
});

describe("with at most 2 rooms per connection", () => {
  const server = useServer({ oneProcess: true, args: ["--max-rooms-per-connection", "2"] });

  test("a third room is refused with rate_limited saying to leave one, and leaving makes room", async () => {
    const [a, b, c] = [uniqueRoom(), uniqueRoom(), uniqueRoom()];
    const client = await connect(server);
    await client.join(a, "roamer");
    await client.join(b, "roamer");
    const refused = await client.emit("join", { room: c, name: "roamer" });
    assertRateLimited(refused, 60_000);
    assert.match(refused.error.message, /2 rooms.*leave one/);
    assert.equal((await client.emit("rooms", {})).rooms.some((r) => r.room === c), false, "c got a member");
    assert.equal((await client.join(a, "roamer")).ok, true, "joining a room again needs no new place");
    await client.emit("leave", { room: b });
    assert.equal((await client.join(c, "roamer")).ok, true);
  });

  test("joins sent all at once cannot pass the limit", async () => {
    const client = await connect(server);
    const acks = await Promise.all(range(1, 6).map(() => client.emit("join", { room: uniqueRoom(), name: "racer" })));
    assert.equal(acks.filter((ack) => ack.ok).length, 2, brief(acks));
  });
});

describe("typing floods with the default one-second interval", () => {
  const server = useServer({ oneProcess: true });

  /** A typist and a listener in a fresh room. */
  async function pair() {
    const room = uniqueRoom();
    const typist = await connect(server);
    const listener = await connect(server);
    await typist.join(room, "typist");
    await listener.join(room, "listener");
    return { room, typist, listener };
  }

  test("hundreds of typing events reach the others as a handful", async () => {
    const { room, typist, listener } = await pair();
    for (let i = 0; i < 300; i += 1) typist.send("typing", { room, typing: true });
    for (let i = 0; i < 300; i += 1) typist.send("typing", { room, typing: i % 2 === 1 });
    assert.deepEqual(await typist.emit("typing", { room, typing: true }), { ok: true }, "an acked typing is still ok");
    await sleep(500);
    const heard = listener.received("typing");
    // One start, then three true/false pairs while the typist's starts in a row last; a few more if the flood spans seconds.
    assert.ok(heard.length >= 2 && heard.length <= 10, `the listener heard ${heard.length}: ${brief(heard)}`);
    assert.equal(heard[0].typing, true);
    assert.equal(typist.received("disconnect").length, 0);
  });

  test("typing kept up for longer than the interval is told again, so the others' display stays on", async () => {
    const { room, typist, listener } = await pair();
    typist.send("typing", { room, typing: true });
    await listener.waitFor("typing");
    await sleep(1100);
    typist.send("typing", { room, typing: true });
    await listener.waitForCount("typing", 2, (t) => t.typing === true);
  });
});

describe("with the typing interval turned off", () => {
  const server = useServer({ oneProcess: true, args: ["--typing-interval-ms", "0"] });

  test("every typing renewal reaches the others", async () => {
    const room = uniqueRoom();
    const typist = await connect(server);
    const listener = await connect(server);
    await typist.join(room, "typist");
    await listener.join(room, "listener");
    for (let i = 0; i < 5; i += 1) await typist.emit("typing", { room, typing: true });
    await listener.waitForCount("typing", 5);
  });
});
