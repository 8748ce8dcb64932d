// The `typing` event: who hears it, its optional ack, and its expiry.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertError, connect, sleep, uniqueRoom, useServer } from "./helpers.mjs";

/** A room with a typist and a listener. */
async function pair(server) {
  const room = uniqueRoom();
  const typist = await connect(server);
  const listener = await connect(server);
  await typist.join(room, "typist");
  await listener.join(room, "listener");
  return { room, typist, listener };
}

const fromUser = (id, typing) => (event) => event.user?.id === id && event.typing === typing;

describe("with the default six-second expiry", () => {
  const server = useServer();

  test("the others hear who is typing and the typist hears nothing", async () => {
    const { room, typist, listener } = await pair(server);
    const third = await connect(server);
    await third.join(room, "third");
    typist.send("typing", { room, typing: true });
    const expected = { room, user: { id: typist.userId, name: "typist" }, typing: true };
    assert.deepEqual(await listener.waitFor("typing"), expected);
    assert.deepEqual(await third.waitFor("typing"), expected);
    typist.send("typing", { room: room.toUpperCase(), typing: false });
    assert.deepEqual(await listener.waitFor("typing", fromUser(typist.userId, false)), { ...expected, typing: false });
    await typist.assertNoEvent("typing");
  });

  test("typing with an ack is answered ok", async () => {
    const { room, typist, listener } = await pair(server);
    assert.deepEqual(await typist.emit("typing", { room, typing: true }), { ok: true });
    await listener.waitFor("typing", fromUser(typist.userId, true));
  });

  test("sending a message ends typing for the others", async () => {
    const { room, typist, listener } = await pair(server);
    typist.send("typing", { room, typing: true });
    await listener.waitFor("typing", fromUser(typist.userId, true));
    const started = Date.now();
    await typist.say(room, "done typing");
    await listener.waitFor("message");
    await listener.waitFor("typing", fromUser(typist.userId, false), { timeout: 1000 });
    assert.ok(Date.now() - started < 1000, "typing:false came from the message, not the 6 s expiry");
  });

  test("typing begun right after sending a message outlasts that message's commit", async () => {
    const { room, typist, listener } = await pair(server);
    typist.send("typing", { room, typing: true });
    await listener.waitFor("typing", fromUser(typist.userId, true));
    // Sent back to back: the new spell reaches the server while the
    // message is still being committed, and must not be ended by it.
    typist.send("message", { room, text: "first line" });
    typist.send("typing", { room, typing: true });
    await listener.waitFor("message");
    await sleep(300);
    const heard = listener.received("typing").filter((t) => t.user?.id === typist.userId).map((t) => t.typing);
    assert.deepEqual(heard, [true, false, true], "typing: true, ended by the message, then the new spell");
  });

  test("leaving the room ends typing for the others", async () => {
    const { room, typist, listener } = await pair(server);
    typist.send("typing", { room, typing: true });
    await listener.waitFor("typing", fromUser(typist.userId, true));
    await typist.emit("leave", { room });
    await listener.waitFor("typing", fromUser(typist.userId, false), { timeout: 1000 });
  });

  test("typing in a room not joined is ignored, or not_in_room when acked", async () => {
    const { room, listener } = await pair(server);
    const outsider = await connect(server);
    outsider.send("typing", { room, typing: true });
    assertError(await outsider.emit("typing", { room, typing: true }), "not_in_room");
    await listener.assertNoEvent("typing");
    await outsider.join(uniqueRoom(), "outsider");
    assert.deepEqual((await outsider.emit("rooms", {})).ok, true, "the connection still works");
  });

  test("typing does not reach other rooms", async () => {
    const { room, typist } = await pair(server);
    const elsewhere = await connect(server);
    await elsewhere.join(uniqueRoom(), "elsewhere");
    await typist.emit("typing", { room, typing: true });
    await elsewhere.assertNoEvent("typing");
  });
});

describe("with a one-second expiry", () => {
  const server = useServer({ args: ["--typing-expiry", "1"] });

  test("typing true expires by itself with typing false for the others", async () => {
    const { room, typist, listener } = await pair(server);
    typist.send("typing", { room, typing: true });
    await listener.waitFor("typing", fromUser(typist.userId, true));
    const started = Date.now();
    await listener.assertNoEvent("typing", fromUser(typist.userId, false), { within: 600 });
    const stopped = await listener.waitFor("typing", fromUser(typist.userId, false), { timeout: 2000 });
    assert.ok(Date.now() - started >= 700, `expired after ${Date.now() - started} ms`);
    assert.deepEqual(stopped, { room, user: { id: typist.userId, name: "typist" }, typing: false });
    await typist.assertNoEvent("typing");
  });

  test("renewing typing true pushes the expiry back", async () => {
    const { room, typist, listener } = await pair(server);
    typist.send("typing", { room, typing: true });
    await listener.waitFor("typing", fromUser(typist.userId, true));
    const started = Date.now();
    await sleep(700);
    typist.send("typing", { room, typing: true });
    await listener.assertNoEvent("typing", fromUser(typist.userId, false), { within: 650 });
    await listener.waitFor("typing", fromUser(typist.userId, false), { timeout: 2000 });
    assert.ok(Date.now() - started >= 1500, `expired after ${Date.now() - started} ms despite renewal`);
  });

  test("an explicit typing false is not followed by another at expiry", async () => {
    const { room, typist, listener } = await pair(server);
    typist.send("typing", { room, typing: true });
    await listener.waitFor("typing", fromUser(typist.userId, true));
    typist.send("typing", { room, typing: false });
    await listener.waitFor("typing", fromUser(typist.userId, false));
    await sleep(1400);
    assert.equal(listener.received("typing", fromUser(typist.userId, false)).length, 1, "typing:false sent twice");
  });
});
