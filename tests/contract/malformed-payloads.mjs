// The malformed payloads errors-malformed.test.mjs sends, one per row:
// [label, event, args], where args are what is emitted before the ack.
// Every one of them must be answered with `bad_request`.

// `ROOM` is replaced by a room the connection has joined; `SPARE` by another
// one, for payloads that would leave or write to the room if accepted.
const ROOM = Symbol("room");
const SPARE = Symbol("spare");
const deep = { a: { b: { c: [1, { d: "deep" }] } } };
export const battery = [
  // no payload, or a payload that is not an object
  ...["join", "leave", "message", "history", "typing"].map((event) =>
    [`${event} with no payload at all`, event, []]),
  ...["join", "leave", "message", "history", "typing", "rooms"].flatMap((event) => [
    [`${event} with a null payload`, event, [null]],
    [`${event} with a string payload`, event, ["general"]],
    [`${event} with a number payload`, event, [42]],
    [`${event} with a boolean payload`, event, [true]],
    [`${event} with an array payload`, event, [[ROOM, "name"]]],
  ]),
  ["join with an empty object", "join", [{}]],
  ["join without a name", "join", [{ room: ROOM }]],
  ["join without a room", "join", [{ name: "someone" }]],
  ["join with a number as room", "join", [{ room: 42, name: "someone" }]],
  ["join with a huge number as room", "join", [{ room: 1e300, name: "someone" }]],
  ["join with a null room", "join", [{ room: null, name: "someone" }]],
  ["join with an array as room", "join", [{ room: [ROOM], name: "someone" }]],
  ["join with an object as room", "join", [{ room: { name: ROOM }, name: "someone" }]],
  ["join with a number as name", "join", [{ room: ROOM, name: 7 }]],
  ["join with a nested object as name", "join", [{ room: ROOM, name: deep }]],
  ["join with a boolean as name", "join", [{ room: ROOM, name: false }]],
  ["join with a negative since", "join", [{ room: ROOM, name: "someone", since: -1 }]],
  ["join with a fractional since", "join", [{ room: ROOM, name: "someone", since: 1.5 }]],
  ["join with a string since", "join", [{ room: ROOM, name: "someone", since: "10" }]],
  ["join with a huge since", "join", [{ room: ROOM, name: "someone", since: 1e300 }]],
  ["join with a since past 64 bits", "join", [{ room: ROOM, name: "someone", since: 2 ** 70 }]],
  ["join with an object as since", "join", [{ room: ROOM, name: "someone", since: { seq: 1 } }]],
  ["leave with an empty object", "leave", [{}]],
  ["leave with a number as room", "leave", [{ room: 12 }]],
  ["leave with a null room", "leave", [{ room: null }]],
  ["leave with an array as room", "leave", [{ room: [ROOM] }]],
  ["message with an empty object", "message", [{}]],
  ["message without text", "message", [{ room: ROOM }]],
  ["message without a room", "message", [{ text: "hi" }]],
  ["message with a number as room", "message", [{ room: 3, text: "hi" }]],
  ["message with a number as text", "message", [{ room: ROOM, text: 12 }]],
  ["message with a null text", "message", [{ room: ROOM, text: null }]],
  ["message with a nested object as text", "message", [{ room: ROOM, text: deep }]],
  ["message with an array as text", "message", [{ room: ROOM, text: ["hi", "there"] }]],
  ["message with a boolean as text", "message", [{ room: ROOM, text: true }]],
  ["message with binary text", "message", [{ room: ROOM, text: Buffer.from("hi") }]],
  ["message with an empty clientId", "message", [{ room: ROOM, text: "hi", clientId: "" }]],
  ["message with a clientId of 65 characters", "message", [{ room: ROOM, text: "hi", clientId: "c".repeat(65) }]],
  ["message with a number as clientId", "message", [{ room: ROOM, text: "hi", clientId: 123 }]],
  ["message with an object as clientId", "message", [{ room: ROOM, text: "hi", clientId: { id: "x" } }]],
  ["message with an array as clientId", "message", [{ room: ROOM, text: "hi", clientId: ["x"] }]],
  ["history with an empty object", "history", [{}]],
  ["history with a number as room", "history", [{ room: 9 }]],
  ["history with a negative before", "history", [{ room: ROOM, before: -1 }]],
  ["history with a fractional before", "history", [{ room: ROOM, before: 2.5 }]],
  ["history with a string before", "history", [{ room: ROOM, before: "10" }]],
  ["history with a before past 64 bits", "history", [{ room: ROOM, before: 2 ** 64 }]],
  ["history with a negative after", "history", [{ room: ROOM, after: -5 }]],
  ["history with a fractional after", "history", [{ room: ROOM, after: 0.1 }]],
  ["history with a huge after", "history", [{ room: ROOM, after: 1e300 }]],
  ["history with before and after together", "history", [{ room: ROOM, before: 10, after: 1 }]],
  ["history with before and after both zero", "history", [{ room: ROOM, before: 0, after: 0 }]],
  ["history with a zero limit", "history", [{ room: ROOM, limit: 0 }]],
  ["history with a negative limit", "history", [{ room: ROOM, limit: -10 }]],
  ["history with a fractional limit", "history", [{ room: ROOM, limit: 2.5 }]],
  ["history with a string limit", "history", [{ room: ROOM, limit: "10" }]],
  ["history with an object as limit", "history", [{ room: ROOM, limit: { max: 5 } }]],
  ["typing with an empty object", "typing", [{}]],
  ["typing without typing", "typing", [{ room: ROOM }]],
  ["typing without a room", "typing", [{ typing: true }]],
  ["typing with a string as typing", "typing", [{ room: ROOM, typing: "yes" }]],
  ["typing with a number as typing", "typing", [{ room: ROOM, typing: 1 }]],
  ["typing with a null typing", "typing", [{ room: ROOM, typing: null }]],
  ["typing with a number as room", "typing", [{ room: 5, typing: true }]],
  // every field present, but as an array instead of an object
  ["join with its fields in an array", "join", [[SPARE, "someone", null]]],
  ["message with its fields in an array", "message", [[SPARE, "positional", null]]],
  ["history with its fields in an array", "history", [[SPARE, null, null, 5]]],
  ["typing with its fields in an array", "typing", [[SPARE, true]]],
  ["rooms with an empty array", "rooms", [[]]],
  ["leave with its field in an array", "leave", [[SPARE]]],
];

/** Replaces the ROOM placeholder, at any depth, with a real room. */
export function fill(value, rooms) {
  if (value === ROOM) return rooms.room;
  if (value === SPARE) return rooms.spare;
  if (Array.isArray(value)) return value.map((item) => fill(item, rooms));
  if (value && typeof value === "object" && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fill(item, rooms)]));
  }
  return value;
}
