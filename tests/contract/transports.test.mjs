// Transports: long-polling, websocket, and the default upgrade between them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { connect, presenceOf, uniqueRoom, useServer } from "./helpers.mjs";

const server = useServer();

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

test("messages sent during the upgrade arrive once and in order", async () => {
  const room = uniqueRoom();
  const receiver = await connect(server, { transports: ["websocket"] });
  await receiver.join(room, "receiver");
  const upgrading = await connect(server);
  await upgrading.join(room, "upgrader");
  const acks = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    upgrading.emit("message", { room, text: `during ${i}` })));
  assert.ok(acks.every((ack) => ack.ok));
  const got = await receiver.waitForCount("message", 20);
  assert.deepEqual(got.map((m) => m.text), acks.map((ack) => ack.message.text));
  await receiver.assertExactly("message", 20);
});

test("a polling-only client can reconnect with its token", async () => {
  const first = await connect(server, { transports: ["polling"] });
  first.close();
  const again = await connect(server, { transports: ["polling"], token: first.token });
  assert.equal(again.userId, first.userId);
});
