// The harness itself: a cluster run leaves nothing behind on the machine's
// shared services, and a service that is down fails the run clearly.
import assert from "node:assert/strict";
import { test } from "node:test";
import { uniqueRoom } from "../contract/helpers.mjs";
import { startCluster } from "../support/cluster.mjs";
import {
  countKeys, databaseExists, freePort, reachable, requireServices,
} from "../support/services.mjs";
import { closeClients, connect } from "./helpers.mjs";

test("a cluster run leaves no process, database or Redis key behind", { timeout: 60_000 }, async () => {
  const cluster = await startCluster({ processes: 3, nginx: true });
  const { databaseName, redisUrl, redisPrefix } = cluster.storage;
  const ports = [...cluster.urls, cluster.proxyUrl].map((url) => Number(new URL(url).port));
  try {
    const client = await connect(cluster.proxyUrl);
    const room = uniqueRoom();
    await client.join(room, "someone");
    await client.say(room, "leave no trace");
    assert.ok(await databaseExists(databaseName), "sanity: the run's database exists while it runs");
    assert.ok(await countKeys(redisUrl, redisPrefix) > 0, `sanity: someone in a room leaves keys under ${redisPrefix}`);
  } finally {
    closeClients();
    await cluster.stopAll();
  }
  assert.equal(await databaseExists(databaseName), false, `database ${databaseName} was not dropped`);
  assert.equal(await countKeys(redisUrl, redisPrefix), 0, `Redis keys under ${redisPrefix} were not deleted`);
  for (const port of ports) assert.equal(await reachable("127.0.0.1", port), false, `something still listens on ${port}`);
});

test("a Redis that is not running fails the run with the command that starts it", async () => {
  const nobody = `redis://127.0.0.1:${await freePort()}`;
  await assert.rejects(requireServices(nobody), (error) => {
    assert.match(error.message, /Redis is not reachable at 127\.0\.0\.1:\d+/);
    assert.match(error.message, /redis-server/);
    return true;
  });
});
