// The Node.js baseline: the Socket.IO tutorial's chat, grown just enough to
// answer the events the load generator uses (`join`, `message`) with the
// same ack shapes as baat-chit (docs/protocol.md), and `join`'s `since` so
// the reconnect storm (S6) can run against it. Rooms, users and history
// live in memory; nothing is written to disk, there is no rate limit, no
// grace period and no presence batching: every join/leave is broadcast at
// once, as the tutorial does. That is the point of a baseline.
//
//   node bench/baseline/server.mjs [--listen 127.0.0.1:0]
//
// Prints `node-baseline listening on http://HOST:PORT` once ready.
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "socket.io";

const listenArg = process.argv.indexOf("--listen");
const [host, port] = (listenArg > 0 ? process.argv[listenArg + 1] : "127.0.0.1:0").split(":");

const HISTORY = 50; // messages returned by `join`, like baat-chit

/** room name (lower case) -> { users: Map<userId, User>, names: Set, messages: [], seq } */
const rooms = new Map();
let nextMessageId = 1;

const http = createServer();
// Same packet limit as baat-chit's default.
const io = new Server(http, { maxHttpBufferSize: 16384 });

const ok = (fields) => ({ ok: true, ...fields });
const refuse = (code, message) => ({ ok: false, error: { code, message } });
const validRoom = (room) => typeof room === "string" && room.trim().length >= 1 && room.trim().length <= 48;

const SINCE_LIMIT = 500;
const sinceHistory = (messages, since) => {
  const after = messages.filter((m) => m.seq > since);
  return { history: after.slice(0, SINCE_LIMIT), hasMore: after.length > SINCE_LIMIT };
};

io.on("connection", (socket) => {
  const userId = randomBytes(16).toString("hex");
  socket.emit("session", { userId, token: randomBytes(24).toString("base64url") });
  /** rooms this connection joined -> the User it is there */
  const joined = new Map();

  socket.on("join", (payload, ack) => {
    if (typeof ack !== "function") return;
    const { room: rawRoom, name, since } = payload ?? {};
    if (!validRoom(rawRoom)) return ack(refuse("invalid_room", "bad room name"));
    if (typeof name !== "string" || !name.trim()) return ack(refuse("invalid_name", "bad name"));
    const key = rawRoom.trim().toLowerCase();
    let room = rooms.get(key);
    if (!room) rooms.set(key, (room = { users: new Map(), names: new Set(), messages: [], seq: 0 }));
    let you = joined.get(key);
    if (!you) {
      const lower = name.trim().toLowerCase();
      if (room.names.has(lower)) return ack(refuse("name_taken", "that name is taken here"));
      you = { id: userId, name: name.trim() };
      room.users.set(userId, you);
      room.names.add(lower);
      joined.set(key, you);
      socket.join(key);
      socket.to(key).emit("presence", { room: key, joined: [you], left: [], count: room.users.size });
    }
    ack(
      ok({
        room: key,
        you,
        users: [...room.users.values()],
        count: room.users.size,
        // With `since`, what a reconnecting client missed (as the contract
        // says: at most 500), else the latest 50.
        ...(Number.isInteger(since)
          ? sinceHistory(room.messages, since)
          : { history: room.messages.slice(-HISTORY), hasMore: room.messages.length > HISTORY }),
      }),
    );
  });

  socket.on("message", (payload, ack) => {
    const { room: rawRoom, text, clientId } = payload ?? {};
    const reply = typeof ack === "function" ? ack : () => {};
    if (!validRoom(rawRoom)) return reply(refuse("invalid_room", "bad room name"));
    const key = rawRoom.trim().toLowerCase();
    const user = joined.get(key);
    if (!user) return reply(refuse("not_in_room", "join the room first"));
    if (typeof text !== "string" || !text.trim()) return reply(refuse("invalid_message", "empty message"));
    if (text.length > 2000) return reply(refuse("too_large", "message too long"));
    const room = rooms.get(key);
    const message = { id: nextMessageId++, room: key, seq: ++room.seq, user, text, ts: Date.now() };
    if (typeof clientId === "string") message.clientId = clientId;
    room.messages.push(message); // "stored": in memory only
    socket.to(key).emit("message", message);
    reply(ok({ message }));
  });

  socket.on("disconnect", () => {
    for (const [key, user] of joined) {
      const room = rooms.get(key);
      room.users.delete(userId);
      room.names.delete(user.name.toLowerCase());
      io.to(key).emit("presence", { room: key, joined: [], left: [user], count: room.users.size });
    }
  });
});

http.listen(Number(port), host, () => {
  const { address, port: bound } = http.address();
  console.log(`node-baseline listening on http://${address}:${bound}`);
});

// Stop cleanly on SIGTERM so the harness can wait for the exit.
process.on("SIGTERM", () => {
  io.close();
  process.exit(0);
});
