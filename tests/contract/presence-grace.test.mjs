// The grace period: a connection that drops (rather than leaving or
// disconnecting on purpose) keeps its user present for a while, so a reload
// or a network blip makes no left/joined for the others.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { QUIET_MS, assertError, connect, presenceOf, roomWithObserver, useServer } from "./helpers.mjs";

describe("with a one-second grace period", () => {
  const server = useServer({ args: ["--presence-grace", "1"] });

  test("a dropped connection stays present for the grace period, then leaves", async () => {
    const { room, observer } = await roomWithObserver(server);
    const dropper = await connect(server, { transports: ["websocket"] });
    await dropper.join(room, "dropper");
    await observer.waitFor("presence", presenceOf(room, "joined", dropper.userId));
    const mark = observer.mark();
    const started = Date.now();
    dropper.drop();
    await observer.assertNoEvent("presence", () => true, { since: mark, within: 600 });
    const newcomer = await connect(server);
    const ack = await newcomer.join(room, "newcomer");
    assert.ok(ack.users.some((u) => u.id === dropper.userId), "still listed during the grace period");
    const impostor = await connect(server);
    assertError(await impostor.emit("join", { room, name: "DROPPER" }), "name_taken");
    const left = await observer.waitFor("presence", presenceOf(room, "left", dropper.userId), { timeout: 2500 });
    assert.ok(Date.now() - started >= 900, `left came after ${Date.now() - started} ms, before the grace ended`);
    assert.equal(left.count, 2);
  });

  test("reconnecting and re-joining within the grace period makes no left or joined", async () => {
    const { room, observer } = await roomWithObserver(server);
    const dropper = await connect(server, { transports: ["websocket"] });
    await dropper.join(room, "dropper");
    await observer.waitFor("presence", presenceOf(room, "joined", dropper.userId));
    const mark = observer.mark();
    dropper.drop();
    const back = await connect(server, { token: dropper.token });
    const ack = await back.join(room, "dropper");
    assert.equal(ack.count, 2);
    await observer.assertNoEvent("presence", () => true, { since: mark, within: 1500 });
    await back.assertNoEvent("presence");
    await observer.say(room, "still there?");
    await back.waitFor("message", (m) => m.text === "still there?");
  });

  test("reconnecting without re-joining does not keep the user in the room", async () => {
    const { room, observer } = await roomWithObserver(server);
    const dropper = await connect(server, { transports: ["websocket"] });
    await dropper.join(room, "dropper");
    await observer.waitFor("presence", presenceOf(room, "joined", dropper.userId));
    dropper.drop();
    await connect(server, { token: dropper.token });
    const left = await observer.waitFor("presence", presenceOf(room, "left", dropper.userId), { timeout: 2500 });
    assert.equal(left.count, 1);
  });

  test("an abrupt network loss is treated like a dropped connection", async () => {
    const { room, observer } = await roomWithObserver(server);
    const dropper = await connect(server, { transports: ["websocket"] });
    await dropper.join(room, "dropper");
    await observer.waitFor("presence", presenceOf(room, "joined", dropper.userId));
    const mark = observer.mark();
    dropper.socket.io.engine.transport.ws._socket.destroy();
    await observer.assertNoEvent("presence", () => true, { since: mark, within: 600 });
    await observer.waitFor("presence", presenceOf(room, "left", dropper.userId), { timeout: 2500 });
  });

  test("a client-side disconnect still leaves at once", async () => {
    const { room, observer } = await roomWithObserver(server);
    const leaver = await connect(server);
    await leaver.join(room, "leaver");
    await observer.waitFor("presence", presenceOf(room, "joined", leaver.userId));
    const started = Date.now();
    leaver.close();
    await observer.waitFor("presence", presenceOf(room, "left", leaver.userId));
    assert.ok(Date.now() - started < 500, `left took ${Date.now() - started} ms`);
  });
});

describe("with no grace period", () => {
  const server = useServer({ args: ["--presence-grace", "0"] });

  test("a dropped connection leaves at once when the grace period is zero", async () => {
    const { room, observer } = await roomWithObserver(server);
    const dropper = await connect(server, { transports: ["websocket"] });
    await dropper.join(room, "dropper");
    await observer.waitFor("presence", presenceOf(room, "joined", dropper.userId));
    const started = Date.now();
    dropper.drop();
    await observer.waitFor("presence", presenceOf(room, "left", dropper.userId), { timeout: QUIET_MS + 500 });
    assert.ok(Date.now() - started < 800);
  });
});
