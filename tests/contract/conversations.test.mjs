// Contract version 2: edits, deletes, reactions and replies, as entries of
// the room's log that every version 2 connection follows in one order, while
// version 1 connections in the same room keep seeing today's events.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  CLUSTER, assertError, assertMessage, brief, connect, settle, sleep, uniqueRoom, useServer,
} from "./helpers.mjs";

/** A version 2 connection (`auth: { protocol: 2 }`, with a token if given). */
const connectV2 = (server, token) => connect(server, { auth: token ? { token, protocol: 2 } : { protocol: 2 } });

/** Emits and asserts the ack is ok; resolves with it. */
async function ok(client, event, payload) {
  const ack = await client.emit(event, payload);
  assert.equal(ack?.ok, true, `${event} ${brief(payload)} failed: ${brief(ack)}`);
  return ack;
}

const edit = (client, room, id, text, extra = {}) => ok(client, "edit", { room, id, text, ...extra });
const remove = (client, room, id, extra = {}) => ok(client, "delete", { room, id, ...extra });
const react = (client, room, id, emoji, extra = {}) => ok(client, "react", { room, id, emoji, ...extra });

/** The state a client builds from a join answer and its changes: messages by id. */
function stateOf(...answers) {
  const state = new Map();
  for (const { history = [], changes = [] } of answers) {
    for (const message of history) state.set(message.id, message);
    for (const change of changes) state.set(change.message.id, change.message);
  }
  return state;
}

/** A message's reactions as `{ emoji: [userIds] }`, for comparing. */
const reactionsOf = (message) =>
  Object.fromEntries(message.reactions.map((r) => [r.emoji, r.users.map((u) => u.id).sort()]));

describe("conversations (protocol version 2)", () => {
  const server = useServer({ args: ["--rate-limit", "0", "--user-rate-limit", "0"] });

  it("an edit reaches everyone as a change in the room's order, marked edited", async () => {
    const room = uniqueRoom("edit");
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    const sent = await asha.say(room, "helo");
    const { change } = await edit(asha, room, sent.id, "hello");
    assert.equal(change.kind, "edit");
    assert.ok(change.seq > sent.seq, "a change takes the room's next seq");
    assert.equal(change.message.id, sent.id);
    assert.equal(change.message.seq, sent.seq, "a message keeps the seq it was created with");
    assert.equal(change.message.text, "hello");
    assert.equal(typeof change.message.editedAt, "number");
    assert.equal(change.user.id, asha.userId);
    const seen = await bo.waitFor("change", (c) => c.seq === change.seq);
    assert.deepEqual(seen, change);
    const history = await ok(bo, "history", { room });
    assert.equal(history.messages.at(-1).text, "hello");
  });

  it("only the author may edit or delete; others are refused with forbidden", async () => {
    const room = uniqueRoom("forbidden");
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    const sent = await asha.say(room, "mine");
    assertError(await bo.emit("edit", { room, id: sent.id, text: "yours now" }), "forbidden");
    assertError(await bo.emit("delete", { room, id: sent.id }), "forbidden");
    await asha.assertNoEvent("change");
    const history = await ok(asha, "history", { room });
    assert.equal(history.messages.at(-1).text, "mine");
  });

  it("an unknown message, or one of another room, is not_found for every change and reply", async () => {
    const [room, other] = [uniqueRoom("missing"), uniqueRoom("elsewhere")];
    const asha = await connectV2(server);
    await asha.join(room, "asha");
    await asha.join(other, "asha");
    const elsewhere = await asha.say(other, "over there");
    for (const id of [987654321, elsewhere.id]) {
      assertError(await asha.emit("edit", { room, id, text: "x" }), "not_found");
      assertError(await asha.emit("delete", { room, id }), "not_found");
      assertError(await asha.emit("react", { room, id, emoji: "👍" }), "not_found");
      assertError(await asha.emit("message", { room, text: "re", replyTo: id }), "not_found");
    }
    const deleted = await asha.say(room, "soon gone");
    await remove(asha, room, deleted.id);
    assertError(await asha.emit("edit", { room, id: deleted.id, text: "back" }), "not_found");
    assertError(await asha.emit("react", { room, id: deleted.id, emoji: "👍" }), "not_found");
  });

  it("changes are checked like messages: shape, room, membership, text, emoji", async () => {
    const room = uniqueRoom("checks");
    const asha = await connectV2(server);
    await asha.join(room, "asha");
    const sent = await asha.say(room, "hi");
    assertError(await asha.emit("edit", { room, id: sent.id }), "bad_request");
    assertError(await asha.emit("edit", { room, id: "1", text: "x" }), "bad_request");
    assertError(await asha.emit("edit", { room, id: sent.id, text: "  " }), "invalid_message");
    assertError(await asha.emit("edit", { room, id: sent.id, text: "x".repeat(2001) }), "too_large");
    assertError(await asha.emit("delete", { room: uniqueRoom(), id: sent.id }), "not_in_room");
    for (const emoji of ["", "a", "👍👍", "ok", " "]) {
      assertError(await asha.emit("react", { room, id: sent.id, emoji }), "invalid_reaction", emoji);
    }
    assertError(await asha.emit("react", { room, id: sent.id, emoji: "👍", clientId: "" }), "bad_request");
  });

  it("a malformed edit, delete, react or replyTo is bad_request and the connection carries on", async () => {
    const room = uniqueRoom("malformed");
    const asha = await connectV2(server);
    await asha.join(room, "asha");
    const sent = await asha.say(room, "target");
    const id = sent.id;
    const rows = [];
    for (const event of ["edit", "delete", "react"]) {
      rows.push([event, []], [event, [null]], [event, ["general"]], [event, [42]], [event, [[room, id]]]);
      rows.push([event, [{}]], [event, [{ room }]], [event, [{ id }]]);
      for (const bad of [-1, 1.5, "1", 1e300, 2 ** 70, null, { id }]) {
        rows.push([event, [{ room, id: bad, text: "x", emoji: "👍" }]]);
      }
      rows.push([event, [{ room, id, text: "x", emoji: "👍", clientId: 5 }]]);
      rows.push([event, [{ room, id, text: "x", emoji: "👍", clientId: "c".repeat(65) }]]);
    }
    rows.push(["edit", [{ room, id, text: 5 }]], ["edit", [{ room, id, text: null }]]);
    rows.push(["react", [{ room, id, emoji: 5 }]], ["react", [{ room, id, emoji: ["👍"] }]]);
    for (const bad of [-1, 1.5, "1", { id }]) rows.push(["message", [{ room, text: "re", replyTo: bad }]]);
    for (const [event, args] of rows) {
      assertError(await asha.emit(event, ...args), "bad_request", `${event} ${brief(args)}`);
    }
    assert.equal((await edit(asha, room, id, "still works")).change.message.text, "still works");
  });

  it("a deleted message's text is gone from the database file itself", { skip: CLUSTER && "SQLite only" }, async () => {
    const room = uniqueRoom("erase");
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    const secret = `secret-${Math.random().toString(36).slice(2)}-${"😀".repeat(1900)}`;
    const sent = await asha.say(room, secret);
    const edited = `edited-${Math.random().toString(36).slice(2)}`;
    await edit(asha, room, sent.id, edited);
    const { change } = await remove(asha, room, sent.id);
    assert.equal(change.kind, "delete");
    assert.equal(change.message.deleted, true);
    assert.equal("text" in change.message, false, "a delete carries no text");
    const seen = await bo.waitFor("change", (c) => c.seq === change.seq);
    assert.equal("text" in seen.message, false);
    const history = await ok(bo, "history", { room });
    const shown = history.messages.find((m) => m.id === sent.id);
    assert.equal(shown.deleted, true);
    assert.equal("text" in shown, false);
    for (const path of [server.dbPath, `${server.dbPath}-wal`]) {
      if (!existsSync(path)) continue;
      const bytes = readFileSync(path);
      assert.equal(bytes.includes(secret.slice(0, 20)), false, `the deleted text is still in ${path}`);
      assert.equal(bytes.includes(edited), false, `the deleted message's edited text is still in ${path}`);
    }
  });

  it("a reaction toggles per user and counts distinct users", async () => {
    const room = uniqueRoom("react");
    const [asha, bo, cy] = [await connectV2(server), await connectV2(server), await connectV2(server)];
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    await cy.join(room, "cy");
    const sent = await asha.say(room, "react to me");
    await react(asha, room, sent.id, "👍");
    await react(bo, room, sent.id, "👍");
    await react(bo, room, sent.id, "🎉");
    let { change } = await react(cy, room, sent.id, "👍");
    assert.equal(change.kind, "react");
    assert.deepEqual(change.message.reactions.map((r) => [r.emoji, r.count]), [["👍", 3], ["🎉", 1]]);
    assert.deepEqual(reactionsOf(change.message)["👍"], [asha.userId, bo.userId, cy.userId].sort());
    ({ change } = await react(bo, room, sent.id, "👍"));
    assert.deepEqual(change.message.reactions.map((r) => [r.emoji, r.count]), [["👍", 2], ["🎉", 1]]);
    ({ change } = await react(bo, room, sent.id, "🎉"));
    assert.deepEqual(change.message.reactions.map((r) => [r.emoji, r.count]), [["👍", 2]]);
    const last = await asha.waitFor("change", (c) => c.seq === change.seq);
    assert.deepEqual(last.message.reactions, change.message.reactions);
  });

  it("a message takes at most 20 different emoji; the 21st is too_large", async () => {
    const room = uniqueRoom("emoji");
    const asha = await connectV2(server);
    await asha.join(room, "asha");
    const sent = await asha.say(room, "so many");
    const emoji = [..."😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩"];
    for (const e of emoji.slice(0, 20)) await react(asha, room, sent.id, e);
    assertError(await asha.emit("react", { room, id: sent.id, emoji: emoji[20] }), "too_large");
    const { change } = await react(asha, room, sent.id, emoji[0]);
    assert.equal(change.message.reactions.length, 19, "removing one is always allowed");
  });

  it("a reply names the message it answers", async () => {
    const room = uniqueRoom("reply");
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    const question = await asha.say(room, "tea?");
    const answer = await bo.say(room, "yes", { replyTo: question.id });
    assert.equal(answer.replyTo, question.id);
    const seen = await asha.waitFor("message", (m) => m.id === answer.id);
    assert.equal(seen.replyTo, question.id);
    await remove(asha, room, question.id);
    const history = await ok(bo, "history", { room });
    assert.equal(history.messages.find((m) => m.id === answer.id).replyTo, question.id);
    assert.equal(history.messages.find((m) => m.id === question.id).deleted, true);
  });

  it("three clients see one order of mixed messages and changes", async () => {
    const room = uniqueRoom("order");
    const clients = [await connectV2(server), await connectV2(server), await connectV2(server)];
    for (const [i, client] of clients.entries()) await client.join(room, `c${i}`);
    const seeds = [];
    for (const client of clients) seeds.push(await client.say(room, "seed"));
    const acks = await Promise.all(clients.map(async (client, i) => {
      const own = seeds[i];
      const mine = [];
      for (let round = 0; round < 8; round += 1) {
        mine.push((await client.emit("message", { room, text: `r${round}` })).message.seq);
        mine.push((await client.emit("edit", { room, id: own.id, text: `e${round}` })).change.seq);
        const target = seeds[(i + round) % seeds.length];
        mine.push((await client.emit("react", { room, id: target.id, emoji: "👍" })).change.seq);
      }
      return mine;
    }));
    const total = clients.length * 24;
    await sleep(300);
    const all = acks.flat().sort((a, b) => a - b);
    assert.equal(new Set(all).size, total, "every message and change has its own seq");
    for (const [i, client] of clients.entries()) {
      const live = client.events
        .filter((e) => e.event === "message" || e.event === "change")
        .map((e) => e.args[0].seq)
        .filter((seq) => seq > seeds.at(-1).seq);
      assert.deepEqual(live, [...live].sort((a, b) => a - b), `client ${i} got entries out of order`);
      const seen = [...live, ...acks[i]].sort((a, b) => a - b);
      assert.deepEqual(seen, all, `client ${i} saw the same log`);
    }
  });

  it("a client away while messages change catches up to exactly the current state", async () => {
    const room = uniqueRoom("away");
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    const old = [];
    for (let i = 0; i < 20; i += 1) old.push(await (i % 2 ? bo : asha).say(room, `old ${i}`));
    const away = await connectV2(server);
    const first = await away.join(room, "away");
    const since = Math.max(...first.history.map((m) => m.seq));
    const token = away.token;
    away.close();
    await settle();
    const authors = (i) => (i % 2 ? bo : asha);
    for (let i = 0; i < 10; i += 1) await edit(authors(i), room, old[i].id, `edited ${i}`);
    for (let i = 10; i < 15; i += 1) await remove(authors(i), room, old[i].id);
    const emoji = ["👍", "🎉", "❤", "😂"];
    const alive = [...old.slice(0, 10), ...old.slice(15)];
    for (let i = 0; i < 20; i += 1) await react(i % 2 ? asha : bo, room, alive[(i * 4) % 15].id, emoji[i % 4]);
    await asha.say(room, "new while away");
    const back = await connectV2(server, token);
    const caughtUp = await back.join(room, "away", { since });
    assert.equal(caughtUp.hasMore, false);
    assert.ok(caughtUp.changes.length > 0 && caughtUp.changes.every((c) => c.seq > since));
    const rebuilt = stateOf(first, caughtUp);
    const fresh = await connectV2(server);
    const now = await fresh.join(room, "fresh");
    assert.deepEqual([...rebuilt.values()].sort((a, b) => a.seq - b.seq), now.history);
    const deleted = now.history.filter((m) => m.deleted);
    assert.equal(deleted.length, 5);
    assert.ok(deleted.every((m) => !("text" in m)));
  });

  it("a long absence catches up from the log in pages, to the current state", async () => {
    const room = uniqueRoom("long");
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    const old = [];
    for (let i = 0; i < 5; i += 1) old.push(await asha.say(room, `old ${i}`));
    const away = await connectV2(server);
    const first = await away.join(room, "away");
    const since = old.at(-1).seq;
    const token = away.token;
    away.close();
    const emoji = ["👍", "🎉", "❤", "😂", "🙏", "👀"];
    for (let i = 0; i < 520; i += 1) {
      await react(i % 2 ? asha : bo, room, old[i % 5].id, emoji[i % 6]);
      if (i % 100 === 0) await asha.say(room, `new ${i}`);
    }
    await edit(asha, room, old[1].id, "edited at the end");
    const back = await connectV2(server, token);
    const page1 = await back.join(room, "away", { since });
    assert.equal(page1.hasMore, true, "more than 500 entries of the log are paged");
    const next = Math.max(...page1.history.map((m) => m.seq), ...page1.changes.map((c) => c.seq));
    const page2 = await back.join(room, "away", { since: next });
    assert.equal(page2.hasMore, false);
    const rebuilt = stateOf(first, page1, page2);
    const now = await (await connectV2(server)).join(room, "fresh");
    assert.deepEqual([...rebuilt.values()].sort((a, b) => a.seq - b.seq), now.history);
    assert.equal(now.history.find((m) => m.id === old[1].id).text, "edited at the end");
  });

  it("a retried change with the same clientId applies once", async () => {
    const room = uniqueRoom("retry");
    const [asha, bo] = [await connectV2(server), await connectV2(server)];
    await asha.join(room, "asha");
    await bo.join(room, "bo");
    const sent = await asha.say(room, "once");
    const mark = bo.mark();
    const [first, again] = await Promise.all([
      asha.emit("react", { room, id: sent.id, emoji: "👍", clientId: "r1" }),
      asha.emit("react", { room, id: sent.id, emoji: "👍", clientId: "r1" }),
    ]);
    assert.equal(first.ok && again.ok, true, brief([first, again]));
    assert.equal(first.change.seq, again.change.seq, "the retry answers the original change");
    const third = await react(asha, room, sent.id, "👍", { clientId: "r1" });
    assert.equal(third.change.seq, first.change.seq);
    assert.deepEqual(third.change.message.reactions.map((r) => r.count), [1], "applied once, not toggled back");
    const edited = await edit(asha, room, sent.id, "twice?", { clientId: "e1" });
    const retried = await edit(asha, room, sent.id, "twice?", { clientId: "e1" });
    assert.equal(retried.change.seq, edited.change.seq);
    const changes = await bo.assertExactly("change", 2, () => true, { since: mark });
    assert.deepEqual(changes.map((c) => c.seq), [first.change.seq, edited.change.seq]);
  });

  it("version 1 clients in the same room see only messages, in version 1 shapes", async () => {
    const room = uniqueRoom("v1");
    const asha = await connectV2(server);
    const old = await connect(server);
    await asha.join(room, "asha");
    await old.join(room, "old");
    const first = await asha.say(room, "first");
    const second = await asha.say(room, "second");
    await edit(asha, room, first.id, "first, edited");
    await react(asha, room, first.id, "👍");
    await remove(asha, room, second.id);
    const reply = await asha.say(room, "third", { replyTo: first.id });
    await old.waitFor("message", (m) => m.id === reply.id);
    await old.assertNoEvent("change");
    for (const message of old.received("message")) assertMessage(message);
    const joined = await old.join(room, "old");
    for (const message of joined.history) assertMessage(message);
    assert.deepEqual(joined.history.map((m) => m.text), ["first, edited", "third"], "deleted ones are left out");
    const page = await ok(old, "history", { room });
    assert.deepEqual(page.messages.map((m) => m.text), ["first, edited", "third"]);
    const sent = await old.say(room, "from v1");
    assertMessage(sent);
  });
});
