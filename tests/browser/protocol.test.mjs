// web/src/protocol.ts against the server, in two ways. Names: the events
// the browser sends and hears are exactly the Rust `realtime::events`
// lists. Shapes: every event and answer a real server sends (to a version
// 2 connection, and `message` to a version 1 one) is checked field by
// field against the TypeScript type the app reads it as: no field the
// type lacks, every required field there, each of the declared type; and
// every declared field turns up in some real payload. No browser needed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { io } from "socket.io-client";
import { startServer } from "../support/server.mjs";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** Event names from the Rust `pub mod events { ... }`: sent by clients and by the server. */
function rustEvents() {
  const source = readFileSync(resolve(ROOT, "src", "realtime", "mod.rs"), "utf8");
  const block = /pub mod events \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
  const consts = Object.fromEntries([...block.matchAll(/pub const (\w+): &str = "([^"]+)";/g)].map((m) => [m[1], m[2]]));
  const list = (name) => (new RegExp(`${name}: \\[&str; \\d+\\] =\\s*\\[([^\\]]*)\\]`).exec(block)?.[1] ?? "")
    .split(",").map((s) => consts[s.trim()]).filter(Boolean).sort();
  return { fromClient: list("FROM_CLIENT"), fromServer: list("FROM_SERVER") };
}

// ---------- A small reader of protocol.ts's declarations ----------

/** protocol.ts without comments. */
function protocolSource() {
  return readFileSync(resolve(ROOT, "web", "src", "protocol.ts"), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "");
}

/** Splits `text` at `sep` where no bracket is open (`=>` is not a bracket). */
function splitTop(text, sep) {
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ("{(<[".includes(c)) depth++;
    else if ("})]".includes(c) || (c === ">" && text[i - 1] !== "=")) depth--;
    else if (depth === 0 && text.startsWith(sep, i)) {
      parts.push(text.slice(start, i));
      start = i + sep.length;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** `{ a: T; b?: U }` (or an interface body) as `{ a: { type, optional } }`. */
function members(body) {
  const fields = {};
  for (const member of splitTop(body, ";").flatMap((m) => splitTop(m, ","))) {
    const [head, ...rest] = splitTop(member, ":");
    const found = /^(\w+)(\?)?$/.exec(head);
    assert.ok(found, `cannot read the member "${member}"`);
    fields[found[1]] = { type: rest.join(":").trim(), optional: Boolean(found[2]) };
  }
  return fields;
}

/** Every `export interface` (as members) and `export type` (as a type expression). */
function declarations() {
  const source = protocolSource();
  const interfaces = {};
  for (const m of source.matchAll(/export interface (\w+) \{([\s\S]*?)\n\}/g)) interfaces[m[1]] = members(m[2]);
  const aliases = {};
  for (const m of source.matchAll(/export type (\w+)(<\w+>)? =([\s\S]*?);\n/g)) aliases[m[1]] = m[3].trim();
  return { interfaces, aliases };
}

const DECL = declarations();
/** interface → fields seen in real payloads, to find declared fields no server sends. */
const seen = new Map();

/** Checks `value` against the TypeScript type expression `type`; returns the problems found. */
function check(value, type, path) {
  type = type.trim();
  const union = splitTop(type, "|");
  if (union.length > 1) {
    const problems = union.map((t) => check(value, t, path));
    return problems.some((p) => p.length === 0) ? [] : [`${path}: ${JSON.stringify(value)} is none of ${type}`];
  }
  if (type.startsWith("[") && type.endsWith("]")) {
    const items = splitTop(type.slice(1, -1), ",");
    if (!Array.isArray(value) || value.length !== items.length) return [`${path}: expected a tuple ${type}, got ${JSON.stringify(value)}`];
    return items.flatMap((t, i) => check(value[i], t, `${path}[${i}]`));
  }
  if (type.endsWith("[]")) {
    if (!Array.isArray(value)) return [`${path}: expected an array (${type}), got ${JSON.stringify(value)}`];
    return value.flatMap((v, i) => check(v, type.slice(0, -2), `${path}[${i}]`));
  }
  if (/^".*"$/.test(type)) return value === JSON.parse(type) ? [] : [`${path}: expected ${type}, got ${JSON.stringify(value)}`];
  if (["number", "string", "boolean"].includes(type)) {
    return typeof value === type ? [] : [`${path}: expected ${type}, got ${JSON.stringify(value)}`];
  }
  if (type === "true") return value === true ? [] : [`${path}: expected true, got ${JSON.stringify(value)}`];
  if (type === "object") return typeof value === "object" && value !== null ? [] : [`${path}: expected an object`];
  if (type.startsWith("{")) return checkObject(value, members(type.slice(1, -1)), path, null);
  if (DECL.interfaces[type]) return checkObject(value, DECL.interfaces[type], path, type);
  if (DECL.aliases[type]) return check(value, DECL.aliases[type], path);
  return [`${path}: protocol.ts type ${type} is not one this test can read`];
}

function checkObject(value, fields, path, name) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${path}: expected an object, got ${JSON.stringify(value)}`];
  const problems = [];
  for (const key of Object.keys(value)) {
    if (!fields[key]) problems.push(`${path}.${key}: sent by the server, missing from ${name ?? "the type"} in protocol.ts`);
  }
  for (const [key, field] of Object.entries(fields)) {
    if (!(key in value)) {
      if (!field.optional) problems.push(`${path}.${key}: required in protocol.ts, not sent`);
      continue;
    }
    if (name) seen.set(name, (seen.get(name) ?? new Set()).add(key));
    problems.push(...check(value[key], field.type, `${path}.${key}`));
  }
  return problems;
}

/** The ack type of a client event, from `ack: Reply<T>`. */
function replyType(event) {
  const signature = DECL.interfaces.ClientToServerEvents[event]?.type ?? "";
  const found = /ack: Reply<([\s\S]*)>\s*,?\s*\)\s*=>/.exec(signature);
  assert.ok(found, `protocol.ts: no Reply<…> for ${event}`);
  return found[1];
}

/** The payload type of a server event, from `(x: T) => void`. */
function eventType(event) {
  const signature = DECL.interfaces.ServerToClientEvents[event]?.type ?? "";
  const found = /^\(\w+: ([\s\S]*)\) => void$/.exec(signature);
  assert.ok(found, `protocol.ts: cannot read the ${event} event's type`);
  return found[1];
}

/** An answer against `Ack<T>`: `{ ok: true } & T`, or `{ ok: false, error: AckError }`. */
function checkAck(event, ack) {
  const { ok, ...rest } = ack;
  if (ok === false) return check(rest, "{ error: AckError }", `${event} answer`);
  assert.equal(ok, true, `${event} answer has ok: ${JSON.stringify(ack)}`);
  return check(rest, replyType(event), `${event} answer`);
}

// ---------- Real payloads ----------

async function client(url, auth) {
  const socket = io(url, { transports: ["websocket"], reconnection: false, auth });
  const events = [];
  socket.onAny((event, payload) => events.push({ event, payload }));
  const session = await new Promise((done, fail) => {
    socket.once("session", done);
    socket.once("connect_error", fail);
  });
  const emit = (event, payload) => socket.timeout(5000).emitWithAck(event, payload);
  const waitFor = async (event, test = () => true) => {
    for (let i = 0; i < 100; i++) {
      const found = events.find((e) => e.event === event && test(e.payload));
      if (found) return found.payload;
      await new Promise((done) => setTimeout(done, 50));
    }
    throw new Error(`no ${event} event`);
  };
  return { socket, session, events, emit, waitFor };
}

describe("protocol", () => {
  it("the browser sends exactly the events the server handles", () => {
    const { fromClient } = rustEvents();
    assert.ok(fromClient.length > 0, "found the server's event list");
    assert.deepEqual(Object.keys(DECL.interfaces.ClientToServerEvents).sort(), fromClient);
  });

  it("the browser listens for exactly the events the server sends", () => {
    const { fromServer } = rustEvents();
    assert.ok(fromServer.length > 0, "found the server's event list");
    assert.deepEqual(Object.keys(DECL.interfaces.ServerToClientEvents).sort(), fromServer);
  });

  describe("shapes", () => {
    let server;
    const clients = [];
    const answers = [];
    const events = [];
    before(async () => {
      server = await startServer();
      const connect = async (auth) => {
        const c = await client(server.url, auth);
        clients.push(c);
        return c;
      };
      const answer = async (c, event, payload) => {
        const ack = await c.emit(event, payload);
        answers.push({ event, ack });
        return ack;
      };
      const room = "shapes";
      const asha = await connect({ protocol: 2 });
      // Live room counts: subscribed before anyone joins, so every join below changes one.
      await answer(asha, "rooms", { subscribe: true });
      const bo = await connect({ protocol: 2 });
      const old = await connect({});
      await answer(asha, "join", { room, name: "asha" });
      await answer(old, "join", { room, name: "old" });
      await answer(bo, "join", { room, name: "bo" });
      await asha.waitFor("presence");
      const first = (await answer(asha, "message", { room, text: "first", clientId: "c-1" })).message;
      const reply = (await answer(bo, "message", { room, text: "a reply", replyTo: first.id })).message;
      await answer(asha, "edit", { room, id: first.id, text: "first, edited", clientId: "e-1" });
      await answer(bo, "react", { room, id: first.id, emoji: "👍" });
      await answer(asha, "delete", { room, id: reply.id }).catch(() => null);
      await answer(bo, "delete", { room, id: reply.id });
      bo.socket.emit("typing", { room, typing: true });
      await asha.waitFor("typing");
      await asha.waitFor("change", (c) => c.kind === "delete");
      await answer(asha, "history", { room, limit: 10 });
      await answer(asha, "history", { room, around: first.seq, limit: 2 });
      await answer(asha, "rooms", {});
      await asha.waitFor("counts");
      // Read markers: a read in one of asha's connections is told to her others, listed by reads, and in a join.
      const ashaElsewhere = await connect({ protocol: 2, token: asha.session.token });
      await answer(bo, "read", { room, seq: first.seq });
      await answer(asha, "read", { room, seq: first.seq });
      await ashaElsewhere.waitFor("read");
      await answer(asha, "reads", {});
      await answer(ashaElsewhere, "join", { room, name: "asha" });
      // Search, with the ranges of the words found.
      const found = await answer(bo, "search", { q: "first edited" });
      assert.equal(found.results.length, 1, "the edited message is found by its new text");
      // A direct conversation: opened by one, announced to the other, listed for both.
      await answer(asha, "dm", { userId: bo.session.userId });
      await bo.waitFor("conversation");
      await answer(bo, "conversations", {});
      // Away and back: a join with `since` answers the changes made meanwhile.
      const since = first.seq;
      await answer(bo, "join", { room, name: "bo", since });
      await answer(asha, "leave", { room });
      // An answer with `retryAfterMs`: a burst over the message limit.
      const burst = await connect({ protocol: 2 });
      await answer(burst, "join", { room: "burst", name: "burst" });
      const acks = await Promise.all(Array.from({ length: 60 }, (_, i) => burst.emit("message", { room: "burst", text: `m${i}` })));
      const limited = acks.find((a) => a.ok === false);
      assert.ok(limited, "the burst was rate limited");
      answers.push({ event: "message", ack: limited });
      await old.waitFor("message");
      for (const c of clients) events.push(...c.events.map((e) => ({ ...e, v1: c === old })));
    });
    after(async () => {
      for (const c of clients) c.socket.disconnect();
      await server?.stop();
      server?.cleanup();
    });

    it("every answer matches its Ack type in protocol.ts", () => {
      const problems = answers.flatMap(({ event, ack }) => checkAck(event, ack));
      assert.deepEqual(problems, []);
      for (const event of Object.keys(DECL.interfaces.ClientToServerEvents).filter((e) => e !== "typing")) {
        assert.ok(answers.some((a) => a.event === event && a.ack.ok), `an ok answer to ${event} was checked`);
      }
    });

    it("every server event matches its type in protocol.ts (message to version 1 as Message)", () => {
      const problems = events.flatMap(({ event, payload, v1 }) => {
        if (v1 && event === "message") return check(payload, "Message", "message (version 1)");
        if (v1) return [];
        return check(payload, eventType(event), event);
      });
      assert.deepEqual(problems, []);
      for (const event of Object.keys(DECL.interfaces.ServerToClientEvents)) {
        assert.ok(events.some((e) => e.event === event && !e.v1), `a ${event} event was checked`);
      }
    });

    it("every field protocol.ts declares is one a server really sends", () => {
      const unseen = [];
      for (const name of [
        "User", "Reaction", "Message", "MessageV2", "Change", "AckError", "JoinReply", "HistoryReply", "RoomCount", "Session",
        "Presence", "Typing", "Conversation", "ReadMarker", "SearchHit", "SearchReply", "Counts",
      ]) {
        for (const field of Object.keys(DECL.interfaces[name])) if (!seen.get(name)?.has(field)) unseen.push(`${name}.${field}`);
      }
      assert.deepEqual(unseen, []);
    });
  });
});
