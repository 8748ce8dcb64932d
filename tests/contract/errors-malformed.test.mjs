// Error acks: every code a client can provoke, the order in which payloads
// are checked, and a battery of malformed payloads that must each get an
// error ack without crashing, stalling or disconnecting anyone.
//
// `unavailable` (storage or cluster down) cannot be forced from outside a
// running single-node server without faking the database, so it is not
// tested here; `rate_limited` is in limits.test.mjs.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertError, connect, uniqueRoom, useServer } from "./helpers.mjs";
import { battery, fill } from "./malformed-payloads.mjs";

const server = useServer();

/** A client joined to a fresh room. */
async function member(name = "member", options = {}) {
  const room = uniqueRoom();
  const client = await connect(server, options);
  await client.join(room, name);
  return { room, client };
}

const badRooms = [
  ["an empty room", ""],
  ["a blank room", "   "],
  ["a room of 49 characters", "r".repeat(49)],
  ["a room with a NUL", "a\u0000b"],
  ["a room with a newline", "a\nb"],
  ["a room with a tab inside", "a\tb"],
  ["a room with DEL", "a\u007fb"],
  ["a room with a C1 control", "a\u0085b"],
];

describe("invalid_room", () => {
  for (const [label, room] of badRooms) {
    test(`${label} is invalid_room for join and message`, async () => {
      const client = await connect(server);
      assertError(await client.emit("join", { room, name: "someone" }), "invalid_room", "join");
      assertError(await client.emit("message", { room, text: "hi" }), "invalid_room", "message");
    });

    // The room is checked before membership, so a bad room is invalid_room
    // even from a connection that is in no room at all.
    test(`${label} is invalid_room for history, leave and typing`, async () => {
      const client = await connect(server);
      for (const [event, payload] of [
        ["history", { room }], ["leave", { room }], ["typing", { room, typing: true }],
      ]) {
        assertError(await client.emit(event, payload), "invalid_room", event);
      }
    });
  }

  test("a room of 48 characters, counted in characters, is accepted", async () => {
    const client = await connect(server);
    const ascii = `${uniqueRoom("x")}-`.padEnd(48, "r");
    assert.equal((await client.join(ascii, "someone")).room, ascii);
    const wide = `${uniqueRoom("ü")}-`.padEnd(48, "ü");
    assert.equal((await client.join(wide, "someone")).room, wide);
  });

  test("a room is trimmed before it is checked and answered in lower case", async () => {
    const client = await connect(server);
    const base = uniqueRoom("Çay-ÖZEL");
    const padded = `   ${base.padEnd(48, "R")}\t `;
    const ack = await client.join(padded, "someone");
    assert.equal(ack.room, base.padEnd(48, "R").toLowerCase());
    const message = await client.say(padded, "hi");
    assert.equal(message.room, ack.room);
  });
});

const badNames = [
  ["an empty name", ""],
  ["a blank name", " \t "],
  ["a name of 33 characters", "n".repeat(33)],
  ["a name of 33 accented characters", "é".repeat(33)],
  ["a name with a NUL", "a\u0000b"],
  ["a name with a newline", "first\nsecond"],
  ["a name with an escape", "evil\u001b[31m"],
];

describe("invalid_name", () => {
  for (const [label, name] of badNames) {
    test(`${label} is invalid_name`, async () => {
      const client = await connect(server);
      assertError(await client.emit("join", { room: uniqueRoom(), name }), "invalid_name");
    });
  }

  test("a name of 32 characters is accepted whatever their byte length", async () => {
    const client = await connect(server);
    for (const name of ["n".repeat(32), "é".repeat(32), "😀".repeat(32), "名".repeat(32)]) {
      assert.equal((await client.join(uniqueRoom(), name)).you.name, name);
    }
  });

  test("a name is trimmed and keeps its case", async () => {
    const client = await connect(server);
    assert.equal((await client.join(uniqueRoom(), "   Asha Rao  ")).you.name, "Asha Rao");
  });
});

describe("validation order", () => {
  test("join checks the payload, then the room, then the name, then whether it is taken", async () => {
    const { room } = await member("Taken");
    const client = await connect(server);
    assertError(await client.emit("join", { room: 5, name: "" }), "bad_request");
    assertError(await client.emit("join", { room: "", name: "" }), "invalid_room");
    assertError(await client.emit("join", { room: "", name: "Taken" }), "invalid_room");
    assertError(await client.emit("join", { room, name: "" }), "invalid_name");
    assertError(await client.emit("join", { room, name: "taken\n" + "x".repeat(40) }), "invalid_name");
    assertError(await client.emit("join", { room, name: "TAKEN" }), "name_taken");
  });

  test("message checks the payload, then the room, then membership, then the text", async () => {
    const { room, client } = await member();
    const outsider = await connect(server);
    assertError(await outsider.emit("message", { room: "", text: 5 }), "bad_request");
    assertError(await outsider.emit("message", { room: "", text: "" }), "invalid_room");
    assertError(await outsider.emit("message", { room, text: "" }), "not_in_room");
    assertError(await outsider.emit("message", { room, text: "x".repeat(2001) }), "not_in_room");
    assertError(await client.emit("message", { room, text: "" }), "invalid_message");
    assertError(await client.emit("message", { room, text: "x".repeat(2001) }), "too_large");
  });
});

describe("not_in_room", () => {
  test("message, history, leave and acked typing for a room not joined are not_in_room", async () => {
    const { room, client: insider } = await member("insider");
    const outsider = await connect(server);
    await outsider.join(uniqueRoom(), "elsewhere");
    assertError(await outsider.emit("message", { room, text: "hi" }), "not_in_room", "message");
    assertError(await outsider.emit("history", { room }), "not_in_room", "history");
    assertError(await outsider.emit("leave", { room }), "not_in_room", "leave");
    assertError(await outsider.emit("typing", { room, typing: true }), "not_in_room", "typing");
    await insider.assertNoEvent("message");
    await insider.assertNoEvent("typing");
  });

  test("after leaving, the room is not joined any more", async () => {
    const { room, client } = await member();
    await client.emit("leave", { room });
    assertError(await client.emit("message", { room, text: "hi" }), "not_in_room");
    assertError(await client.emit("history", { room }), "not_in_room");
    assertError(await client.emit("leave", { room }), "not_in_room");
  });

  test("membership belongs to the connection, not to the user", async () => {
    const { room, client: tab1 } = await member();
    const tab2 = await connect(server, { token: tab1.token });
    assertError(await tab2.emit("message", { room, text: "from the other tab" }), "not_in_room");
    assertError(await tab2.emit("history", { room }), "not_in_room");
  });
});

describe("malformed payloads", () => {
  const state = {};

  test("a member and a witness are ready before the battery", async () => {
    Object.assign(state, await member("member", { keep: true }));
    state.spare = uniqueRoom("spare");
    await state.client.join(state.spare, "member");
    state.witness = await connect(server, { keep: true });
    await state.witness.join(state.room, "witness");
    await state.client.say(state.room, "before the battery");
  });

  for (const [label, event, args] of battery) {
    test(`${label} gets bad_request`, async () => {
      const ack = await state.client.emit(event, ...fill(args, state));
      assertError(ack, "bad_request", label);
    });
  }

  test("after the battery the same connection and the others still work normally", async () => {
    const { client, witness, room } = state;
    assert.equal(client.received("disconnect").length, 0, "the battered connection was disconnected");
    const history = await client.emit("history", { room });
    assert.equal(history.ok, true);
    assert.deepEqual(history.messages.map((m) => m.text), ["before the battery"], "nothing was stored");
    await witness.assertNoEvent("message", (m) => m.text !== "before the battery", { within: 0 });
    await witness.assertNoEvent("presence", () => true, { within: 0 });
    const sent = await client.say(room, "after the battery");
    assert.deepEqual(await witness.waitFor("message", (m) => m.text === "after the battery"), sent);
    assert.equal((await client.join(uniqueRoom(), "member")).ok, true);
    assert.equal((await client.emit("rooms", {})).ok, true);
    const newcomer = await connect(server);
    assert.equal((await newcomer.join(room, "newcomer")).count, 3);
    client.close();
    witness.close();
  });
}, { concurrency: 1 });

// `rooms` needs no fields, so a bare `emit("rooms", ack)` may be read as
// `{}`: the contract allows either answer, as long as there is one.
test("rooms with no payload at all is answered", async () => {
  const client = await connect(server);
  const ack = await client.emit("rooms");
  if (ack.ok !== true) assertError(ack, "bad_request");
});

describe("events without the ack they need", () => {
  test("unknown events and events without an ack do not break the connection", async () => {
    const { room, client } = await member();
    client.send("nonsense", { room });
    client.send("join", { room: uniqueRoom(), name: "no-ack" });
    client.send("message", { room, text: 42 });
    client.send("history", "garbage");
    client.send("typing", { room, typing: "maybe" });
    client.send("typing");
    client.send("rooms");
    assert.equal((await client.emit("rooms", {})).ok, true);
    assert.equal((await client.say(room, "still talking")).text, "still talking");
    assert.equal(client.received("disconnect").length, 0);
  });
});
