// A process that dies or shuts down: its users leave every room, and its
// clients come back through nginx on the others with nothing missing.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { presenceOf, uniqueRoom } from "../contract/helpers.mjs";
import { startCluster } from "../support/cluster.mjs";
import {
  START_TIMEOUT_MS, about, assertContainsAll, assertIncreasing, assertUnique, closeClients, connect, eventually, nodeOf, polling, sleep,
  websocket,
} from "./helpers.mjs";
import { Member } from "./member.mjs";

/** The contract's bound for removing a dead process's users. */
const DEAD_PROCESS_LIMIT_MS = 30_000;

let cluster;
afterEach(async () => {
  closeClients();
  await cluster?.stopAll();
  cluster = undefined;
}, { timeout: START_TIMEOUT_MS });

/** Waits until each of `observers` has been told that each of `joiners` joined each room. */
async function seenJoining(observers, rooms, joiners) {
  for (const observer of observers) {
    for (const room of rooms) {
      for (const joiner of joiners) await observer.waitFor("presence", presenceOf(room, "joined", joiner.userId));
    }
  }
}

/** Sends a message from `member` every `everyMs`; returns a function that stops it. */
function keepTalking(member, room, everyMs) {
  let talking = true;
  const done = (async () => {
    for (let n = 0; talking; n += 1) {
      await member.say(room, `steady ${n}`).catch(() => undefined);
      await sleep(everyMs);
    }
  })();
  return async () => {
    talking = false;
    await done;
  };
}

test("a process killed with SIGKILL: its users leave everywhere within 30 s, its clients come back through nginx with nothing missing", { timeout: 90_000 }, async () => {
  cluster = await startCluster({ processes: 3, nginx: true, args: ["--rate-limit", "0", "--user-rate-limit", "0"] });
  const [n1, , n3] = cluster.urls;
  const room = uniqueRoom("kill");

  // On n1 and n3, people who stay; on n2, some who vanish with it and some
  // who come back through nginx (a polling client and a websocket client).
  const stayers = [await Member.connect(n1, { transports: ["websocket"] }), await Member.connect(n3, { transports: ["websocket"] })];
  const returners = [await Member.connect(cluster.proxyUrl, polling("n2")), await Member.connect(cluster.proxyUrl, websocket("n2"))];
  const goners = [
    await connect(cluster.urls[1], { transports: ["websocket"] }),
    await connect(cluster.proxyUrl, polling("n2")),
  ];
  assert.equal(nodeOf(returners[0].client), "n2", "the polling returner starts on n2");
  for (const [i, member] of [...stayers, ...returners].entries()) await member.join(room, `member ${i}`);
  for (const [i, goner] of goners.entries()) await goner.join(room, `goner ${i}`);
  await seenJoining(stayers.map((member) => member.client), [room], goners);
  for (const member of [...stayers, ...returners]) await member.say(room, "before the crash");

  const stopTalking = keepTalking(stayers[1], room, 100);
  await sleep(500);
  const killedAt = Date.now();
  await cluster.kill(1);

  await Promise.all(returners.map((member) => member.rejoined(1)));
  assert.notEqual(nodeOf(returners[0].client), "n2", "the polling returner's new session is not on the dead process");
  for (const member of returners) {
    assert.equal(member.client.received("session").at(-1).userId, member.userId, "it came back as the same user");
  }
  for (const [s, stayer] of stayers.entries()) {
    for (const [g, goner] of goners.entries()) {
      const timeout = Math.max(0, DEAD_PROCESS_LIMIT_MS - (Date.now() - killedAt)) + 500;
      await about(`the stayer on ${s === 0 ? "n1" : "n3"} waiting for goner ${g} of the dead n2 to leave`,
        stayer.client.waitFor("presence", presenceOf(room, "left", goner.userId), { timeout }));
    }
  }
  const removedAfter = Date.now() - killedAt;
  assert.ok(removedAfter <= DEAD_PROCESS_LIMIT_MS + 500, `the dead process's users left after ${removedAfter} ms`);

  await stopTalking();
  const last = (await stayers[0].say(room, "after the crash")).message;
  for (const member of [...stayers, ...returners]) {
    await eventually(() => assert.ok(member.known(room).includes(last.seq), "the last message never arrived"));
  }
  const everyone = new Map([
    [stayers[0], "the stayer on n1"],
    [stayers[1], "the stayer on n3"],
    [returners[0], "the polling returner (was on n2)"],
    [returners[1], "the websocket returner (was on n2)"],
  ]);
  const acked = [...everyone.keys()].flatMap((member) => member.sent.get(room) ?? []).map((m) => m.seq);
  acked.sort((a, b) => a - b);
  for (const [member, who] of everyone) {
    assertIncreasing(member.liveSeqs(room), `${who}, live`);
    assertUnique(member.seqs(room), `${who}, live and caught up`);
    assertContainsAll(member.known(room), acked, who);
  }
});

test("a process stopped with SIGTERM removes its users at once, well within the grace period", { timeout: 60_000 }, async () => {
  cluster = await startCluster({ processes: 3, nginx: false, args: ["--presence-grace", "10"] });
  const roomNames = [uniqueRoom("term"), uniqueRoom("term")];
  const observers = [await connect(cluster.urls[0]), await connect(cluster.urls[2])];
  const leavers = [
    await connect(cluster.urls[1], { transports: ["websocket"] }),
    await connect(cluster.urls[1], { transports: ["polling"] }),
  ];
  for (const room of roomNames) {
    for (const [i, observer] of observers.entries()) await observer.join(room, `observer ${i}`);
    for (const [i, leaver] of leavers.entries()) await leaver.join(room, `leaver ${i}`);
  }
  // A join and a leave within one presence batch may cancel out: let the joins be told first.
  await seenJoining(observers, roomNames, leavers);

  const stoppedAt = Date.now();
  await cluster.stop(1);
  for (const observer of observers) {
    for (const room of roomNames) {
      for (const leaver of leavers) {
        await about(`an observer waiting for a user of the stopped n2 to leave ${room}`,
          observer.waitFor("presence", presenceOf(room, "left", leaver.userId), { timeout: 3000 }));
      }
    }
  }
  const after = Date.now() - stoppedAt;
  assert.ok(after < 3000, `left came ${after} ms after SIGTERM; a clean shutdown should not wait out the 10 s grace`);
  const listed = (await observers[0].emit("rooms", {})).rooms.filter((r) => roomNames.includes(r.room));
  assert.deepEqual(listed.map((r) => r.count), [2, 2], "only the two observers are left in each room");
});
