// Keeping up (protocol version 2): read markers kept by the server per user
// and room, live on the user's other connections; unread counts; full-text
// search limited to what the user may read; history around a seq; live room
// counts for the sidebar. Each holds on one process and across a cluster.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { existsSync, readFileSync } from "node:fs";
import { CLUSTER, assertError, brief, connect, sendMany, settle, sleep, uniqueRoom, useServer } from "./helpers.mjs";

/** A version 2 connection (`auth: { protocol: 2 }`, with a token if given). */
const connectV2 = (server, token) => connect(server, { auth: token ? { token, protocol: 2 } : { protocol: 2 } });

/** Emits and asserts the ack is ok; resolves with it. */
async function ok(client, event, payload) {
  const ack = await client.emit(event, payload);
  assert.equal(ack?.ok, true, `${event} ${brief(payload)} failed: ${brief(ack)}`);
  return ack;
}

const read = (client, room, seq) => ok(client, "read", { room, seq });
const search = (client, payload) => ok(client, "search", payload);
/** A word no other test writes: letters only, so it is one word to every index. */
const uniqueWord = (prefix = "w") => `${prefix}${Math.random().toString(36).slice(2).replace(/[0-9]/g, "")}x`;

describe("read markers", () => {
  const server = useServer({ args: ["--rate-limit", "0", "--user-rate-limit", "0"] });

  it("a read marker is kept per user and room, and only moves forward", async () => {
    const [room, other] = [uniqueRoom("read"), uniqueRoom("read-other")];
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    const joined = await asha.join(room, "asha");
    assert.deepEqual([joined.readSeq, joined.unread], [0, 0], "a room never read");
    await bo.join(room, "bo");
    await asha.join(other, "asha");
    const sent = await sendMany(bo, room, 4);
    let marker = await read(asha, room, sent[1].seq);
    const expected = { ok: undefined, room, readSeq: sent[1].seq, unread: 2, lastSeq: sent[3].seq };
    assert.deepEqual({ ...marker, ok: undefined }, expected, "counted up to the room's newest message");
    marker = await read(asha, room, sent[0].seq);
    assert.equal(marker.readSeq, sent[1].seq, "never moves back");
    marker = await read(asha, room, 1e12);
    assert.deepEqual([marker.readSeq, marker.unread], [sent[3].seq, 0], "never past the room's end");
    assert.equal((await ok(bo, "reads", {})).reads.length, 0, "bo's markers are bo's");
    const { reads } = await ok(asha, "reads", {});
    assert.deepEqual(reads, [{ room, readSeq: sent[3].seq, unread: 0, lastSeq: sent[3].seq }], "a room not read is not listed");
  });

  it("a marker comes back after a reconnect with the same token, with what came since as unread", async () => {
    const room = uniqueRoom("reconnect");
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    const before = await sendMany(bo, room, 3);
    await read(asha, room, before[2].seq);
    const token = asha.token;
    asha.close();
    const later = await sendMany(bo, room, 5);
    await bo.say(room, "deleted later").then((m) => ok(bo, "delete", { room, id: m.id }));
    await ok(bo, "edit", { room, id: later[0].id, text: "an edit is not a new message" });
    const back = await connectV2(server, token);
    assert.equal(back.userId, asha.userId);
    const joined = await back.join(room, "asha");
    assert.deepEqual([joined.readSeq, joined.unread], [before[2].seq, 5], "the deleted one and the edit do not count");
    const { reads: [listed] } = await ok(back, "reads", {});
    assert.equal(joined.lastSeq, listed.lastSeq, "counted up to the same place");
    assert.ok(joined.lastSeq > later[4].seq, "the room's newest seq, its changes' too");
    const mine = await back.say(room, "my own message is not unread");
    const { reads } = await ok(back, "reads", {});
    assert.deepEqual(reads, [{ room, readSeq: before[2].seq, unread: 5, lastSeq: mine.seq }]);
  });

  it("a join's unread count and the live messages after its lastSeq add up to every message, joined while they come", async () => {
    for (let round = 0; round < 5; round++) {
      const room = uniqueRoom("counted");
      const [asha, bo] = [await connectV2(server), await connectV2(server)];
      await Promise.all([asha.join(room, "asha"), bo.join(room, "bo")]);
      const total = 60;
      const sending = (async () => {
        const sent = [];
        for (let i = 0; i < total; i++) sent.push(await bo.say(room, `m${i}`));
        return sent;
      })();
      await sleep(round * 5);
      const tab = await connectV2(server, asha.token);
      const since = tab.mark();
      const joined = await tab.join(room, "asha");
      const sent = await sending;
      const after = (m) => m.room === room && m.seq > joined.lastSeq;
      const live = await tab.waitForCount("message", sent.filter(after).length, after, { since });
      assert.equal(joined.unread + live.length, total, `round ${round}: each of bo's messages counted once`);
      await tab.assertExactly("message", live.length, after, { since, within: 50 });
    }
  });

  it("reading on one connection tells the user's other connections, and nobody else", async () => {
    const room = uniqueRoom("tabs");
    const tabA = await connectV2(server);
    const tabB = await connectV2(server, tabA.token);
    const bo = await connectV2(server);
    await tabA.join(room, "asha");
    await bo.join(room, "bo");
    const sent = await sendMany(bo, room, 3);
    const other = uniqueRoom("tabs-elsewhere");
    await tabB.join(other, "asha");
    const [markA, markB, markBo] = [tabA.mark(), tabB.mark(), bo.mark()];
    await read(tabA, room, sent[2].seq);
    const heard = await tabB.waitFor("read", (r) => r.room === room, { since: markB });
    const expected = { room, readSeq: sent[2].seq, unread: 0, lastSeq: sent[2].seq };
    assert.deepEqual(heard, expected, "tab B is not in the room, and still hears");
    await tabA.assertNoEvent("read", () => true, { since: markA });
    await bo.assertNoEvent("read", () => true, { since: markBo });
    await tabB.join(room, "asha");
    await read(tabB, room, sent[1].seq);
    await tabA.assertNoEvent("read", () => true, { since: markA, within: 200 });
  });

  it("a direct conversation lists its reader's marker and unread count", async () => {
    const lobby = uniqueRoom("lobby");
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    await asha.join(lobby, "asha");
    await bo.join(lobby, "bo");
    const { conversation } = await ok(asha, "dm", { userId: bo.userId });
    assert.deepEqual([conversation.readSeq, conversation.unread], [0, 0]);
    await asha.join(conversation.room, "asha");
    await bo.join(conversation.room, "bo");
    const sent = await sendMany(bo, conversation.room, 3);
    await read(asha, conversation.room, sent[0].seq);
    const [listed] = (await ok(asha, "conversations", {})).conversations;
    assert.deepEqual([listed.room, listed.readSeq, listed.unread, listed.lastSeq], [conversation.room, sent[0].seq, 2, sent[2].seq]);
    const [theirs] = (await ok(bo, "conversations", {})).conversations;
    assert.deepEqual([theirs.readSeq, theirs.unread], [0, 0], "bo's own messages are not unread for bo");
  });

  it("read is refused outside joined rooms, malformed, and on version 1", async () => {
    const room = uniqueRoom("refuse");
    const asha = await connectV2(server);
    assertError(await asha.emit("read", { room, seq: 1 }), "not_in_room");
    assertError(await asha.emit("read", { room: `@${"ab".repeat(12)}`, seq: 1 }), "forbidden");
    await asha.join(room, "asha");
    for (const bad of [{ room }, { room, seq: -1 }, { room, seq: 1.5 }, { room, seq: "1" }, [room, 1]]) {
      assertError(await asha.emit("read", bad), "bad_request", brief(bad));
    }
    const v1 = await connect(server);
    await v1.join(room, "v1");
    for (const [event, payload] of [["read", { room, seq: 1 }], ["reads", {}], ["search", { q: "x" }]]) {
      assertError(await v1.emit(event, payload), "unsupported", event);
    }
    const plain = await v1.join(room, "v1");
    assert.equal(["readSeq", "unread", "lastSeq"].some((k) => k in plain), false, "version 1's join keeps its shape");
  });
});

describe("search", () => {
  const server = useServer({ args: ["--rate-limit", "0", "--user-rate-limit", "0", "--search-rate-limit", "0"] });

  it("finds a public room's messages, ranked, with where the words are, without joining", async () => {
    const room = uniqueRoom("search");
    const word = uniqueWord("find");
    const asha = await connectV2(server);
    await asha.join(room, "asha");
    const once = await asha.say(room, `😀 ${word.toUpperCase()} appears once`);
    const twice = await asha.say(room, `${word} and ${word} again`);
    await asha.say(room, "nothing to see");
    const reader = await connectV2(server);
    const { results, hasMore } = await search(reader, { q: word });
    assert.equal(hasMore, false);
    assert.deepEqual(results.map((r) => r.message.id), [twice.id, once.id], "the message with the word twice first");
    const [first, second] = results;
    assert.deepEqual(first.highlights, [[0, word.length], [word.length + 5, 2 * word.length + 5]]);
    assert.deepEqual(second.highlights, [[3, 3 + word.length]], "ranges are JavaScript string indices");
    assert.equal(second.message.text.slice(...second.highlights[0]), word.toUpperCase());
    assert.deepEqual(second.message.reactions, [], "a whole version 2 message");
    const inRoom = await search(reader, { q: word, room, limit: 1 });
    assert.deepEqual([inRoom.results.length, inRoom.hasMore], [1, true]);
    const older = await search(reader, { q: word, before: twice.id });
    assert.deepEqual(older.results.map((r) => r.message.id), [once.id]);
    const phrase = await search(reader, { q: `"${word} again" -nothing` });
    assert.deepEqual(phrase.results.map((r) => r.message.id), [twice.id]);
  });

  it("never finds a deleted message, and finds an edited one by its new text only", async () => {
    const room = uniqueRoom("edits");
    const [gone, old, fresh] = [uniqueWord("gone"), uniqueWord("old"), uniqueWord("new")];
    const asha = await connectV2(server);
    await asha.join(room, "asha");
    const deleted = await asha.say(room, `${gone} soon`);
    await ok(asha, "delete", { room, id: deleted.id });
    const edited = await asha.say(room, `${old} text`);
    await ok(asha, "edit", { room, id: edited.id, text: `${fresh} text` });
    assert.deepEqual((await search(asha, { q: gone })).results, []);
    assert.deepEqual((await search(asha, { q: old })).results, []);
    const { results } = await search(asha, { q: fresh });
    assert.deepEqual(results.map((r) => [r.message.id, r.message.text]), [[edited.id, `${fresh} text`]]);
    assert.equal(typeof results[0].message.editedAt, "number");
  });

  it("a deleted message's words leave the search index in the database file", { skip: CLUSTER && "SQLite only" }, async () => {
    const room = uniqueRoom("erase");
    const [word, edited] = [uniqueWord("erased"), uniqueWord("replaced")];
    const asha = await connectV2(server);
    await asha.join(room, "asha");
    const sent = await asha.say(room, `${word} ${word}`);
    await ok(asha, "edit", { room, id: sent.id, text: `${edited} ${word}` });
    const files = () => [server.dbPath, `${server.dbPath}-wal`].filter(existsSync).map((p) => readFileSync(p));
    assert.ok(files().some((bytes) => bytes.includes(edited)), "before the delete the word is stored");
    await ok(asha, "delete", { room, id: sent.id });
    for (const path of [server.dbPath, `${server.dbPath}-wal`]) {
      if (!existsSync(path)) continue;
      const bytes = readFileSync(path);
      assert.equal(bytes.includes(word), false, `the deleted word is still in ${path}`);
      assert.equal(bytes.includes(edited), false, `the deleted edit's word is still in ${path}`);
    }
  });

  it("a direct conversation's text is found by its two users and by nobody else", async () => {
    const lobby = uniqueRoom("lobby");
    const secret = uniqueWord("secret");
    const [asha, bo, cy] = [await connectV2(server), await connectV2(server), await connectV2(server)];
    await asha.join(lobby, "asha");
    await bo.join(lobby, "bo");
    await cy.join(lobby, "cy");
    const { conversation } = await ok(asha, "dm", { userId: bo.userId });
    await asha.join(conversation.room, "asha");
    const sent = await asha.say(conversation.room, `the ${secret} is here`);
    for (const user of [asha, bo]) {
      const { results } = await search(user, { q: secret });
      assert.deepEqual(results.map((r) => r.message.id), [sent.id]);
      const inRoom = await search(user, { q: secret, room: conversation.room });
      assert.deepEqual(inRoom.results.map((r) => r.message.id), [sent.id]);
    }
    assert.deepEqual((await search(cy, { q: secret })).results, [], "a third user finds nothing");
    assertError(await cy.emit("search", { q: secret, room: conversation.room }), "forbidden");
    assertError(await cy.emit("search", { q: secret, room: `@${"cd".repeat(12)}` }), "forbidden");
  });

  it("a query with nothing to look for or of the wrong shape is refused", async () => {
    const asha = await connectV2(server);
    for (const q of ["", "   ", "?!", "-alone", "x".repeat(257)]) {
      assertError(await asha.emit("search", { q }), "invalid_query", JSON.stringify(q).slice(0, 20));
    }
    for (const bad of [{}, { q: 5 }, { q: "a", limit: 0 }, { q: "a", before: -1 }, { q: "a", room: "" }]) {
      const ack = await asha.emit("search", bad);
      assert.equal(ack.ok, false, brief(bad));
      assert.ok(["bad_request", "invalid_room"].includes(ack.error.code), brief(ack));
    }
  });
});

describe("search limits", () => {
  const server = useServer({ args: ["--search-rate-limit", "2"] });

  it("searching too often is rate limited with a wait", async () => {
    const asha = await connectV2(server);
    const acks = await Promise.all(Array.from({ length: 8 }, () => asha.emit("search", { q: "anything" })));
    assert.equal(acks.filter((a) => a.ok).length, 4, "a burst of twice the rate");
    const refused = acks.find((a) => !a.ok);
    assertError(refused, "rate_limited");
    assert.ok(refused.error.retryAfterMs > 0);
  });
});

describe("history around a seq", () => {
  const server = useServer({ args: ["--rate-limit", "0", "--user-rate-limit", "0"] });

  it("gives the messages before and after a seq, and says whether more lie either way", async () => {
    const room = uniqueRoom("around");
    const asha = await connectV2(server);
    await asha.join(room, "asha");
    const sent = await sendMany(asha, room, 30);
    const middle = sent[14];
    const page = await ok(asha, "history", { room, around: middle.seq, limit: 10 });
    assert.deepEqual(page.messages.map((m) => m.id), sent.slice(10, 20).map((m) => m.id));
    assert.deepEqual([page.hasMore, page.hasNewer], [true, true]);
    const start = await ok(asha, "history", { room, around: sent[1].seq, limit: 10 });
    assert.deepEqual(start.messages.map((m) => m.id), sent.slice(0, 7).map((m) => m.id));
    assert.deepEqual([start.hasMore, start.hasNewer], [false, true]);
    const end = await ok(asha, "history", { room, around: sent[29].seq, limit: 10 });
    assert.deepEqual(end.messages.map((m) => m.id), sent.slice(25).map((m) => m.id));
    assert.deepEqual([end.hasMore, end.hasNewer], [true, false]);
    assertError(await asha.emit("history", { room, around: 1, before: 5 }), "bad_request");
    const v1 = await connect(server);
    await v1.join(room, "v1");
    const plain = await ok(v1, "history", { room, around: middle.seq, limit: 2 });
    assert.deepEqual(plain.messages.map((m) => m.seq), [middle.seq, sent[15].seq]);
    assert.equal("reactions" in plain.messages[0], false, "version 1 shape");
  });
});

describe("live room counts", () => {
  const server = useServer();

  it("a subscriber hears every public room's count change within a second, and no direct room's", async () => {
    const [watched, own] = [uniqueRoom("watched"), uniqueRoom("own")];
    const watcher = await connectV2(server);
    await watcher.join(own, "watcher");
    const { rooms } = await ok(watcher, "rooms", { subscribe: true });
    assert.ok(Array.isArray(rooms));
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    const started = Date.now();
    await asha.join(watched, "asha");
    await bo.join(watched, "bo");
    await watcher.waitFor("counts", (c) => c.rooms.some((r) => r.room === watched && r.count === 2), { timeout: 1000 });
    assert.ok(Date.now() - started < 1000);
    const { conversation } = await ok(asha, "dm", { userId: bo.userId });
    await asha.join(conversation.room, "asha");
    const left = Date.now();
    await ok(bo, "leave", { room: watched });
    await watcher.waitFor("counts", (c) => c.rooms.some((r) => r.room === watched && r.count === 1), { timeout: 1000 });
    assert.ok(Date.now() - left < 1000);
    asha.close();
    await watcher.waitFor("counts", (c) => c.rooms.some((r) => r.room === watched && r.count === 0), { timeout: 1000 });
    const seen = watcher.received("counts").flatMap((c) => c.rooms.map((r) => r.room));
    assert.equal(seen.some((room) => room.startsWith("@")), false, "direct rooms are never counted");
  });

  it("the sidebar's count agrees with the header's presence count within a second", async () => {
    const room = uniqueRoom("agree");
    const watcher = await connectV2(server);
    await watcher.join(room, "watcher");
    await ok(watcher, "rooms", { subscribe: true });
    const others = [await connectV2(server), await connectV2(server), await connectV2(server)];
    for (const [i, other] of others.entries()) await other.join(room, `p${i}`);
    const presence = await watcher.waitFor("presence", (p) => p.room === room && p.count === 4);
    const at = Date.now();
    const counted = await watcher.waitFor("counts", (c) => c.rooms.some((r) => r.room === room && r.count === presence.count), { timeout: 1000 });
    assert.ok(Date.now() - at < 1000, brief(counted));
  });

  it("unsubscribing stops counts, and version 1 never gets them", async () => {
    const room = uniqueRoom("quiet");
    const [watcher, v1] = [await connectV2(server), await connect(server)];
    await ok(watcher, "rooms", { subscribe: true });
    await ok(watcher, "rooms", { subscribe: false });
    await ok(v1, "rooms", { subscribe: true });
    const asha = await connectV2(server);
    await asha.join(room, "asha");
    await settle();
    await watcher.assertNoEvent("counts", (c) => c.rooms.some((r) => r.room === room), { within: 600 });
    await v1.assertNoEvent("counts", () => true, { within: 0 });
  });
});
