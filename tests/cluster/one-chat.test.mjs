// Three processes on one PostgreSQL database and one Redis are one chat:
// clients on any process, by websocket or polling through nginx, see the
// same names, counts, rooms and messages in the same seq order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertError, presenceOf, range, seqs, settle, uniqueRoom } from "../contract/helpers.mjs";
import {
  about, assertIncreasing, brief, connect, describeClient, eventually, everywhere, polling, useCluster,
} from "./helpers.mjs";

const server = useCluster({ processes: 3, nginx: true, args: ["--rate-limit", "0", "--user-rate-limit", "0"] });

/** The users a client knows in `room`: its join ack's, then each presence event applied in order. */
function usersSeenBy(client, ack) {
  const users = new Map(ack.users.map((user) => [user.id, user.name]));
  for (const event of client.received("presence", (p) => p.room === ack.room)) {
    for (const user of event.joined) users.set(user.id, user.name);
    for (const user of event.left) users.delete(user.id);
  }
  return users;
}

test("everyone sees the same names, count and messages in the same order, whichever process they are on", async () => {
  const { cluster } = server;
  const room = uniqueRoom();
  const clients = await everywhere(cluster);
  const acks = [];
  for (const [i, client] of clients.entries()) {
    const ack = await client.join(room, `Person ${i}`);
    assert.equal(ack.count, i + 1, `${describeClient(cluster, client)} joined as person number ${i + 1}: count`);
    acks.push(ack);
  }
  const everyone = new Map(clients.map((client, i) => [client.userId, `Person ${i}`]));
  for (const [i, client] of clients.entries()) {
    await eventually(() => assert.deepEqual(usersSeenBy(client, acks[i]), everyone,
      `${describeClient(cluster, client)} should know all six people by name`));
    const last = client.received("presence", (p) => p.room === room).at(-1);
    if (last) assert.equal(last.count, 6, `${describeClient(cluster, client)}: last presence count`);
  }

  const sent = [];
  for (const client of clients) sent.push(await client.say(room, `hello from ${describeClient(cluster, client)}`));
  assert.deepEqual(seqs(sent), range(1, 6), "seqs are given in the order the messages were sent");
  for (const client of clients) {
    const expected = sent.filter((message) => message.user.id !== client.userId);
    const got = await about(describeClient(cluster, client),
      client.waitForCount("message", 5, (m) => m.room === room, { timeout: 5000 }));
    assert.deepEqual(got, expected, `${describeClient(cluster, client)} got the others' messages, identical and in seq order`);
  }
});

test("300 messages sent at once from three processes reach every receiver in seq order with no gap", { timeout: 90_000 }, async () => {
  const { cluster } = server;
  const room = uniqueRoom();
  const receivers = await everywhere(cluster);
  const senders = await Promise.all(cluster.urls.map((url) => connect(url, { transports: ["websocket"] })));
  for (const [i, receiver] of receivers.entries()) await receiver.join(room, `receiver ${i}`);
  for (const [i, sender] of senders.entries()) await sender.join(room, `sender ${i}`);

  const batches = await Promise.all(senders.map((sender, s) => Promise.all(range(1, 100).map(async (n) => {
    const ack = await sender.emitWithTimeout(30_000, "message", { room, text: `sender ${s} #${n}` });
    assert.equal(ack?.ok, true, `sender ${s} #${n} was not stored: ${brief(ack)}`);
    return ack.message;
  }))));
  const all = batches.flat().sort((a, b) => a.seq - b.seq);
  assert.deepEqual(seqs(all), range(1, 300), "the 300 stored messages have seqs 1 to 300");
  for (const [s, batch] of batches.entries()) {
    assertIncreasing(seqs(batch), `sender ${s}'s own messages, in the order it sent them`);
  }

  for (const receiver of receivers) {
    const who = describeClient(cluster, receiver);
    const got = await about(who, receiver.waitForCount("message", 300, (m) => m.room === room, { timeout: 30_000 }));
    assert.deepEqual(seqs(got), range(1, 300), `${who} should get seqs 1..300 once each, in order`);
    assert.deepEqual(got, all, `${who} should get exactly the stored messages`);
  }
  for (const [s, sender] of senders.entries()) {
    const got = await about(`sender ${s}`, sender.waitForCount("message", 200, (m) => m.room === room, { timeout: 30_000 }));
    assertIncreasing(seqs(got), `sender ${s} receiving the others' messages`);
    assert.deepEqual([...seqs(got), ...seqs(batches[s])].sort((a, b) => a - b), range(1, 300),
      `sender ${s}: the others' messages and its own acks should make 1..300`);
  }
  await settle();
  for (const client of [...receivers, ...senders]) {
    const count = client.received("message", (m) => m.room === room).length;
    assert.ok(count === 300 || count === 200, `${describeClient(cluster, client)}: ${count} messages, a duplicate came late`);
  }
});

test("a name taken on one process is refused on every other, whatever its case", async () => {
  const { cluster } = server;
  const room = uniqueRoom();
  const asha = await connect(cluster.urls[0]);
  await asha.join(room, "Asha");
  const rivals = [
    await connect(cluster.urls[1], { transports: ["websocket"] }),
    await connect(cluster.proxyUrl, polling("n3")),
  ];
  for (const rival of rivals) {
    const who = describeClient(cluster, rival);
    assertError(await rival.emit("join", { room, name: "asha" }), "name_taken", `${who} joining as asha:`);
    assertError(await rival.emit("join", { room: room.toUpperCase(), name: "  ASHA  " }), "name_taken", `${who} joining as ASHA:`);
  }
  const secondTab = await connect(cluster.urls[2], { token: asha.token });
  const again = await secondTab.join(room, "Someone Else");
  assert.deepEqual(again.you, { id: asha.userId, name: "Asha" }, "Asha's tab on n3 keeps the name Asha has on n1");

  await asha.emit("leave", { room });
  await secondTab.emit("leave", { room });
  const taken = await rivals[0].join(room, "ASHA");
  assert.equal(taken.you.name, "ASHA", "once Asha has left everywhere, the name is free");
});

test("the rooms list is the same on every process", async () => {
  const { cluster } = server;
  const tag = uniqueRoom("list");
  const [big, middle, small] = ["a", "b", "c"].map((letter) => `${tag}-${letter}`);
  const people = await everywhere(cluster);
  for (const [i, person] of people.entries()) await person.join(big, `p${i}`);
  for (const [i, person] of people.slice(0, 3).entries()) await person.join(middle, `p${i}`);
  await people[4].join(small, "p4");
  const secondTab = await connect(cluster.urls[2], { token: people[0].token });
  await secondTab.join(middle, "p0");

  const expected = [{ room: big, count: 6 }, { room: middle, count: 3 }, { room: small, count: 1 }];
  for (const person of people) {
    const ack = await person.emit("rooms", {});
    assert.equal(ack.ok, true);
    assert.deepEqual(ack.rooms.filter((r) => r.room.startsWith(tag)), expected,
      `rooms as ${describeClient(cluster, person)} lists them`);
  }
});

test("presence is exact per connection across processes: never your own join, never a user your ack listed", async () => {
  const { cluster } = server;
  const room = uniqueRoom();
  const observer = await connect(cluster.urls[0]);
  await observer.join(room, "observer");
  await settle();
  const joiners = await everywhere(cluster);
  const acks = await Promise.all(joiners.map((joiner, i) => joiner.join(room, `joiner ${i}`)));
  const everyone = new Set([observer.userId, ...joiners.map((joiner) => joiner.userId)]);

  for (const [i, joiner] of joiners.entries()) {
    const who = describeClient(cluster, joiner);
    await eventually(() => assert.deepEqual(new Set(usersSeenBy(joiner, acks[i]).keys()), everyone,
      `${who} should come to know all seven people`));
    const announced = joiner.received("presence", (p) => p.room === room).flatMap((p) => p.joined.map((u) => u.id));
    assert.ok(!announced.includes(joiner.userId), `${who} was told of its own join`);
    const listed = acks[i].users.map((user) => user.id).filter((id) => announced.includes(id));
    assert.deepEqual(listed, [], `${who} was told of users its join ack already listed`);
    assert.equal(new Set(announced).size, announced.length, `${who} heard of someone joining twice: ${brief(announced)}`);
  }
  await eventually(() => assert.equal(observer.received("presence").flatMap((p) => p.joined).length, 6));
  assert.equal(observer.received("presence").at(-1).count, 7, "the observer's last count");

  const leaver = joiners[3];
  await leaver.emit("leave", { room });
  for (const client of [observer, ...joiners.filter((joiner) => joiner !== leaver)]) {
    const left = await about(describeClient(cluster, client), client.waitFor("presence", presenceOf(room, "left", leaver.userId)));
    assert.equal(left.count, 6, `${describeClient(cluster, client)}: count after one left`);
  }
  await settle();
  for (const client of [observer, ...joiners]) {
    const lefts = client.received("presence").flatMap((p) => p.left);
    assert.ok(lefts.length <= 1, `${describeClient(cluster, client)} heard of the leave ${lefts.length} times`);
  }
});

test("typing reaches the other users on every process, but not the typist's own tabs", async () => {
  const { cluster } = server;
  const room = uniqueRoom();
  const tab1 = await connect(cluster.urls[0], { transports: ["websocket"] });
  const tab2 = await connect(cluster.proxyUrl, { ...polling("n2"), token: tab1.token });
  const listeners = [
    await connect(cluster.urls[1], { transports: ["websocket"] }),
    await connect(cluster.urls[2], { transports: ["websocket"] }),
    await connect(cluster.proxyUrl, polling("n1")),
  ];
  await tab1.join(room, "typist");
  await tab2.join(room, "typist");
  for (const [i, listener] of listeners.entries()) await listener.join(room, `listener ${i}`);

  tab1.send("typing", { room, typing: true });
  const expected = { room, user: { id: tab1.userId, name: "typist" }, typing: true };
  for (const listener of listeners) {
    const who = describeClient(cluster, listener);
    assert.deepEqual(await about(`${who} listening for the typist`, listener.waitFor("typing")), expected, who);
  }
  await tab1.assertNoEvent("typing", () => true, { within: 500 });
  await tab2.assertNoEvent("typing", () => true, { within: 0 });
});
