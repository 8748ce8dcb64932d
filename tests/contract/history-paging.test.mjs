// History: what `join` returns with and without `since`, and `history`
// paging with before / after / limit.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ACK_TIMEOUT_MS, assertMessage, connect, connectMany, range, sendMany, seqs, sleep, uniqueRoom, useServer } from "./helpers.mjs";

const server = useServer({ args: ["--rate-limit", "10000", "--user-rate-limit", "0"] });

/** Creates a room holding `count` messages; resolves with the room and the acked messages. */
async function roomWith(count) {
  const room = uniqueRoom("history");
  const writer = await connect(server);
  await writer.join(room, "writer");
  const sent = await sendMany(writer, room, count);
  writer.close();
  return { room, sent };
}

/** One room of 130 messages shared by the read-only tests below. */
let shared;
const room130 = () => (shared ??= roomWith(130));

/** A fresh reader joined to the shared room. */
async function reader() {
  const { room, sent } = await room130();
  const client = await connect(server);
  await client.join(room, "reader");
  return { room, sent, client };
}

/**
 * Four writers send 100 messages each at once while 16 clients join, one
 * a millisecond, with `since: 0`; each joiner must end with seqs 1 to 400
 * exactly, history first, then live.
 */
async function joinDuringBurst(round) {
  const room = uniqueRoom("burst");
  const writers = await connectMany(server, 4);
  for (const [i, writer] of writers.entries()) await writer.join(room, `writer ${i}`);
  const joiners = await connectMany(server, 16);
  const total = writers.length * 100;
  const burst = Promise.all(writers.map((writer, i) => sendMany(writer, room, 100, (n) => `w${i} m${n}`)));
  await writers[1].waitFor("message", (m) => m.room === room && m.text.startsWith("w0"));
  const acks = await Promise.all(joiners.map((joiner, i) =>
    sleep(i).then(() => joiner.join(room, `joiner ${i}`, { since: 0 }))));
  await burst;
  for (const [i, joiner] of joiners.entries()) {
    const history = seqs(acks[i].history);
    if (history.at(-1) !== total) {
      await joiner.waitFor("message", (m) => m.room === room && m.seq === total, { timeout: ACK_TIMEOUT_MS * 5 });
    }
    const live = seqs(joiner.received("message", (m) => m.room === room));
    assert.deepEqual([...history, ...live], range(1, total), `round ${round}, joiner ${i}: ${history.length} in history`);
  }
  [...writers, ...joiners].forEach((client) => client.close());
}

describe("join history", () => {
  test("join gives the latest 50 messages oldest first with hasMore when older exist", async () => {
    const { room, sent } = await room130();
    const client = await connect(server);
    const ack = await client.join(room, "reader");
    assert.deepEqual(seqs(ack.history), range(81, 130));
    assert.equal(ack.hasMore, true);
    ack.history.forEach(assertMessage);
    assert.deepEqual(ack.history, sent.slice(80), "history equals what the acks returned");
  });

  test("join in a room of exactly 50 messages has no more, with 51 it has", async () => {
    const fifty = await roomWith(50);
    const fiftyOne = await roomWith(51);
    const client = await connect(server);
    const a = await client.join(fifty.room, "reader");
    assert.deepEqual(seqs(a.history), range(1, 50));
    assert.equal(a.hasMore, false);
    const b = await client.join(fiftyOne.room, "reader");
    assert.deepEqual(seqs(b.history), range(2, 51));
    assert.equal(b.hasMore, true);
  });

  test("join with since gives every message after it, oldest first", async () => {
    const { room } = await room130();
    const client = await connect(server);
    const cases = [[0, range(1, 130)], [100, range(101, 130)], [129, [130]], [130, []], [5000, []]];
    for (const [since, expected] of cases) {
      const ack = await client.join(room, "reader", { since });
      assert.deepEqual(seqs(ack.history), expected, `since ${since}`);
      assert.equal(ack.hasMore, false, `since ${since}`);
    }
  });

  test("join with since stops at 500 messages and says more exist", async () => {
    const { room } = await roomWith(620);
    const client = await connect(server);
    const first = await client.join(room, "reader", { since: 0 });
    assert.deepEqual(seqs(first.history), range(1, 500));
    assert.equal(first.hasMore, true);
    const exactly = await client.join(room, "reader", { since: 120 });
    assert.deepEqual(seqs(exactly.history), range(121, 620));
    assert.equal(exactly.hasMore, false, "exactly 500 newer: nothing more");
    const capped = await client.join(room, "reader", { since: 119 });
    assert.equal(capped.history.length, 500);
    assert.equal(capped.hasMore, true);
    const rest = await client.join(room, "reader", { since: 500 });
    assert.deepEqual(seqs(rest.history), range(501, 620));
    assert.equal(rest.hasMore, false);
  });

  test("a reconnecting client that joins with since gets exactly what it missed", async () => {
    const room = uniqueRoom();
    const talker = await connect(server);
    await talker.join(room, "talker");
    const away = await connect(server);
    await away.join(room, "away");
    await talker.say(room, "seen");
    const lastSeen = (await away.waitFor("message")).seq;
    away.close();
    const missed = await sendMany(talker, room, 7, (i) => `missed ${i}`);
    const back = await connect(server, { token: away.token });
    const ack = await back.join(room, "away", { since: lastSeen });
    assert.deepEqual(ack.history, missed);
    assert.equal(ack.hasMore, false);
  });

  test("join in an empty room has no history and no more", async () => {
    const client = await connect(server);
    const ack = await client.join(uniqueRoom(), "first", { since: 0 });
    assert.deepEqual(ack.history, []);
    assert.equal(ack.hasMore, false);
  });
});

describe("history paging", () => {
  test("history without bounds gives the latest 50, or the latest limit", async () => {
    const { room, sent, client } = await reader();
    const all = await client.emit("history", { room });
    assert.equal(all.ok, true);
    assert.deepEqual(all.messages, sent.slice(80));
    assert.equal(all.hasMore, true);
    const ten = await client.emit("history", { room, limit: 10 });
    assert.deepEqual(seqs(ten.messages), range(121, 130));
    assert.equal(ten.hasMore, true);
  });

  test("a limit over 100 is capped to 100", async () => {
    const { room, client } = await reader();
    for (const limit of [101, 130, 1000, 1_000_000]) {
      const ack = await client.emit("history", { room, limit });
      assert.deepEqual(seqs(ack.messages), range(31, 130), `limit ${limit}`);
      assert.equal(ack.hasMore, true);
    }
    const before = await client.emit("history", { room, before: 131, limit: 500 });
    assert.deepEqual(seqs(before.messages), range(31, 130));
  });

  test("before gives the messages just older than that seq, oldest first", async () => {
    const { room, client } = await reader();
    const cases = [
      [{ before: 81 }, range(31, 80), true],
      [{ before: 31 }, range(1, 30), false],
      [{ before: 51 }, range(1, 50), false],
      [{ before: 52 }, range(2, 51), true],
      [{ before: 2 }, [1], false],
      [{ before: 1 }, [], false],
      [{ before: 0 }, [], false],
      [{ before: 100, limit: 3 }, [97, 98, 99], true],
      [{ before: 5000 }, range(81, 130), true],
    ];
    for (const [bounds, expected, hasMore] of cases) {
      const ack = await client.emit("history", { room, ...bounds });
      assert.deepEqual(seqs(ack.messages), expected, JSON.stringify(bounds));
      assert.equal(ack.hasMore, hasMore, `hasMore for ${JSON.stringify(bounds)}`);
    }
  });

  test("after gives the messages just newer than that seq, oldest first", async () => {
    const { room, client } = await reader();
    const cases = [
      [{ after: 0 }, range(1, 50), true],
      [{ after: 80 }, range(81, 130), false],
      [{ after: 79 }, range(80, 129), true],
      [{ after: 100, limit: 5 }, range(101, 105), true],
      [{ after: 129 }, [130], false],
      [{ after: 130 }, [], false],
      [{ after: 5000 }, [], false],
      [{ after: 0, limit: 100 }, range(1, 100), true],
    ];
    for (const [bounds, expected, hasMore] of cases) {
      const ack = await client.emit("history", { room, ...bounds });
      assert.deepEqual(seqs(ack.messages), expected, JSON.stringify(bounds));
      assert.equal(ack.hasMore, hasMore, `hasMore for ${JSON.stringify(bounds)}`);
    }
  });

  test("paging back with before walks the whole room once", async () => {
    const { room, sent, client } = await reader();
    const pages = [];
    let page = await client.emit("history", { room, limit: 40 });
    pages.unshift(page.messages);
    while (page.hasMore) {
      page = await client.emit("history", { room, before: page.messages[0].seq, limit: 40 });
      pages.unshift(page.messages);
    }
    assert.deepEqual(pages.flat(), sent);
  });

  test("paging forward with after walks the whole room once", async () => {
    const { room, sent, client } = await reader();
    const pages = [];
    let page = await client.emit("history", { room, after: 0, limit: 33 });
    pages.push(page.messages);
    while (page.hasMore) {
      page = await client.emit("history", { room, after: page.messages.at(-1).seq, limit: 33 });
      pages.push(page.messages);
    }
    assert.deepEqual(pages.flat(), sent);
  });

  // The server holds a few committed messages back to send them to a room in
  // one pass; a join must see them either in its history or live, never
  // both. Where joins land is up to timing, so three rounds.
  test("a join in the middle of a burst gets every message once, in its history or live, in seq order", async () => {
    for (const round of [1, 2, 3]) await joinDuringBurst(round);
  });

  test("history of a room without messages is empty", async () => {
    const room = uniqueRoom();
    const client = await connect(server);
    await client.join(room, "alone");
    assert.deepEqual(await client.emit("history", { room }), { ok: true, messages: [], hasMore: false });
    assert.deepEqual(
      await client.emit("history", { room: room.toUpperCase(), after: 0, limit: 1 }),
      { ok: true, messages: [], hasMore: false },
    );
  });
});
