// Identity: the `session` event, tokens, and who a connection is.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { brief, connect, launch, uniqueRoom, useServer } from "./helpers.mjs";

const server = useServer();

describe("session", () => {
  test("a new connection first receives a session with a 32-hex user id and a token", async () => {
    const client = await connect(server);
    assert.equal(client.events[0].event, "session", `first event was ${brief(client.events[0])}`);
    assert.deepEqual(Object.keys(client.session).sort(), ["token", "userId"]);
    assert.match(client.userId, /^[0-9a-f]{32}$/);
    assert.equal(typeof client.token, "string");
    assert.ok(client.token.length >= 22, "a token shorter than 22 characters cannot hold 128 bits");
    assert.notEqual(client.token, client.userId);
    await client.assertNoEvent("session", (s) => s !== client.session, { within: 100 });
  });

  test("two new connections are two different users with different tokens", async () => {
    const [a, b] = [await connect(server), await connect(server)];
    assert.notEqual(a.userId, b.userId);
    assert.notEqual(a.token, b.token);
  });

  test("connecting with a token this server issued makes the same user", async () => {
    const first = await connect(server);
    first.close();
    const again = await connect(server, { token: first.token });
    assert.equal(again.userId, first.userId);
    assert.equal(typeof again.token, "string");
    const third = await connect(server, { token: again.token });
    assert.equal(third.userId, first.userId, "the token given on reconnect must work too");
  });

  test("two open connections with one token are one user in a room", async () => {
    const room = uniqueRoom();
    const tab1 = await connect(server);
    const tab2 = await connect(server, { token: tab1.token });
    assert.equal(tab2.userId, tab1.userId);
    await tab1.join(room, "asha");
    const ack = await tab2.join(room, "asha");
    assert.equal(ack.count, 1);
    assert.deepEqual(ack.users.map((u) => u.id), [tab1.userId]);
    assert.deepEqual(ack.you, { id: tab1.userId, name: "asha" });
  });
});

describe("tokens that are not ours", () => {
  const cases = [
    ["an unknown token", { token: "not-a-token-this-server-issued" }],
    ["an empty token", { token: "" }],
    ["a numeric token", { token: 12345 }],
    ["an object token", { token: { nested: { deep: true } } }],
    ["a null token", { token: null }],
    ["an array token", { token: ["a", "b"] }],
    ["a very long token", { token: "x".repeat(8000) }],
    ["auth without a token field", { other: "field" }],
  ];
  for (const [label, auth] of cases) {
    test(`${label} makes a new user without an error`, async () => {
      const client = await connect(server, { auth });
      assert.match(client.userId, /^[0-9a-f]{32}$/);
      assert.equal(client.received("connect_error").length, 0);
      const room = uniqueRoom();
      const ack = await client.join(room, "newcomer");
      assert.equal(ack.you.id, client.userId);
      assert.equal(ack.count, 1);
    });
  }

  test("a tampered token makes a new user", async () => {
    const owner = await connect(server);
    // Change a character in the middle: the last base64 character may carry unused bits.
    let at = Math.floor(owner.token.length / 2);
    while (!/[0-9A-Za-z]/.test(owner.token[at])) at += 1;
    const swapped = owner.token[at] === "a" ? "b" : "a";
    const tampered = owner.token.slice(0, at) + swapped + owner.token.slice(at + 1);
    const other = await connect(server, { token: tampered });
    assert.notEqual(other.userId, owner.userId);
  });

  test("a user id is not a token", async () => {
    const owner = await connect(server);
    const impostor = await connect(server, { token: owner.userId });
    assert.notEqual(impostor.userId, owner.userId);
  });
});

describe("token secrecy", () => {
  test("a token is never sent to anyone but its owner", async () => {
    const room = uniqueRoom();
    const owner = await connect(server);
    const tab2 = await connect(server, { token: owner.token });
    const observer = await connect(server);
    const acks = [];
    acks.push(await observer.join(room, "observer"));
    await owner.join(room, "owner");
    await tab2.join(room, "owner");
    await observer.waitFor("presence", (p) => p.joined.some((u) => u.id === owner.userId));
    owner.send("typing", { room, typing: true });
    await owner.say(room, "hello from the owner", { clientId: "c-1" });
    await observer.waitFor("message", (m) => m.text === "hello from the owner");
    acks.push(await observer.emit("history", { room }));
    acks.push(await observer.emit("rooms", {}));
    acks.push(await observer.emit("join", { room, name: "observer", since: 0 }));
    tab2.close();
    owner.close();
    await observer.waitFor("presence", (p) => p.left.some((u) => u.id === owner.userId));
    const everything = JSON.stringify([observer.events.map((e) => e.args), acks]);
    assert.ok(everything.includes(owner.userId), "sanity: the observer did see the owner");
    assert.ok(!everything.includes(owner.token), "the owner's token reached another user");
  });
});

describe("restart", () => {
  test("a token stays valid across a server restart", async () => {
    const first = await launch();
    try {
      const before = await connect(first);
      before.close();
      await first.stop();
      const second = await launch({ sameStorageAs: first });
      try {
        const after = await connect(second, { token: before.token });
        assert.equal(after.userId, before.userId);
        after.close();
      } finally {
        await second.stop();
        await second.cleanup();
      }
    } finally {
      await first.stop();
      await first.cleanup();
    }
  });
});
