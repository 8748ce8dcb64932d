// nginx from deploy/nginx.conf in front of three plain processes (each its
// own SQLite file, no Redis): sticky sessions and failover at the proxy,
// which hold whether or not the processes share anything.
import assert from "node:assert/strict";
import { request } from "node:http";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { TEMPLATE, renderConfig } from "../support/nginx.mjs";
import {
  connect, eventually, metric, nodeOf, polling, sleep, useCluster, websocket,
} from "./helpers.mjs";
import { uniqueRoom } from "../contract/helpers.mjs";

const server = useCluster({ shared: false, nginx: true });

const HANDSHAKE = "/socket.io/?EIO=4&transport=polling";

/** A raw GET through nginx from source address `from`, with an optional cookie. */
function get(path, { from = "127.0.0.1", cookie } = {}) {
  const { hostname, port } = new URL(server.cluster.proxyUrl);
  return new Promise((resolve, reject) => {
    const headers = cookie ? { cookie } : {};
    const req = request({ host: hostname, port, path, localAddress: from, headers }, (res) => {
      let body = "";
      res.on("data", (chunk) => { body += chunk; });
      res.on("end", () => resolve({ status: res.statusCode, cookies: res.headers["set-cookie"] ?? [], body }));
    });
    req.on("error", reject);
    req.setTimeout(2000, () => req.destroy(new Error(`no answer to GET ${path}`)));
    req.end();
  });
}

/** Opens an Engine.IO session through nginx: its sid and the process that named itself. */
async function handshake(options) {
  const response = await get(HANDSHAKE, options);
  assert.equal(response.status, 200, `handshake through nginx: ${response.status} ${response.body}`);
  const node = /^baatchit_node=(n\d); Path=\/; HttpOnly; SameSite=Lax$/.exec(response.cookies[0] ?? "")?.[1];
  assert.ok(node, `expected the cookie naming the process, got ${JSON.stringify(response.cookies)}`);
  return { sid: JSON.parse(response.body.slice(1)).sid, node };
}

test("nginx runs deploy/nginx.conf itself, with only its ports and paths changed", () => {
  const template = readFileSync(TEMPLATE, "utf8").split("\n");
  const rendered = renderConfig({
    listen: "127.0.0.1:4000", nodes: ["127.0.0.1:4001", "127.0.0.1:4002", "127.0.0.1:4003"], dir: "/x",
  }).split("\n");
  assert.equal(rendered.length, template.length);
  const changed = template.filter((line, i) => line !== rendered[i]);
  assert.ok(changed.every((line) => /127\.0\.0\.1:300[0-3]|\/tmp\/baat-chit-nginx/.test(line)),
    `lines other than addresses and paths changed: ${changed.join("\n")}`);
  assert.ok(rendered.some((line) => line.includes("listen 127.0.0.1:4000;")));
});

test("a first request, with no cookie, is answered by a process that names itself in the cookie", async () => {
  const { node } = await handshake();
  assert.match(node, /^n[123]$/);
});

test("requests go to the process their cookie names, whatever address they come from", async () => {
  // Find a second client address that nginx balances to another process.
  const a = "127.0.0.1";
  const nodeA = (await handshake({ from: a })).node;
  let b;
  for (let host = 2; host <= 50 && !b; host += 1) {
    const from = `127.0.0.${host}`;
    if ((await handshake({ from })).node !== nodeA) b = from;
  }
  assert.ok(b, "no client address from 127.0.0.2 to .50 was balanced to a process other than 127.0.0.1's");

  const { sid, node } = await handshake({ from: a });
  assert.equal(node, nodeA);
  const poll = `${HANDSHAKE}&sid=${sid}`;
  const withCookie = await get(poll, { from: b, cookie: `baatchit_node=${node}` });
  assert.equal(withCookie.status, 200, `with the cookie, the poll reaches the session's process: ${withCookie.body}`);
  const withoutCookie = await get(poll, { from: b });
  assert.equal(withoutCookie.status, 400, "without it, the poll lands on another process, which does not know the session");
});

test("polling clients through nginx keep every request of their session on the process that opened it", async () => {
  const { cluster } = server;
  const before = await Promise.all(cluster.urls.map((url) => metric(url, "baatchit_connections")));
  const clients = [];
  for (const { name } of cluster.nodes) clients.push(await connect(cluster.proxyUrl, polling(name)));
  for (const [i, client] of clients.entries()) {
    assert.equal(nodeOf(client), cluster.nodes[i].name, "the session opened on the process its cookie named");
    const room = uniqueRoom();
    await client.join(room, `poller${i}`);
    for (let n = 0; n < 10; n += 1) await client.say(room, `poll ${n}`);
    assert.equal(client.transport, "polling");
  }
  const during = await Promise.all(cluster.urls.map((url) => metric(url, "baatchit_connections")));
  assert.deepEqual(during.map((count, i) => count - before[i]), [1, 1, 1], "one connection on each process");
  for (const client of clients) assert.deepEqual(client.received("disconnect"), [], "no session was lost");
});

test("a default client upgrades to websocket through nginx and keeps working", async () => {
  const { cluster } = server;
  const room = uniqueRoom();
  const upgrading = await connect(cluster.proxyUrl, { withCredentials: true });
  const other = await connect(cluster.proxyUrl, { withCredentials: true, extraHeaders: { cookie: `baatchit_node=${nodeOf(upgrading)}` } });
  await upgrading.join(room, "upgrader");
  await other.join(room, "other");
  await eventually(() => assert.equal(upgrading.transport, "websocket", "not upgraded through nginx"));
  const sent = await upgrading.say(room, "after the upgrade");
  assert.deepEqual(await other.waitFor("message"), sent);
});

test("a websocket-only client connects through nginx to the process its cookie names", async () => {
  const { cluster } = server;
  const before = await metric(cluster.urls[2], "baatchit_connections");
  const client = await connect(cluster.proxyUrl, websocket("n3"));
  assert.equal(client.transport, "websocket");
  assert.equal(await metric(cluster.urls[2], "baatchit_connections"), before + 1);
});

test("a polling client whose process dies comes back through nginx on another process and stays there", async () => {
  const { cluster } = server;
  const client = await connect(cluster.proxyUrl, { ...polling("n1"), reconnection: true, reconnectionDelay: 100 });
  assert.equal(nodeOf(client), "n1");
  await cluster.kill(0);
  try {
    await client.waitFor("session", () => true, { since: client.mark(), timeout: 10_000 });
    await eventually(() => assert.ok(client.socket.connected, "not reconnected"), { timeout: 10_000 });
    const home = nodeOf(client);
    assert.ok(home === "n2" || home === "n3", `expected a new session on n2 or n3, got ${home}`);
    const mark = client.mark();
    const room = uniqueRoom();
    await client.join(room, "survivor");
    for (let n = 0; n < 10; n += 1) await client.say(room, `after ${n}`);
    await sleep(500);
    assert.deepEqual(client.received("disconnect", () => true, mark), [], "its later polls left the new session");
    assert.equal(nodeOf(client), home, "the cookie jar keeps the new process");
  } finally {
    await cluster.restart(0);
  }
});
