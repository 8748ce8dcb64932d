// Durability: an ok ack means the message survives `kill -9` right after.
// Against a cluster, `kill` is every process at once and the restart is a
// new cluster on the same database: nothing acked may live only in memory.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { closeClients, connect, launch, range, sendMany, seqs, uniqueRoom } from "./helpers.mjs";

const servers = [];
after(async () => {
  closeClients();
  for (const server of servers) await server.kill();
  for (const server of servers) await server.cleanup();
});

async function start(options) {
  const server = await launch({ ...options, args: ["--rate-limit", "10000", "--user-rate-limit", "0"] });
  servers.push(server);
  return server;
}

test("every acked message survives a SIGKILL right after its ack", async () => {
  const first = await start();
  const room = uniqueRoom("durable");
  const writers = await Promise.all([connect(first), connect(first)]);
  await writers[0].join(room, "writer0");
  await writers[1].join(room, "writer1");
  const batches = await Promise.all(writers.map((writer, w) =>
    sendMany(writer, room, 150, (i) => `w${w} #${i} ✓`)));
  await first.kill();
  closeClients();
  const sent = batches.flat().sort((a, b) => a.seq - b.seq);

  const second = await start({ sameStorageAs: first });
  const reader = await connect(second, { token: writers[0].token });
  assert.equal(reader.userId, writers[0].userId, "the token survived the crash too");
  const ack = await reader.join(room, "writer0", { since: 0 });
  assert.deepEqual(seqs(ack.history), range(1, 300));
  assert.deepEqual(ack.history, sent, "every acked message is back with the same id, seq, user, text and ts");

  const next = await reader.say(room, "after the crash");
  assert.equal(next.seq, 301, "seq continues after the restart");
  assert.ok(!sent.some((message) => message.id === next.id), "ids are not reused");
});

test("a message with a clientId is still deduplicated after a crash", async () => {
  const first = await start();
  const room = uniqueRoom("durable");
  const writer = await connect(first);
  await writer.join(room, "writer");
  const original = await writer.say(room, "sent once", { clientId: "survives" });
  await first.kill();
  closeClients();

  const second = await start({ sameStorageAs: first });
  const back = await connect(second, { token: writer.token });
  await back.join(room, "writer");
  assert.deepEqual(await back.say(room, "sent once", { clientId: "survives" }), original);
  const history = await back.emit("history", { room });
  assert.deepEqual(history.messages, [original]);
});
