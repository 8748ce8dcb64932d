// The `message` event: fan-out, the Message shape, text rules, ordering
// under concurrent senders and idempotent retries with a clientId.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  QUIET_MS, assertError, assertMessage, connect, connectMany, range, seqs, sleep, uniqueRoom, useServer,
} from "./helpers.mjs";

/** A room with `count` connected, joined clients named user0, user1… */
async function roomOf(server, count) {
  const room = uniqueRoom();
  const clients = await connectMany(server, count);
  for (const [i, client] of clients.entries()) await client.join(room, `user${i}`);
  return { room, clients };
}

describe("fan-out and shape", () => {
  const server = useServer();

  test("a message reaches every other connection in the room and the sender gets it in the ack", async () => {
    const { room, clients: [sender, a, b] } = await roomOf(server, 3);
    const senderTab = await connect(server, { token: sender.token });
    await senderTab.join(room, "user0");
    const before = Date.now();
    const ack = await sender.emit("message", { room, text: "hello room" });
    assert.equal(ack.ok, true);
    assertMessage(ack.message);
    assert.equal(ack.message.room, room);
    assert.equal(ack.message.seq, 1, "seq starts at 1 in a new room");
    assert.equal(ack.message.text, "hello room");
    assert.deepEqual(ack.message.user, { id: sender.userId, name: "user0" });
    assert.ok(Math.abs(ack.message.ts - before) < 5000, "ts is server time in ms");
    assert.ok(!("clientId" in ack.message), "no clientId when none was sent");
    for (const receiver of [a, b, senderTab]) {
      assert.deepEqual(await receiver.waitFor("message"), ack.message);
    }
    await sender.assertNoEvent("message");
    for (const receiver of [a, b, senderTab]) {
      assert.deepEqual(await receiver.assertExactly("message", 1, () => true, { within: 0 }), [ack.message]);
    }
  });

  test("a message does not reach other rooms or people who are not in the room", async () => {
    const { room, clients: [sender] } = await roomOf(server, 1);
    const elsewhere = await connect(server);
    await elsewhere.join(uniqueRoom(), "elsewhere");
    const lurker = await connect(server);
    await sender.say(room, "private to the room");
    await elsewhere.assertNoEvent("message");
    await lurker.assertNoEvent("message");
  });

  test("each message reaches exactly who is in the room when it is sent, as people join, leave and drop", async () => {
    const { room, clients: [sender, stays, leaves, drops] } = await roomOf(server, 4);
    const texts = (client) => client.received("message", (m) => m.room === room).map((m) => m.text);
    // One change between two messages each, so each is seen on its own. A
    // message is awaited where it must arrive before the next change: in a
    // cluster, the sender's ack says only that its own process sent it.
    const say = async (text, ...to) => {
      await sender.say(room, text);
      for (const client of to) await client.waitFor("message", (m) => m.text === text);
    };
    await say("one", stays, leaves, drops);
    await leaves.emit("leave", { room });
    await say("two", stays);
    const late = await connect(server);
    await late.join(room, "late");
    await say("three", stays, late);
    drops.drop();
    await say("four", stays, late);
    await leaves.join(room, "user2");
    await say("five", stays, late, leaves);
    await sleep(QUIET_MS);
    assert.deepEqual(texts(stays), ["one", "two", "three", "four", "five"]);
    assert.deepEqual(texts(leaves), ["one", "five"], "nothing while it was out of the room");
    assert.deepEqual(texts(late), ["three", "four", "five"], "everything from its join on");
  });

  test("a connection in two rooms gets each room's messages tagged with that room", async () => {
    const one = await roomOf(server, 1);
    const two = await roomOf(server, 1);
    const both = await connect(server);
    await both.join(one.room.toUpperCase(), "both");
    await both.join(two.room, "both");
    await one.clients[0].say(one.room, "in one");
    await two.clients[0].say(two.room, "in two");
    assert.equal((await both.waitFor("message", (m) => m.text === "in one")).room, one.room);
    assert.equal((await both.waitFor("message", (m) => m.text === "in two")).room, two.room);
  });

  test("seq counts from 1 in each room while ids are unique across rooms", async () => {
    const one = await roomOf(server, 1);
    const two = await roomOf(server, 1);
    const a = [await one.clients[0].say(one.room, "a1"), await one.clients[0].say(one.room, "a2")];
    const b = [await two.clients[0].say(two.room, "b1"), await two.clients[0].say(two.room, "b2")];
    assert.deepEqual(seqs(a), [1, 2]);
    assert.deepEqual(seqs(b), [1, 2]);
    assert.equal(new Set([...a, ...b].map((m) => m.id)).size, 4);
  });

  test("a room addressed in another case gets the message under its lower-case name", async () => {
    const { room, clients: [sender, receiver] } = await roomOf(server, 2);
    const message = await sender.say(`  ${room.toUpperCase()}  `, "shouting the room name");
    assert.equal(message.room, room);
    assert.equal((await receiver.waitFor("message")).room, room);
  });

  test("text is stored and sent exactly as given", async () => {
    const { room, clients: [sender, receiver] } = await roomOf(server, 2);
    const texts = [
      "<script>alert('x')</script> & &amp; \"quotes\"",
      "  leading and trailing spaces  ",
      "line one\nline two\r\n\ttabbed",
      "emoji 😀👩‍👩‍👧 and combining é (e\u0301) and RTL שלום",
      "\\n is not a newline; %s %d {{template}} ${x}",
    ];
    for (const text of texts) {
      assert.equal((await sender.say(room, text)).text, text);
      assert.equal((await receiver.waitFor("message", (m) => m.text === text)).text, text);
    }
    const history = await receiver.emit("history", { room });
    assert.deepEqual(history.messages.map((m) => m.text), texts);
  });

  test("text of 2000 characters is accepted, counted in characters not bytes", async () => {
    const { room, clients: [sender] } = await roomOf(server, 1);
    assert.equal((await sender.say(room, "a".repeat(2000))).text.length, 2000);
    const emoji = "😀".repeat(2000);
    assert.equal((await sender.say(room, emoji)).text, emoji);
  });

  test("text over 2000 characters is too_large and is neither stored nor sent", async () => {
    const { room, clients: [sender, receiver] } = await roomOf(server, 2);
    assertError(await sender.emit("message", { room, text: "a".repeat(2001) }), "too_large");
    assertError(await sender.emit("message", { room, text: "😀".repeat(2001) }), "too_large");
    await receiver.assertNoEvent("message");
    assert.deepEqual((await receiver.emit("history", { room })).messages, []);
  });

  test("empty or blank text is invalid_message", async () => {
    const { room, clients: [sender, receiver] } = await roomOf(server, 2);
    for (const text of ["", " ", "   \n\t  ", "\r\n"]) {
      assertError(await sender.emit("message", { room, text }), "invalid_message", JSON.stringify(text));
    }
    await receiver.assertNoEvent("message");
  });
});

describe("ordering", () => {
  const server = useServer({ args: ["--rate-limit", "1000", "--user-rate-limit", "0"] });

  test("concurrent senders: everyone sees seq without gaps and each sender's order kept", async () => {
    const senders = 4;
    const perSender = 60;
    const total = senders * perSender;
    const { room, clients } = await roomOf(server, senders + 1);
    const watcher = clients[senders];
    const sent = await Promise.all(clients.slice(0, senders).map((client, s) =>
      Promise.all(range(0, perSender - 1).map((k) =>
        client.emitWithTimeout(10_000, "message", { room, text: `s${s}-${k}` })))));

    const seen = await watcher.waitForCount("message", total, () => true, { timeout: 10_000 });
    assert.deepEqual(seqs(seen), range(1, total), "the watcher sees every seq once, in order");
    for (let s = 0; s < senders; s += 1) {
      const acks = sent[s];
      assert.ok(acks.every((ack) => ack.ok), `sender ${s} had a failed ack`);
      const ackSeqs = acks.map((ack) => ack.message.seq);
      assert.deepEqual(ackSeqs, [...ackSeqs].sort((x, y) => x - y), `sender ${s}'s acks out of send order`);
      const mine = seen.filter((m) => m.text.startsWith(`s${s}-`)).map((m) => Number(m.text.split("-")[1]));
      assert.deepEqual(mine, range(0, perSender - 1), `sender ${s}'s messages out of send order`);

      const got = await clients[s].waitForCount("message", total - perSender, () => true, { timeout: 5000 });
      const gotSeqs = seqs(got);
      for (let i = 1; i < gotSeqs.length; i += 1) {
        assert.ok(gotSeqs[i] > gotSeqs[i - 1], `sender ${s} got seq ${gotSeqs[i]} after ${gotSeqs[i - 1]}`);
      }
      const union = [...gotSeqs, ...ackSeqs].sort((x, y) => x - y);
      assert.deepEqual(union, range(1, total), `sender ${s}: own acks plus received are not exactly 1..${total}`);
    }
  });
});

describe("idempotent retries", () => {
  const server = useServer();

  test("resending a clientId returns the original message and nobody receives it twice", async () => {
    const { room, clients: [sender, receiver] } = await roomOf(server, 2);
    const first = await sender.emit("message", { room, text: "only once", clientId: "retry-1" });
    assert.equal(first.ok, true);
    assert.equal(first.message.clientId, "retry-1");
    const again = await sender.emit("message", { room, text: "only once", clientId: "retry-1" });
    assert.deepEqual(again, first);
    assert.deepEqual(await receiver.waitFor("message"), first.message);
    assert.deepEqual(await receiver.assertExactly("message", 1), [first.message]);
    const history = await receiver.emit("history", { room });
    assert.equal(history.messages.filter((m) => m.clientId === "retry-1").length, 1);
    assert.equal((await sender.say(room, "next")).seq, first.message.seq + 1, "the retry used no seq");
  });

  test("a retry from a new connection of the same user returns the original message", async () => {
    const { room, clients: [sender, receiver] } = await roomOf(server, 2);
    const first = await sender.say(room, "sent before the drop", { clientId: "after-reconnect" });
    sender.close();
    const back = await connect(server, { token: sender.token });
    await back.join(room, "user0");
    const again = await back.say(room, "sent before the drop", { clientId: "after-reconnect" });
    assert.deepEqual(again, first);
    await receiver.waitFor("message");
    assert.deepEqual(await receiver.assertExactly("message", 1), [first]);
  });

  test("concurrent duplicates of one clientId are stored once", async () => {
    const { room, clients: [sender, receiver] } = await roomOf(server, 2);
    const acks = await Promise.all(range(1, 5).map(() =>
      sender.emit("message", { room, text: "racing", clientId: "race" })));
    for (const ack of acks) assert.deepEqual(ack, acks[0]);
    await receiver.waitFor("message");
    assert.deepEqual(await receiver.assertExactly("message", 1), [acks[0].message]);
    assert.equal((await receiver.emit("history", { room })).messages.length, 1);
  });

  test("the same clientId from another user or in another room is a different message", async () => {
    const { room, clients: [alice, bob] } = await roomOf(server, 2);
    const other = uniqueRoom();
    await alice.join(other, "alice");
    const a = await alice.say(room, "from alice", { clientId: "shared" });
    const b = await bob.say(room, "from bob", { clientId: "shared" });
    const c = await alice.say(other, "alice elsewhere", { clientId: "shared" });
    assert.equal(new Set([a.id, b.id, c.id]).size, 3);
    assert.deepEqual([a.text, b.text, c.text], ["from alice", "from bob", "alice elsewhere"]);
  });

  test("a clientId of 1 and of 64 characters is accepted and echoed", async () => {
    const { room, clients: [sender, receiver] } = await roomOf(server, 2);
    for (const clientId of ["x", "k".repeat(64), "ü".repeat(64)]) {
      const message = await sender.say(room, `with ${clientId.length}`, { clientId });
      assert.equal(message.clientId, clientId);
      assert.equal((await receiver.waitFor("message", (m) => m.id === message.id)).clientId, clientId);
    }
  });
});
