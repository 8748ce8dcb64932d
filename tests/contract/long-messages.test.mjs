// Rooms of the longest messages: the server keeps only part of such a room
// in memory (docs/cluster.md, "Memory"), yet every join returns all it
// must, read from the database where memory falls short.
import assert from "node:assert/strict";
import { test } from "node:test";
import { connect, range, sendMany, seqs, uniqueRoom, useServer } from "./helpers.mjs";

const server = useServer({ args: ["--rate-limit", "10000", "--user-rate-limit", "0"] });

/** 2,000 characters, all but the number of four bytes: about the longest text there is. */
const longest = (i) => `${i} ${"\u{1F600}".repeat(2000 - `${i} `.length)}`;

/** A room of 60 of the longest messages; resolves with the room and the acked messages. */
async function roomOfLongest() {
  const room = uniqueRoom("long");
  const writer = await connect(server);
  await writer.join(room, "writer");
  const sent = await sendMany(writer, room, 60, longest);
  writer.close();
  return { room, sent };
}

test("joins of a room of the longest messages give the newest 50 in full, each time", async () => {
  const { room, sent } = await roomOfLongest();
  for (const name of ["first reader", "second reader"]) {
    const client = await connect(server);
    const ack = await client.join(room, name);
    assert.deepEqual(seqs(ack.history), range(11, 60), name);
    assert.equal(ack.hasMore, true);
    assert.deepEqual(ack.history, sent.slice(10), `${name}: history equals what the acks returned`);
    client.close();
  }
});

test("a join with since in a room of the longest messages gives every message after it", async () => {
  const { room, sent } = await roomOfLongest();
  for (const since of [5, 55, 59, 60]) {
    const client = await connect(server);
    const ack = await client.join(room, "reader", { since });
    assert.deepEqual(seqs(ack.history), range(since + 1, 60), `since ${since}`);
    assert.deepEqual(ack.history, sent.slice(since), `since ${since}: the texts are whole`);
    client.close();
  }
});
