// The Origin allow-list: a page on another site must not open a
// connection in its visitor's name, by polling or by websocket.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Fetch, NodeWebSocket } from "socket.io-client";
import { connect, get, uniqueRoom, useServer } from "./helpers.mjs";
import { closeSession, pollingHandshake, post, webSocketHandshake } from "./raw-engine.mjs";

const FRIEND = "https://friend.example";
const EVIL = "https://evil.example";

/** Origins of pages elsewhere, for a server reached at 127.0.0.1:port. */
function foreignOrigins(port) {
  return {
    "another site": EVIL,
    "null (a sandboxed frame, a file)": "null",
    "a look-alike host": "http://127.0.0.1.evil.example",
    "a look-alike host on the same port": `http://127.0.0.1.evil.example:${port}`,
    "another port": `http://127.0.0.1:${port + 1}`,
    "another scheme": `ftp://127.0.0.1:${port}`,
    "a user name before the host": `http://127.0.0.1:${port}@evil.example`,
    "another name of the same machine": `http://localhost:${port}`,
  };
}

/** Origins that are the server itself: the Host it is reached at, over http or https. */
const ownOrigins = (port) => [`http://127.0.0.1:${port}`, `https://127.0.0.1:${port}`];

/** `{ origin }` headers, or none for a client that sends no Origin. */
const withOrigin = (origin) => (origin === undefined ? {} : { origin });

function assertRefused(answer, what) {
  assert.equal(answer.status, 403, `${what}: answered ${answer.status} ${answer.body}`);
  assert.equal(answer.sid, undefined, `${what}: a session was opened`);
  assert.match(JSON.parse(answer.body).message, /origin/i, what);
}

/** Connects with the official client (fetch polling, then websocket), chats, and closes. */
async function chatFrom(server, origin) {
  const client = await connect(server, { transports: [Fetch, NodeWebSocket], extraHeaders: withOrigin(origin) });
  const room = uniqueRoom();
  await client.join(room, "visitor");
  if (client.transport !== "websocket") {
    await new Promise((done) => client.socket.io.engine.once("upgrade", done));
  }
  await client.say(room, `hello from ${origin ?? "no origin"}`);
  client.close();
}

describe("with one extra --allowed-origin", () => {
  const server = useServer({ oneProcess: true, args: ["--allowed-origin", FRIEND] });

  test("a polling handshake from another site, null, a look-alike host, another port or scheme gets 403 and no session", async () => {
    for (const [what, origin] of Object.entries(foreignOrigins(server.port))) {
      assertRefused(await pollingHandshake(server, { headers: { origin } }), what);
    }
  });

  test("a websocket handshake from any of them gets 403 and never opens", async () => {
    for (const [what, origin] of Object.entries(foreignOrigins(server.port))) {
      assertRefused(await webSocketHandshake(server, { headers: { origin } }), what);
    }
  });

  test("the own origin over http or https, the allowed origin and no Origin open sessions by polling and websocket", async () => {
    for (const origin of [...ownOrigins(server.port), FRIEND, undefined]) {
      const polling = await pollingHandshake(server, { headers: withOrigin(origin) });
      assert.equal(polling.status, 200, `${origin}: ${polling.status} ${polling.body}`);
      assert.ok(polling.sid, `${origin}: no session`);
      await closeSession(server, polling.sid);
      const websocket = await webSocketHandshake(server, { headers: withOrigin(origin) });
      assert.equal(websocket.status, 101, `${origin}: ${websocket.status} ${websocket.body}`);
      assert.ok(websocket.open.sid, `${origin}: no session`);
      websocket.socket.close();
    }
  });

  test("the official client connects and chats from the own origin, the allowed one and without Origin", async () => {
    for (const origin of [ownOrigins(server.port)[0], FRIEND, undefined]) await chatFrom(server, origin);
  });

  test("the official client on another site gets a connect_error, by polling and by websocket", async () => {
    for (const transports of [[Fetch], [NodeWebSocket]]) {
      await assert.rejects(connect(server, { transports, extraHeaders: { origin: EVIL } }), /connect_error/);
    }
  });

  test("only the allowed other site is named back to the browser (CORS), so polling works from there", async () => {
    const friend = await pollingHandshake(server, { headers: { origin: FRIEND } });
    assert.equal(friend.headers["access-control-allow-origin"], FRIEND);
    assert.match(friend.headers.vary ?? "", /origin/i);
    const own = await pollingHandshake(server, { headers: { origin: ownOrigins(server.port)[0] } });
    assert.equal(own.headers["access-control-allow-origin"], undefined);
    await closeSession(server, friend.sid);
    await closeSession(server, own.sid);
  });

  test("every request of a session is checked, not only the handshake", async () => {
    const { sid } = await pollingHandshake(server);
    const answer = await post(server, sid, "40", { headers: { origin: EVIL } });
    assert.equal(answer.status, 403);
    await closeSession(server, sid);
  });

  test("refused origins are counted in /metrics", async () => {
    const count = async () => {
      const text = await (await get(server, "/metrics")).text();
      return Number(/^baatchit_http_refused_total\{reason="origin"\} (\d+)$/m.exec(text)?.[1]);
    };
    const before = await count();
    await pollingHandshake(server, { headers: { origin: EVIL } });
    assert.equal(await count(), before + 1);
  });
});

describe("with BAATCHIT_ALLOWED_ORIGINS", () => {
  const server = useServer({ oneProcess: true, env: { BAATCHIT_ALLOWED_ORIGINS: "https://a.example,https://b.example:8443" } });

  test("each comma-separated origin is allowed and nothing else is", async () => {
    for (const origin of ["https://a.example", "https://b.example:8443"]) {
      const answer = await pollingHandshake(server, { headers: { origin } });
      assert.equal(answer.status, 200, origin);
      await closeSession(server, answer.sid);
    }
    for (const origin of ["https://b.example", "http://a.example", EVIL]) {
      assertRefused(await pollingHandshake(server, { headers: { origin } }), origin);
    }
  });
});

describe("with --allowed-origin '*'", () => {
  const server = useServer({ oneProcess: true, args: ["--allowed-origin", "*"] });

  test("any page may connect, null included", async () => {
    for (const origin of [EVIL, "null"]) {
      const websocket = await webSocketHandshake(server, { headers: { origin } });
      assert.equal(websocket.status, 101, origin);
      websocket.socket.close();
    }
  });
});
