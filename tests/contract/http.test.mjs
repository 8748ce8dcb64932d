// HTTP endpoints beside Socket.IO: health, metrics and the web app routes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { ACK_TIMEOUT_MS, assertError, connect, get, processUrls, sleep, uniqueRoom, useServer } from "./helpers.mjs";

const server = useServer();

const METRICS = [
  "baatchit_connections",
  "baatchit_users",
  "baatchit_rooms",
  "baatchit_messages_stored_total",
  "baatchit_deliveries_total",
  "baatchit_delivery_lag_seconds",
  "baatchit_errors_total",
];

/** One process's metrics page as text. */
async function scrape(url) {
  const response = await get({ url }, "/metrics");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
  return response.text();
}

/**
 * Every process's metrics page. Each process counts what happens on it, so
 * against a cluster a counter's total is the sum over the processes.
 */
const scrapeAll = () => Promise.all(processUrls(server).map(scrape));

/** The value of one sample (`name` with an optional exact label set), or undefined. */
function sample(text, name, labels = "") {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const [key, value] = line.trim().split(/\s+/);
    if (key === `${name}${labels}`) return Number(value);
  }
  return undefined;
}

/** A sample summed over every process's page. */
const total = (texts, name, labels) => texts.reduce((sum, text) => sum + (sample(text, name, labels) ?? 0), 0);

/**
 * The gauges: connections summed over the processes (each counts its own);
 * users and rooms as any process reports them (in a cluster they come from
 * the shared presence, so every process reports the same).
 */
async function gauges() {
  const texts = await scrapeAll();
  const connections = total(texts, "baatchit_connections");
  const [users, rooms] = ["users", "rooms"].map((name) => sample(texts[0], `baatchit_${name}`));
  return { connections, users, rooms };
}

/** Polls the gauges until they equal `expected`; fails with the last reading after ACK_TIMEOUT_MS. */
async function gaugesBecome(expected, when) {
  const deadline = Date.now() + ACK_TIMEOUT_MS;
  for (;;) {
    const now = await gauges();
    if (isDeepStrictEqual(now, expected) || Date.now() > deadline) {
      assert.deepEqual(now, expected, `gauges ${when}`);
      return;
    }
    await sleep(20);
  }
}

test("healthz answers 200 with status ok while the database is reachable", async () => {
  const response = await get(server, "/healthz");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /json/);
  assert.deepEqual(await response.json(), { status: "ok" });
});

test("metrics lists every metric of the contract in Prometheus text format", async () => {
  const client = await connect(server);
  assertError(await client.emit("join", { room: "", name: "x" }), "invalid_room");
  const texts = await scrapeAll();
  for (const text of texts) {
    for (const name of METRICS) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, "m"), `no # TYPE line for ${name}`);
    }
    assert.match(text, /^baatchit_delivery_lag_seconds(_count|_sum|_bucket)/m);
  }
  assert.ok(total(texts, "baatchit_errors_total", '{code="invalid_room"}') >= 1, "invalid_room not counted");
});

test("metrics count stored messages, deliveries and errors as they happen", async () => {
  const room = uniqueRoom();
  const [sender, a, b] = await Promise.all([connect(server), connect(server), connect(server)]);
  await sender.join(room, "sender");
  await a.join(room, "a");
  await b.join(room, "b");
  const before = await scrapeAll();
  for (const text of ["one", "two", "three"]) await sender.say(room, text);
  await a.waitForCount("message", 3);
  await b.waitForCount("message", 3);
  assertError(await sender.emit("message", { room, text: "" }), "invalid_message");
  const after = await scrapeAll();
  const delta = (name, labels) => total(after, name, labels) - total(before, name, labels);
  assert.equal(delta("baatchit_messages_stored_total"), 3);
  // 3 messages to 2 others each; presence and typing are not deliveries.
  assert.equal(delta("baatchit_deliveries_total"), 6);
  assert.equal(delta("baatchit_errors_total", '{code="invalid_message"}'), 1);
});

test("metrics gauges count connections, users and rooms, up and back down", async () => {
  // Every earlier test's clients said goodbye (no grace period): the server empties.
  await gaugesBecome({ connections: 0, users: 0, rooms: 0 }, "before the test");
  const [room, elsewhere] = [uniqueRoom(), uniqueRoom()];
  const [one, two] = await Promise.all([connect(server), connect(server)]);
  await gaugesBecome({ connections: 2, users: 0, rooms: 0 }, "connected, in no room");
  await one.join(room, "one");
  await two.join(room, "two");
  const oneAgain = await connect(server, { token: one.token });
  await oneAgain.join(room, "one");
  await oneAgain.join(elsewhere, "one");
  await gaugesBecome({ connections: 3, users: 2, rooms: 2 }, "with two users, one in two tabs and rooms");
  two.close();
  await gaugesBecome({ connections: 2, users: 1, rooms: 2 }, "after one user left");
  one.close();
  oneAgain.close();
  await gaugesBecome({ connections: 0, users: 0, rooms: 0 }, "after everyone left");
});

test("the web app is served at / and at /r/<room>", async () => {
  for (const path of ["/", "/r/general"]) {
    const response = await get(server, path);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get("content-type") ?? "", /text\/html/, path);
  }
});
