// Transports: long-polling, websocket, and the default upgrade between them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NodeWebSocket, NodeXHR } from "engine.io-client";
import { ACK_TIMEOUT_MS, brief, connect, presenceOf, range, seqs, uniqueRoom, useServer } from "./helpers.mjs";

const server = useServer();

/**
 * Transports for a default client (polling, then websocket) whose websocket
 * probe only opens once `release()` is called, so a test can send while the
 * client is still on polling and make the sends overlap the upgrade.
 */
function heldUpgrade() {
  let release;
  const released = new Promise((done) => {
    release = done;
  });
  class HeldWebSocket extends NodeWebSocket {
    doOpen() {
      released.then(() => super.doOpen());
    }
  }
  return { transports: [NodeXHR, HeldWebSocket], release };
}

/** Resolves with `promise`, or fails once ACK_TIMEOUT_MS have passed. */
function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ACK_TIMEOUT_MS} ms`)), ACK_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test("a polling-only client and a websocket-only client talk to each other", async () => {
  const room = uniqueRoom();
  const polling = await connect(server, { transports: ["polling"] });
  const websocket = await connect(server, { transports: ["websocket"] });
  assert.equal(polling.transport, "polling");
  assert.equal(websocket.transport, "websocket");

  await polling.join(room, "poller");
  await websocket.join(room, "socketeer");
  await polling.waitFor("presence", presenceOf(room, "joined", websocket.userId));

  const long = "長い".repeat(1000);
  const fromPolling = await polling.say(room, long, { clientId: "p-1" });
  assert.deepEqual(await websocket.waitFor("message"), fromPolling);
  const fromWebsocket = await websocket.say(room, "hello poller");
  assert.deepEqual(await polling.waitFor("message"), fromWebsocket);

  polling.send("typing", { room, typing: true });
  await websocket.waitFor("typing", (t) => t.user.id === polling.userId && t.typing);
  websocket.send("typing", { room, typing: true });
  await polling.waitFor("typing", (t) => t.user.id === websocket.userId && t.typing);

  const history = await polling.emit("history", { room });
  assert.deepEqual(history.messages, [fromPolling, fromWebsocket]);
  assert.equal(polling.transport, "polling", "a polling-only client never upgrades");

  websocket.close();
  await polling.waitFor("presence", presenceOf(room, "left", websocket.userId));
});

test("a default client starts on polling, upgrades to websocket and keeps working", async () => {
  const room = uniqueRoom();
  const upgrading = await connect(server);
  const other = await connect(server, { transports: ["websocket"] });
  await upgrading.join(room, "upgrader");
  await other.join(room, "other");
  if (upgrading.transport !== "websocket") {
    await new Promise((done) => upgrading.socket.io.engine.once("upgrade", done));
  }
  assert.equal(upgrading.transport, "websocket");
  const sent = await upgrading.say(room, "after the upgrade");
  assert.deepEqual(await other.waitFor("message"), sent);
  await other.say(room, "reply");
  await upgrading.waitFor("message", (m) => m.text === "reply");
});

test("messages sent across the upgrade from polling to websocket arrive once and in order", async () => {
  const room = uniqueRoom();
  const receiver = await connect(server, { transports: ["websocket"] });
  await receiver.join(room, "receiver");
  const { transports, release } = heldUpgrade();
  const upgrading = await connect(server, { transports });
  await upgrading.join(room, "upgrader");
  const engine = upgrading.socket.io.engine;
  const acks = [];
  const sendTen = (phase) => {
    for (let i = 0; i < 10; i += 1) acks.push(upgrading.emit("message", { room, text: `${phase} ${i}` }));
  };

  assert.equal(upgrading.transport, "polling");
  sendTen("polling");
  // Probe succeeded, polling is being paused: these wait in the client's
  // buffer and go out on the websocket, after the polling ones.
  let duringUpgrade;
  engine.once("upgrading", () => {
    duringUpgrade = { transport: upgrading.transport, upgrading: engine.upgrading };
    sendTen("upgrading");
  });
  const upgraded = new Promise((done) => engine.once("upgrade", done));
  release();
  await withTimeout(upgraded, "the upgrade to websocket");
  assert.deepEqual(duringUpgrade, { transport: "polling", upgrading: true });
  assert.equal(upgrading.transport, "websocket");
  sendTen("websocket");

  const stored = (await Promise.all(acks)).map((ack) => {
    assert.equal(ack?.ok, true, `message failed: ${brief(ack)}`);
    return ack.message;
  });
  const texts = ["polling", "upgrading", "websocket"].flatMap((phase) => range(0, 9).map((i) => `${phase} ${i}`));
  assert.deepEqual(stored.map((m) => m.text), texts, "acks do not match what was sent");
  assert.deepEqual(seqs(stored), range(stored[0].seq, stored[0].seq + 29), "seqs not in send order");
  await receiver.waitForCount("message", 30);
  assert.deepEqual(await receiver.assertExactly("message", 30), stored);
});

test("a polling-only client can reconnect with its token", async () => {
  const first = await connect(server, { transports: ["polling"] });
  first.close();
  const again = await connect(server, { transports: ["polling"], token: first.token });
  assert.equal(again.userId, first.userId);
});
