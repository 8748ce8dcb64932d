// HTTP endpoints beside Socket.IO: health, metrics and the web app routes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertError, connect, get, processUrls, sleep, uniqueRoom, useServer } from "./helpers.mjs";

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

test("metrics gauges follow connections and rooms", async () => {
  await sleep(200); // let the previous test's disconnects settle
  const urls = processUrls(server);
  const before = await Promise.all(urls.map(scrape));
  const room = uniqueRoom();
  const clients = await Promise.all([connect(server), connect(server)]);
  await clients[0].join(room, "one");
  await clients[1].join(room, "two");
  // Each process is checked for the clients connected to it.
  for (const [i, url] of urls.entries()) {
    const here = clients.filter((client) => client.url === url).length;
    if (here === 0) continue;
    const during = await scrape(url);
    const delta = (name) => sample(during, name) - sample(before[i], name);
    assert.equal(delta("baatchit_connections"), here, `connections on ${url}`);
    assert.equal(delta("baatchit_rooms"), 1, `rooms on ${url}`);
    assert.ok(sample(during, "baatchit_users") >= here, `users on ${url}`);
  }
});

test("the web app is served at / and at /r/<room>", async () => {
  for (const path of ["/", "/r/general"]) {
    const response = await get(server, path);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get("content-type") ?? "", /text\/html/, path);
  }
});
