// Redis restarted mid-conversation (a private redis-server on a free port,
// never the machine's shared one): the cluster heals by itself within 5 s,
// and once everyone has caught up with `since`, no acked message is missing.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { assertError, uniqueRoom } from "../contract/helpers.mjs";
import { startCluster } from "../support/cluster.mjs";
import { startPrivateRedis } from "../support/services.mjs";
import {
  assertContainsAll, assertIncreasing, assertUnique, brief, closeClients, connect, eventually, polling, sleep,
} from "./helpers.mjs";
import { Member } from "./member.mjs";

/** The bound for the cluster to heal after Redis is back. */
const HEAL_LIMIT_MS = 5000;

let redis;
let cluster;
after(async () => {
  closeClients();
  await cluster?.stopAll();
  await redis?.stop();
});

/** Each writer sends a message every `everyMs` until stopped; messages record when they were sent. */
function converse(writers, room, everyMs) {
  let talking = true;
  const loops = writers.map(async (writer, w) => {
    for (let n = 0; talking; n += 1) {
      await writer.say(room, `writer ${w} #${n} at ${Date.now()}`).catch(() => undefined);
      await sleep(everyMs);
    }
  });
  return async () => {
    talking = false;
    await Promise.all(loops);
  };
}

/** When a message's text says it was sent. */
const sentAt = (message) => Number(/ at (\d+)$/.exec(message.text)?.[1] ?? 0);

test("Redis restarted mid-conversation: the cluster heals within 5 s and after catch-up nothing acked is missing", { timeout: 120_000 }, async () => {
  redis = await startPrivateRedis();
  cluster = await startCluster({ processes: 3, nginx: true, redisUrl: redis.url, args: ["--rate-limit", "0", "--user-rate-limit", "0"] });
  const room = uniqueRoom("redis");
  const nodes = cluster.nodes.map((node) => node.name);

  // On each process: a writer by websocket and a reader polling through nginx.
  const writers = [];
  const readers = [];
  for (const [i, url] of cluster.urls.entries()) {
    writers.push(await Member.connect(url, { transports: ["websocket"] }));
    readers.push(await Member.connect(cluster.proxyUrl, polling(nodes[i])));
  }
  const members = [...writers, ...readers];
  const names = members.map((_, i) => `member ${i}`);
  for (const [i, member] of members.entries()) await member.join(room, names[i]);

  const stopTalking = converse(writers, room, 100);
  await sleep(1000);
  await redis.restart({ downMs: 1000 });
  const backAt = Date.now();

  // Healed: a message sent after Redis came back, from each process, has
  // reached the members on every other process; and every process again
  // answers for the room's people.
  await eventually(() => {
    for (const [w, writer] of writers.entries()) {
      for (const [m, member] of members.entries()) {
        if (m % 3 === w) continue;
        const fresh = member.received.get(room).some((message) => message.user.id === writer.userId && sentAt(message) > backAt);
        assert.ok(fresh, `member ${m} (on ${nodes[m % 3]}) got nothing sent by the writer on ${nodes[w]} since Redis came back`);
      }
    }
  }, { timeout: HEAL_LIMIT_MS, interval: 50 });
  await eventually(async () => {
    for (const [w, writer] of writers.entries()) {
      const ack = await writer.client.emit("rooms", {});
      assert.deepEqual(ack.rooms?.find((r) => r.room === room), { room, count: 6 }, `rooms on ${nodes[w]}: ${brief(ack)}`);
    }
  }, { timeout: Math.max(0, backAt + HEAL_LIMIT_MS - Date.now()), interval: 100 });
  const healedAfter = Date.now() - backAt;
  assert.ok(healedAfter <= HEAL_LIMIT_MS, `the cluster healed ${healedAfter} ms after Redis came back`);

  const newcomer = await connect(cluster.urls[0]);
  assertError(await newcomer.emit("join", { room, name: names[1].toUpperCase() }), "name_taken",
    "a name held on n2 is still taken on n1 after the restart:");

  await stopTalking();
  for (const member of members) await member.catchUp(room);
  const acked = writers.flatMap((writer) => writer.sent.get(room) ?? []).map((message) => message.seq);
  acked.sort((a, b) => a - b);
  assert.ok(acked.length > 30, `sanity: the conversation went on (${acked.length} acked)`);
  for (const [m, member] of members.entries()) {
    const who = `member ${m} (${m < 3 ? "websocket" : "polling through nginx"} on ${nodes[m % 3]})`;
    assertIncreasing(member.liveSeqs(room), `${who}, live`);
    assertUnique(member.seqs(room), `${who}, live and caught up`);
    assertContainsAll(member.known(room), acked, who);
  }
});
