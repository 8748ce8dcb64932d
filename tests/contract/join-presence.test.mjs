// Joining, leaving and the `presence` event, including several tabs of one
// user. The grace period after a dropped connection is in presence-grace.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  assertError, assertUser, connect, presenceOf, roomWithObserver, settle, uniqueRoom, useServer,
} from "./helpers.mjs";

describe("joining and leaving", () => {
  const server = useServer();

  test("joining answers with the lower-case room, you, the users present and their count", async () => {
    const room = uniqueRoom("Mixed-CASE");
    const asha = await connect(server);
    const first = await asha.join(room, "Asha");
    assert.equal(first.room, room.toLowerCase());
    assertUser(first.you, { id: asha.userId, name: "Asha" });
    assert.deepEqual(first.users, [{ id: asha.userId, name: "Asha" }]);
    assert.equal(first.count, 1);
    assert.deepEqual(first.history, []);
    assert.equal(first.hasMore, false);

    const bilal = await connect(server);
    const second = await bilal.join(room.toUpperCase(), "Bilal");
    assert.equal(second.room, room.toLowerCase());
    assert.equal(second.count, 2);
    const users = [...second.users].sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(users, [{ id: asha.userId, name: "Asha" }, { id: bilal.userId, name: "Bilal" }]);
  });

  test("the others see a joiner in a presence event and the joiner gets none about itself", async () => {
    const { room, observer } = await roomWithObserver(server);
    const joiner = await connect(server);
    await joiner.join(room, "joiner");
    const presence = await observer.waitFor("presence", presenceOf(room, "joined", joiner.userId));
    assert.deepEqual(presence, { room, joined: [{ id: joiner.userId, name: "joiner" }], left: [], count: 2 });
    await joiner.assertNoEvent("presence");
  });

  test("a connection is never sent a presence event about nothing but its own join", async () => {
    const room = uniqueRoom();
    const joiner = await connect(server);
    const passer = await connect(server);
    await joiner.join(room, "joiner");
    await passer.join(room, "passer");
    await passer.emit("leave", { room });
    await settle();
    const aboutItselfOnly = (p) => p.left.length === 0 && p.joined.every((u) => u.id === joiner.userId);
    await joiner.assertNoEvent("presence", aboutItselfOnly);
  });

  test("joining the same room again on one connection answers a fresh snapshot and tells nobody", async () => {
    const { room, observer } = await roomWithObserver(server);
    const joiner = await connect(server);
    await joiner.join(room, "joiner");
    await observer.waitFor("presence", presenceOf(room, "joined", joiner.userId));
    const mark = observer.mark();
    await observer.say(room, "between the joins");
    const again = await joiner.join(room, "joiner");
    assert.equal(again.count, 2);
    assert.equal(again.history.at(-1).text, "between the joins");
    await observer.assertNoEvent("presence", () => true, { since: mark });
  });

  test("a second tab of a present user makes no presence and keeps the count", async () => {
    const { room, observer } = await roomWithObserver(server);
    const tab1 = await connect(server);
    await tab1.join(room, "tabby");
    await observer.waitFor("presence", presenceOf(room, "joined", tab1.userId));
    const mark = observer.mark();
    const tab2 = await connect(server, { token: tab1.token });
    const ack = await tab2.join(room, "tabby");
    assert.equal(ack.count, 2);
    assert.equal(ack.users.filter((u) => u.id === tab1.userId).length, 1, "one user listed once");
    await observer.assertNoEvent("presence", () => true, { since: mark });
    await tab1.assertNoEvent("presence");
  });

  test("left comes only when the last tab of a user leaves", async () => {
    const { room, observer } = await roomWithObserver(server);
    const tab1 = await connect(server);
    const tab2 = await connect(server, { token: tab1.token });
    await tab1.join(room, "tabby");
    await tab2.join(room, "tabby");
    await observer.waitFor("presence", presenceOf(room, "joined", tab1.userId));
    const mark = observer.mark();
    assert.deepEqual(await tab1.emit("leave", { room }), { ok: true });
    await observer.assertNoEvent("presence", () => true, { since: mark });
    tab2.close();
    const presence = await observer.waitFor("presence", presenceOf(room, "left", tab1.userId), { since: mark });
    assert.deepEqual(presence, { room, joined: [], left: [{ id: tab1.userId, name: "tabby" }], count: 1 });
  });

  test("closing one of two tabs makes no presence", async () => {
    const { room, observer } = await roomWithObserver(server);
    const tab1 = await connect(server);
    const tab2 = await connect(server, { token: tab1.token });
    await tab1.join(room, "tabby");
    await tab2.join(room, "tabby");
    await observer.waitFor("presence", presenceOf(room, "joined", tab1.userId));
    const mark = observer.mark();
    tab1.close();
    await observer.assertNoEvent("presence", () => true, { since: mark });
    const check = await connect(server);
    assert.equal((await check.join(room, "check")).count, 3);
  });

  test("the same user joining again keeps the name it already has there", async () => {
    const { room, observer } = await roomWithObserver(server);
    const tab1 = await connect(server);
    await tab1.join(room, "Original");
    const tab2 = await connect(server, { token: tab1.token });
    const ack = await tab2.join(room, "Another Name");
    assert.deepEqual(ack.you, { id: tab1.userId, name: "Original" });
    assert.deepEqual(ack.users.find((u) => u.id === tab1.userId), { id: tab1.userId, name: "Original" });
    const again = await tab1.join(room, "Third Name");
    assert.equal(again.you.name, "Original");
    await observer.waitFor("presence", presenceOf(room, "joined", tab1.userId));
    assert.ok(observer.received("presence").every((p) => p.joined.every((u) => u.name !== "Another Name")));
  });

  test("a taken name is refused whatever its case", async () => {
    const { room } = await roomWithObserver(server);
    const asha = await connect(server);
    await asha.join(room, "Asha");
    const rival = await connect(server);
    assertError(await rival.emit("join", { room, name: "asha" }), "name_taken");
    assertError(await rival.emit("join", { room, name: "  ASHA  " }), "name_taken");
    assertError(await rival.emit("join", { room: room.toUpperCase(), name: "aSHa" }), "name_taken");
    assert.equal((await rival.join(room, "Asha2")).count, 3);
  });

  test("a refused join leaves the connection out of the room", async () => {
    const { room, observer } = await roomWithObserver(server);
    const rival = await connect(server);
    assertError(await rival.emit("join", { room, name: "OBSERVER" }), "name_taken");
    assertError(await rival.emit("message", { room, text: "am I in?" }), "not_in_room");
    await observer.assertNoEvent("presence");
  });

  test("a name taken in one room is free in another, and free again once its holder leaves", async () => {
    const roomA = uniqueRoom();
    const roomB = uniqueRoom();
    const asha = await connect(server);
    await asha.join(roomA, "Asha");
    const other = await connect(server);
    await other.join(roomB, "asha");
    assertError(await other.emit("join", { room: roomA, name: "Asha" }), "name_taken");
    await asha.emit("leave", { room: roomA });
    const ack = await other.join(roomA, "ASHA");
    assert.equal(ack.you.name, "ASHA");
  });

  test("leave answers ok and the others see left at once", async () => {
    const { room, observer } = await roomWithObserver(server);
    const leaver = await connect(server);
    await leaver.join(room, "leaver");
    await observer.waitFor("presence", presenceOf(room, "joined", leaver.userId));
    const started = Date.now();
    assert.deepEqual(await leaver.emit("leave", { room: room.toUpperCase() }), { ok: true });
    const presence = await observer.waitFor("presence", presenceOf(room, "left", leaver.userId));
    assert.ok(Date.now() - started < 1000, "left should not wait for the grace period");
    assert.deepEqual(presence, { room, joined: [], left: [{ id: leaver.userId, name: "leaver" }], count: 1 });
    await leaver.assertNoEvent("presence");
    assertError(await leaver.emit("message", { room, text: "still here?" }), "not_in_room");
  });

  test("a client-side disconnect is an immediate left in every room of that connection", async () => {
    const one = await roomWithObserver(server);
    const two = await roomWithObserver(server);
    const leaver = await connect(server);
    await leaver.join(one.room, "leaver");
    await leaver.join(two.room, "leaver");
    await one.observer.waitFor("presence", presenceOf(one.room, "joined", leaver.userId));
    await two.observer.waitFor("presence", presenceOf(two.room, "joined", leaver.userId));
    const started = Date.now();
    leaver.close();
    const left = await Promise.all([
      one.observer.waitFor("presence", presenceOf(one.room, "left", leaver.userId)),
      two.observer.waitFor("presence", presenceOf(two.room, "left", leaver.userId)),
    ]);
    assert.ok(Date.now() - started < 1000, "left should not wait for the 5 s grace period");
    assert.deepEqual(left.map((p) => p.count), [1, 1]);
  });

  test("presence goes only to the room whose users changed", async () => {
    const { room, observer } = await roomWithObserver(server);
    const elsewhere = uniqueRoom();
    const both = await connect(server);
    await both.join(elsewhere, "both");
    await both.join(room, "both");
    await observer.waitFor("presence", presenceOf(room, "joined", both.userId));
    const mark = observer.mark();
    const newcomer = await connect(server);
    await newcomer.join(elsewhere, "newcomer");
    await both.waitFor("presence", presenceOf(elsewhere, "joined", newcomer.userId));
    await observer.assertNoEvent("presence", () => true, { since: mark, within: 100 });
  });

  test("simultaneous joins reach the others with a final count that adds up", async () => {
    const { room, observer } = await roomWithObserver(server);
    const joiners = await Promise.all([connect(server), connect(server), connect(server)]);
    await Promise.all(joiners.map((c, i) => c.join(room, `joiner${i}`)));
    const ids = joiners.map((c) => c.userId);
    const seen = () => new Set(observer.received("presence").flatMap((p) => p.joined.map((u) => u.id)));
    await observer.waitFor("presence", () => ids.every((id) => seen().has(id)));
    const events = observer.received("presence");
    assert.equal(events.at(-1).count, 4);
    for (const event of events) assert.deepEqual(event.left, []);
    assert.equal(events.flatMap((p) => p.joined).length, 3, "each joiner announced once");
  });
});
