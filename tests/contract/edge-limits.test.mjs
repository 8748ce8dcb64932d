// Limits at the HTTP edge: connections per client address (and whose
// address that is behind a proxy), connections that never join the
// namespace, polling bodies, URL and header sizes, no websocket compression.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { NodeWebSocket } from "socket.io-client";
import { connect, get, sleep, uniqueRoom, useServer } from "./helpers.mjs";
import {
  POLLING,
  closeSession,
  connectNamespace,
  connectNamespaceOver,
  eventually,
  pollingHandshake,
  post,
  request,
  sessionPath,
  webSocketHandshake,
} from "./raw-engine.mjs";

/** Another loopback address: another client machine, as the server sees it. */
const ELSEWHERE = "127.0.0.2";

function assertTooMany(answer, what = "") {
  assert.equal(answer.status, 429, `${what} answered ${answer.status} ${answer.body}`);
  assert.equal(answer.sid, undefined, `${what} a session was opened`);
  assert.match(JSON.parse(answer.body).message, /too many connections/i);
}

/** Resolves once a polling handshake from 127.0.0.1 is admitted again, then closes that session. */
async function admittedAgain(server) {
  const answer = await eventually(async () => {
    const handshake = await pollingHandshake(server);
    return handshake.status === 200 && handshake;
  }, { what: "a new connection admitted" });
  await closeSession(server, answer.sid);
}

describe("with at most 3 connections per address", () => {
  const server = useServer({ oneProcess: true, args: ["--max-connections-per-ip", "3"] });

  test("the fourth connection from one address is refused while the three and other addresses work", async () => {
    const room = uniqueRoom();
    const clients = [
      await connect(server),
      await connect(server, { transports: ["polling"] }),
      await connect(server, { transports: ["websocket"] }),
    ];
    for (const [i, client] of clients.entries()) await client.join(room, `user${i}`);

    await assert.rejects(connect(server, { transports: ["websocket"] }), /connect_error/);
    await assert.rejects(connect(server, { transports: ["polling"] }), /connect_error/);
    assertTooMany(await pollingHandshake(server), "a polling handshake");
    assertTooMany(await webSocketHandshake(server), "a websocket handshake");

    const sent = await clients[0].say(room, "still here");
    for (const client of clients.slice(1)) await client.waitFor("message", (m) => m.id === sent.id);
    const neighbour = await connect(server, { transports: [NodeWebSocket], localAddress: ELSEWHERE });
    await neighbour.join(room, "neighbour");

    clients[2].close();
    const late = await eventually(
      () => connect(server, { transports: ["websocket"] }).catch(() => null),
      { what: "a connection after one closed" },
    );
    await late.join(room, "late");
  });

  /** Retries `open` until it succeeds: a place comes back a few milliseconds after its connection ends. */
  const admitted = (open) => eventually(() => open().catch(() => null), { what: "a connection admitted" });

  /** `count` official clients connected at once from this address, retried until all are admitted. */
  const allAdmitted = (count, options) => admitted(async () => {
    const attempts = await Promise.allSettled(Array.from({ length: count }, () => connect(server, options)));
    const clients = attempts.filter((a) => a.status === "fulfilled").map((a) => a.value);
    if (clients.length === count) return clients;
    for (const client of clients) client.close();
    throw new Error(`${clients.length} of ${count} admitted`);
  });

  test("places are given back however connections end: after 70 of them the limit still admits 3", async () => {
    const rawWebSocket = async () => {
      const { socket } = await webSocketHandshake(server);
      await connectNamespaceOver(socket);
      return socket;
    };
    for (let i = 0; i < 10; i += 1) {
      (await admitted(() => connect(server))).close();
      (await admitted(() => connect(server, { transports: ["polling"] }))).close();
      (await admitted(() => connect(server, { transports: ["polling"] }))).drop();
      (await admitted(() => connect(server, { transports: ["websocket"] }))).drop();
      const sid = await admitted(async () => (await pollingHandshake(server)).sid);
      await connectNamespace(server, sid);
      await closeSession(server, sid);
      (await admitted(rawWebSocket)).terminate();
      (await admitted(rawWebSocket))._socket.resetAndDestroy();
    }
    assert.equal((await allAdmitted(3)).length, 3);
  });

  test("refusals are counted in /metrics", async () => {
    const held = await allAdmitted(3, { transports: ["websocket"] });
    assertTooMany(await pollingHandshake(server));
    const text = await (await get(server, "/metrics")).text();
    assert.match(text, /^baatchit_http_refused_total\{reason="connections_per_ip"\} [1-9]\d*$/m);
    for (const client of held) client.close();
  });
});

describe("without --trust-proxy", () => {
  const server = useServer({ oneProcess: true, args: ["--max-connections-per-ip", "1"] });

  test("X-Forwarded-For is ignored: the TCP peer address is what counts", async () => {
    const first = await pollingHandshake(server, { headers: { "x-forwarded-for": "203.0.113.1" } });
    assert.equal(first.status, 200);
    assertTooMany(await pollingHandshake(server, { headers: { "x-forwarded-for": "203.0.113.2" } }), "a spoofed address");
    const elsewhere = await pollingHandshake(server, { localAddress: ELSEWHERE });
    assert.equal(elsewhere.status, 200, "another peer address has its own place");
    await closeSession(server, first.sid);
    await closeSession(server, elsewhere.sid);
  });
});

describe("with --trust-proxy", () => {
  const server = useServer({ oneProcess: true, args: ["--trust-proxy", "--max-connections-per-ip", "1"] });
  const from = (forwarded) => pollingHandshake(server, { headers: { "x-forwarded-for": forwarded } });

  test("the last X-Forwarded-For address, the one the proxy added, is what counts", async () => {
    const first = await from("203.0.113.1");
    assert.equal(first.status, 200);
    assertTooMany(await from("203.0.113.1"), "the same client again");
    assertTooMany(await from("198.51.100.7, 203.0.113.1"), "the same client claiming another address");
    const other = await from("203.0.113.1, 198.51.100.7");
    assert.equal(other.status, 200, "another client behind the proxy");
    const websocket = await webSocketHandshake(server, { headers: { "x-forwarded-for": "192.0.2.5" } });
    assert.equal(websocket.status, 101);
    assertTooMany(await webSocketHandshake(server, { headers: { "x-forwarded-for": "192.0.2.5" } }), "a websocket");
    await closeSession(server, first.sid);
    await closeSession(server, other.sid);
    websocket.socket.close();
  });
});

describe("with a 1 s connect timeout and one connection per address", () => {
  const server = useServer({ oneProcess: true, args: ["--connect-timeout", "1", "--max-connections-per-ip", "1"] });

  test("a websocket that never joins the namespace is closed after the timeout, and its place is given back", async () => {
    const idle = await webSocketHandshake(server);
    const opened = Date.now();
    const { at } = await idle.socket.closed;
    const after = at - opened;
    assert.ok(after >= 800 && after < 2500, `closed after ${after} ms`);
    await admittedAgain(server);
  });

  test("a polling session that never joins the namespace is gone after the timeout", async () => {
    const { sid } = await pollingHandshake(server);
    await sleep(1500);
    const poll = await request(server, { path: sessionPath(sid) });
    assert.equal(poll.status, 400, `the session still answers: ${poll.status} ${poll.body}`);
    await admittedAgain(server);
  });

  test("a session closed before joining the namespace gives its place back within the timeout", async () => {
    const polling = await eventually(async () => (await pollingHandshake(server)).sid, { what: "a session" });
    await closeSession(server, polling);
    await admittedAgain(server);
    const websocket = await eventually(
      async () => (await webSocketHandshake(server)).socket,
      { what: "a websocket session" },
    );
    websocket.terminate();
    await admittedAgain(server);
  });

  test("a connection that joins the namespace stays past the timeout", async () => {
    const client = await eventually(() => connect(server).catch(() => null), { what: "a connection admitted" });
    await sleep(1500);
    assert.equal(client.received("disconnect").length, 0);
    await client.join(uniqueRoom(), "stayer");
    client.close();
  });
});

describe("with the default limits", () => {
  const server = useServer({ oneProcess: true });

  /** Asserts a fresh client can still connect and chat. */
  async function assertServing() {
    const client = await connect(server);
    const room = uniqueRoom();
    await client.join(room, "after");
    await client.say(room, "still serving");
  }

  test("a polling body announcing more than the maximum payload is refused with 413 before it is read", async () => {
    const { sid } = await pollingHandshake(server);
    for (const length of [1024 * 1024, 1e12]) {
      const answer = await request(server, {
        method: "POST",
        path: sessionPath(sid),
        headers: { "content-type": "text/plain;charset=UTF-8", "content-length": String(length) },
        body: (req) => req.flushHeaders(),
      });
      assert.equal(answer.status, 413, `Content-Length: ${length}`);
    }
    await assertServing();
  });

  test("a chunked polling body over the maximum payload is cut off with 413 and closes that session", async () => {
    const { sid } = await pollingHandshake(server);
    const chunk = "4".repeat(64 * 1024);
    const answer = await request(server, {
      method: "POST",
      path: sessionPath(sid),
      headers: { "content-type": "text/plain;charset=UTF-8" },
      // Four times the maximum, and no end: the server must not wait for more.
      body: (req) => req.write(chunk),
    });
    assert.equal(answer.status, 413);
    const poll = await request(server, { path: sessionPath(sid) });
    assert.equal(poll.status, 400, "the session was closed");
    await assertServing();
  });

  test("the websocket handshake never agrees to permessage-deflate, even when offered", async () => {
    const websocket = await webSocketHandshake(server);
    assert.equal(websocket.headers["sec-websocket-extensions"], undefined);
    assert.equal(websocket.socket.extensions, "");
    websocket.socket.close();
  });

  test("a URL over 8 KiB gets 414 and headers over 32 KiB get 431, on any path", async () => {
    for (const path of ["/", POLLING]) {
      const long = await request(server, { path: `${path}${path.includes("?") ? "&" : "?"}x=${"a".repeat(9000)}` });
      assert.equal(long.status, 414, path);
      const headers = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-filler-${i}`, "v".repeat(1000)]));
      assert.equal((await request(server, { path, headers })).status, 431, path);
    }
    await assertServing();
  });
});
