// The `rooms` event: rooms that have people, most populated first.
import assert from "node:assert/strict";
import { test } from "node:test";
import { connect, connectMany, presenceOf, sleep, uniqueRoom, useServer } from "./helpers.mjs";

const GRACE_MS = 1000;
const server = useServer({ args: ["--presence-grace", String(GRACE_MS / 1000)] });

/** The rooms listed, as returned. */
async function listRooms(client) {
  const ack = await client.emit("rooms", {});
  assert.equal(ack.ok, true);
  assert.ok(Array.isArray(ack.rooms));
  return ack.rooms;
}

/**
 * Polls `rooms` until `room` is no longer listed, which must happen within
 * `timeout` ms of `since`; until then it must be listed with `count`.
 * Resolves with how many ms after `since` it went.
 */
async function unlisted(asker, room, { count, since, timeout }) {
  for (;;) {
    const listed = (await listRooms(asker)).find((r) => r.room === room);
    const elapsed = Date.now() - since;
    if (listed === undefined) return elapsed;
    assert.deepEqual(listed, { room, count });
    assert.ok(elapsed < timeout, `${room} still listed ${elapsed} ms later`);
    await sleep(20);
  }
}

/** Asserts the whole list is sorted by count descending, then name. */
function assertSorted(rooms) {
  for (let i = 1; i < rooms.length; i += 1) {
    const [a, b] = [rooms[i - 1], rooms[i]];
    assert.ok(a.count > b.count || (a.count === b.count && a.room < b.room),
      `${JSON.stringify(a)} listed before ${JSON.stringify(b)}`);
  }
}

test("rooms lists rooms with people, most populated first, then by name", async () => {
  const tag = uniqueRoom("r");
  const names = ["d", "c", "b", "a"].map((letter) => `${tag}-${letter}`);
  const people = await connectMany(server, 3);
  const [d, c, b, a] = names;
  for (const [i, person] of people.entries()) await person.join(d.toUpperCase(), `p${i}`);
  for (const [i, person] of people.slice(0, 2).entries()) await person.join(b, `p${i}`);
  for (const [i, person] of people.slice(0, 2).entries()) await person.join(c, `p${i}`);
  await people[2].join(a, "p2");
  const rooms = await listRooms(people[0]);
  assertSorted(rooms);
  const ours = rooms.filter((r) => r.room.startsWith(tag));
  assert.deepEqual(ours, [{ room: d, count: 3 }, { room: b, count: 2 }, { room: c, count: 2 }, { room: a, count: 1 }]);
});

test("a user with several tabs counts once in rooms", async () => {
  const room = uniqueRoom();
  const tab1 = await connect(server);
  const tab2 = await connect(server, { token: tab1.token });
  await tab1.join(room, "tabby");
  await tab2.join(room, "tabby");
  const listed = (await listRooms(tab1)).find((r) => r.room === room);
  assert.deepEqual(listed, { room, count: 1 });
});

test("a room disappears from the list when its last person leaves", async () => {
  const room = uniqueRoom();
  const stayer = await connect(server);
  const leaver = await connect(server);
  const asker = await connect(server);
  await stayer.join(room, "stayer");
  await leaver.join(room, "leaver");
  await stayer.waitFor("presence", presenceOf(room, "joined", leaver.userId));
  assert.deepEqual((await listRooms(asker)).find((r) => r.room === room), { room, count: 2 });
  await leaver.emit("leave", { room });
  await stayer.waitFor("presence", presenceOf(room, "left", leaver.userId));
  assert.deepEqual((await listRooms(asker)).find((r) => r.room === room), { room, count: 1 });
  // A goodbye empties the room at once: well before a grace period would end.
  const closed = Date.now();
  stayer.close();
  await unlisted(asker, room, { count: 1, since: closed, timeout: GRACE_MS / 2 });
});

test("a room with messages but nobody in it is not listed", async () => {
  const room = uniqueRoom();
  const writer = await connect(server);
  await writer.join(room, "writer");
  await writer.say(room, "left behind");
  await writer.emit("leave", { room });
  const asker = await connect(server);
  assert.equal((await listRooms(asker)).find((r) => r.room === room), undefined);
});

test("a dropped user keeps its room listed for the grace period, then not", async () => {
  const room = uniqueRoom();
  const asker = await connect(server);
  const dropper = await connect(server, { transports: ["websocket"] });
  await dropper.join(room, "dropper");
  const dropped = Date.now();
  dropper.drop();
  const gone = await unlisted(asker, room, { count: 1, since: dropped, timeout: GRACE_MS + 1000 });
  assert.ok(gone >= GRACE_MS, `unlisted ${gone} ms after the drop, within the ${GRACE_MS} ms grace period`);
});

test("rooms lists at most 100 rooms", async () => {
  // Five connections of 21 rooms each, within the joins and rooms allowed to one connection.
  const joiners = await connectMany(server, 5);
  const tag = uniqueRoom("many");
  for (let i = 0; i < 105; i += 1) await joiners[i % 5].join(`${tag}-${String(i).padStart(3, "0")}`, "joiner");
  const rooms = await listRooms(joiners[0]);
  assert.equal(rooms.length, 100);
  assertSorted(rooms);
});
