// Direct conversations (protocol version 2): a room only its two users may
// enter, opened with `dm`, listed with `conversations`, announced live with
// the `conversation` event on every process. A third user learns nothing of
// it, whatever room id it tries.
import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { assertError, assertUser, brief, connect, launch, settle, uniqueRoom, useServer } from "./helpers.mjs";

/** A version 2 connection (`auth: { protocol: 2 }`, with a token if given). */
const connectV2 = (server, token) => connect(server, { auth: token ? { token, protocol: 2 } : { protocol: 2 } });

/** Emits and asserts the ack is ok; resolves with it. */
async function ok(client, event, payload) {
  const ack = await client.emit(event, payload);
  assert.equal(ack?.ok, true, `${event} ${brief(payload)} failed: ${brief(ack)}`);
  return ack;
}

/** Opens (or finds) `client`'s conversation with `other`; resolves with it. */
const dm = async (client, other) => (await ok(client, "dm", { userId: other.userId })).conversation;

/** Two version 2 users, asha and bo, in a public room together. */
async function acquainted(server) {
  const lobby = uniqueRoom("lobby");
  const [asha, bo] = [await connectV2(server), await connectV2(server)];
  await asha.join(lobby, "asha");
  await bo.join(lobby, "bo");
  return { lobby, asha, bo };
}

/** A direct room id nobody has: `@` and 24 random hex digits. */
const randomDirectRoom = () =>
  `@${Array.from({ length: 24 }, () => Math.floor(Math.random() * 16).toString(16)).join("")}`;

/** Asserts a `Conversation`: `{ room, with, lastSeq, readSeq, unread }`, with the other user. */
function assertConversation(conversation, { room, withUser, lastSeq }) {
  assert.deepEqual(Object.keys(conversation ?? {}).sort(), ["lastSeq", "readSeq", "room", "unread", "with"], brief(conversation));
  assert.match(conversation.room, /^@[0-9a-f]{24}$/);
  if (room !== undefined) assert.equal(conversation.room, room);
  assertUser(conversation.with, withUser);
  if (lastSeq !== undefined) assert.equal(conversation.lastSeq, lastSeq);
}

describe("direct messages (protocol version 2)", () => {
  const server = useServer({ args: ["--rate-limit", "0", "--user-rate-limit", "0"] });

  it("dm gives a pair one conversation, the same whoever asks and however often", async () => {
    const { asha, bo } = await acquainted(server);
    const opened = await dm(asha, bo);
    assertConversation(opened, { withUser: { id: bo.userId, name: "bo" }, lastSeq: 0 });
    assert.deepEqual(await dm(asha, bo), opened, "asking again finds it");
    const seen = await dm(bo, asha);
    assertConversation(seen, { room: opened.room, withUser: { id: asha.userId, name: "asha" }, lastSeq: 0 });
    const [first, second] = await Promise.all([dm(asha, bo), dm(bo, asha)]);
    assert.equal(first.room, opened.room);
    assert.equal(second.room, opened.room);
  });

  it("both users hear of a new conversation live on every version 2 connection, once", async () => {
    const { asha, bo } = await acquainted(server);
    // In a cluster these land on other processes than asha's.
    const boTab = await connectV2(server, bo.token);
    const boOld = await connect(server, { token: bo.token });
    const opened = await dm(asha, bo);
    for (const tab of [bo, boTab]) {
      const heard = await tab.waitFor("conversation");
      assertConversation(heard, { room: opened.room, withUser: { id: asha.userId, name: "asha" }, lastSeq: 0 });
    }
    assert.deepEqual(await asha.waitFor("conversation"), opened, "the opener's own tabs hear of it too");
    await dm(bo, asha);
    await dm(asha, bo);
    await boTab.assertExactly("conversation", 1);
    await asha.assertExactly("conversation", 1);
    await boOld.assertNoEvent("conversation", () => true, { within: 0 });
  });

  it("dm refuses yourself, strangers, unknown ids and malformed payloads", async () => {
    const { asha } = await acquainted(server);
    const stranger = await connectV2(server);
    await stranger.join(uniqueRoom("elsewhere"), "stranger");
    assertError(await asha.emit("dm", { userId: asha.userId }), "forbidden", "with yourself");
    assertError(await asha.emit("dm", { userId: stranger.userId }), "not_found", "no room in common");
    assertError(await asha.emit("dm", { userId: "0".repeat(32) }), "not_found", "nobody");
    for (const payload of [{}, { userId: "zz" }, { userId: 42 }, "bo", null]) {
      assertError(await asha.emit("dm", payload), "bad_request", brief(payload));
    }
    const listed = await ok(asha, "conversations", {});
    assert.deepEqual(listed.conversations, []);
  });

  it("a version 1 connection is refused dm and conversations as unsupported", async () => {
    const old = await connect(server);
    const other = await connect(server);
    const lobby = uniqueRoom("v1");
    await old.join(lobby, "old");
    await other.join(lobby, "other");
    assertError(await old.emit("dm", { userId: other.userId }), "unsupported");
    assertError(await old.emit("conversations", {}), "unsupported");
    await other.assertNoEvent("conversation");
  });

  it("inside a conversation, messages, edits, deletes, reactions, replies, typing and presence work", async () => {
    const { asha, bo } = await acquainted(server);
    const { room } = await dm(asha, bo);
    await asha.join(room, "asha");
    assertError(await bo.emit("message", { room, text: "early" }), "forbidden", "even its users join first");
    await bo.join(room, "bo");
    await settle();
    const sent = await asha.say(room, "psst");
    assert.equal((await bo.waitFor("message", (m) => m.room === room)).id, sent.id);
    const answer = await bo.say(room, "yes?", { replyTo: sent.id });
    assert.equal(answer.replyTo, sent.id);
    const edited = await ok(asha, "edit", { room, id: sent.id, text: "psst!" });
    assert.equal((await bo.waitFor("change", (c) => c.seq === edited.change.seq)).message.text, "psst!");
    const reacted = await ok(bo, "react", { room, id: sent.id, emoji: "👀" });
    await asha.waitFor("change", (c) => c.seq === reacted.change.seq);
    assertError(await bo.emit("edit", { room, id: sent.id, text: "mine" }), "forbidden", "not the author");
    const deleted = await ok(asha, "delete", { room, id: sent.id });
    assert.equal((await bo.waitFor("change", (c) => c.seq === deleted.change.seq)).kind, "delete");
    bo.send("typing", { room, typing: true });
    await asha.waitFor("typing", (t) => t.room === room && t.user.id === bo.userId && t.typing);
    const page = await ok(bo, "history", { room });
    assert.deepEqual(page.messages.map((m) => [m.id, m.deleted ?? false]), [[sent.id, true], [answer.id, false]]);
    await ok(bo, "leave", { room });
    await asha.waitFor("presence", (p) => p.room === room && p.left.some((u) => u.id === bo.userId));
    const [listed] = (await ok(asha, "conversations", {})).conversations;
    assertConversation(listed, { room, withUser: { id: bo.userId, name: "bo" }, lastSeq: deleted.change.seq });
  });

  it("a third user is forbidden every event in a conversation, whatever room id it tries", async () => {
    const { lobby, asha, bo } = await acquainted(server);
    const eve = await connectV2(server);
    await eve.join(lobby, "eve");
    const { room } = await dm(asha, bo);
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    const sent = await asha.say(room, "between us");
    const mark = eve.mark();
    for (const guess of [room, room.toUpperCase(), ` ${room} `, randomDirectRoom()]) {
      const context = `eve on ${guess}`;
      assertError(await eve.emit("join", { room: guess, name: "eve" }), "forbidden", context);
      assertError(await eve.emit("join", { room: guess, name: "eve", since: 0 }), "forbidden", context);
      assertError(await eve.emit("history", { room: guess }), "forbidden", context);
      assertError(await eve.emit("message", { room: guess, text: "hi" }), "forbidden", context);
      assertError(await eve.emit("message", { room: guess, text: "hi", replyTo: sent.id }), "forbidden", context);
      assertError(await eve.emit("edit", { room: guess, id: sent.id, text: "mine" }), "forbidden", context);
      assertError(await eve.emit("delete", { room: guess, id: sent.id }), "forbidden", context);
      assertError(await eve.emit("react", { room: guess, id: sent.id, emoji: "👍" }), "forbidden", context);
      assertError(await eve.emit("typing", { room: guess, typing: true }), "forbidden", context);
      assertError(await eve.emit("leave", { room: guess }), "forbidden", context);
      eve.send("typing", { room: guess, typing: true });
    }
    await asha.say(room, "still between us");
    await bo.waitFor("message", (m) => m.text === "still between us");
    const page = await ok(asha, "history", { room });
    assert.deepEqual(page.messages.map((m) => m.text), ["between us", "still between us"], "nothing of eve's got in");
    assert.deepEqual(page.messages[0].reactions, []);
    const leaked = eve.events.slice(mark).filter((e) => JSON.stringify(e.args).includes(room));
    assert.deepEqual(leaked, [], "eve heard nothing of the conversation");
    await asha.assertNoEvent("typing", (t) => t.user.id === eve.userId, { within: 0 });
    await asha.assertNoEvent("presence", (p) => p.joined.some((u) => u.id === eve.userId) && p.room === room, { within: 0 });
  });

  it("a public room name cannot start with @", async () => {
    const asha = await connectV2(server);
    for (const room of ["@general", "@", `@${"a".repeat(23)}`, `@${"g".repeat(24)}`]) {
      assertError(await asha.emit("join", { room, name: "asha" }), "invalid_room", room);
    }
  });

  it("conversations never appear in the rooms list", async () => {
    const { lobby, asha, bo } = await acquainted(server);
    const { room } = await dm(asha, bo);
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    const { rooms } = await ok(bo, "rooms", {});
    assert.ok(rooms.some((r) => r.room === lobby), `the lobby is listed: ${brief(rooms)}`);
    assert.deepEqual(rooms.filter((r) => r.room.startsWith("@")), []);
  });

  it("two people with the same name can talk privately", async () => {
    const { asha, bo } = await acquainted(server);
    const { room } = await dm(asha, bo);
    await asha.join(room, "Sam");
    const joined = await bo.join(room, "Sam");
    assert.deepEqual(joined.users.map((u) => u.name), ["Sam", "Sam"]);
  });

  it("conversations lists a user's conversations, the newest message first, with the names last used", async () => {
    const { lobby, asha, bo } = await acquainted(server);
    const cy = await connectV2(server);
    await cy.join(lobby, "cy");
    const withBo = await dm(asha, bo);
    const withCy = await dm(cy, asha);
    await asha.join(withBo.room, "asha");
    await bo.join(withBo.room, "Bobby");
    await asha.say(withBo.room, "newest");
    const { conversations } = await ok(asha, "conversations", {});
    assert.deepEqual(conversations.map((c) => c.room), [withBo.room, withCy.room]);
    assertConversation(conversations[0], { withUser: { id: bo.userId, name: "Bobby" } });
    assertConversation(conversations[1], { withUser: { id: cy.userId, name: "cy" }, lastSeq: 0 });
    const bare = await bo.emit("conversations");
    assert.equal(bare?.ok, true, `a bare emit works too: ${brief(bare)}`);
    assert.deepEqual(bare.conversations.map((c) => c.room), [withBo.room], "only bo's own");
  });
});

describe("direct messages across a restart", () => {
  test("a conversation is in both users' lists after a restart, with its history", async () => {
    const first = await launch();
    try {
      const lobby = uniqueRoom("lobby");
      const [asha, bo] = [await connectV2(first), await connectV2(first)];
      await asha.join(lobby, "asha");
      await bo.join(lobby, "bo");
      const { room } = await dm(asha, bo);
      await asha.join(room, "asha");
      await asha.say(room, "are you there?");
      bo.close();
      asha.close();
      await first.stop();
      const second = await launch({ sameStorageAs: first });
      try {
        const back = await connectV2(second, bo.token);
        const { conversations } = await ok(back, "conversations", {});
        assert.equal(conversations.length, 1);
        assertConversation(conversations[0], { room, withUser: { id: asha.userId, name: "asha" } });
        assert.ok(conversations[0].lastSeq >= 1);
        const joined = await back.join(room, "bo", { since: 0 });
        assert.deepEqual(joined.history.map((m) => m.text), ["are you there?"]);
        back.close();
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
