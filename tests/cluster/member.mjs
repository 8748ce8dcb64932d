// A member of the cluster tests' rooms: a recording client that keeps its
// identity, reconnects by itself, and after every reconnect joins its rooms
// again with `since` (as the web app and the contract tell bots to do),
// keeping every message it received in the order it arrived.
import assert from "node:assert/strict";
import { brief, connect, sleep } from "../contract/helpers.mjs";

/** Reconnect quickly: the tests measure how fast a client comes back. */
const RECONNECTING = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 };

export class Member {
  /** Connects to `url` (options as for `connect`) and resolves once the session has arrived. */
  static async connect(url, options = {}) {
    return new Member(await connect(url, { ...RECONNECTING, ...options }));
  }

  constructor(client) {
    this.client = client;
    this.userId = client.userId;
    /** room → the name this member joined it with. */
    this.rooms = new Map();
    /** room → every message received, live or by catching up, in arrival order. */
    this.received = new Map();
    /** room → the `message` events alone, in arrival order. */
    this.live = new Map();
    /** room → this member's own acked messages. */
    this.sent = new Map();
    /** How many reconnects have been followed by a complete catch-up. */
    this.rejoins = 0;
    /** What went wrong while re-joining, for failure messages. */
    this.problems = [];
    // Come back as the same user, as the web app does with its stored token.
    client.socket.auth = { token: client.token };
    client.socket.on("message", (message) => {
      this.log(this.received, message.room).push(message);
      this.log(this.live, message.room).push(message);
    });
    client.socket.io.on("reconnect", () => this.rejoin());
  }

  log(map, room) {
    if (!map.has(room)) map.set(room, []);
    return map.get(room);
  }

  /** Joins `room` as `name` and keeps the history its ack carries. */
  async join(room, name) {
    const ack = await this.client.join(room, name);
    this.rooms.set(room, name);
    this.log(this.received, room).push(...ack.history);
    return ack;
  }

  /** Sends a message; resolves with the ack, keeping the message if it was stored. */
  async say(room, text) {
    const ack = await this.client.emit("message", { room, text });
    if (ack?.ok) this.log(this.sent, room).push(ack.message);
    return ack;
  }

  /** Joins `room` again with `since` = the last seq received, until nothing more is missing. */
  async catchUp(room) {
    const name = this.rooms.get(room);
    for (let more = true; more;) {
      const since = this.log(this.received, room).at(-1)?.seq ?? 0;
      const ack = await whileUnavailable(() => this.client.emit("join", { room, name, since }));
      assert.equal(ack?.ok, true, `re-join of ${room} with since ${since} failed: ${brief(ack)}`);
      this.log(this.received, room).push(...ack.history);
      more = ack.hasMore;
    }
  }

  async rejoin() {
    try {
      for (const room of this.rooms.keys()) await this.catchUp(room);
      this.rejoins += 1;
    } catch (error) {
      this.problems.push(error.message);
    }
  }

  /** Waits until `count` reconnects have been caught up on. */
  async rejoined(count = 1, timeout = 15_000) {
    for (const deadline = Date.now() + timeout; this.rejoins < count;) {
      if (Date.now() > deadline) {
        throw new Error(`expected ${count} reconnect(s) with a re-join within ${timeout} ms, got ${this.rejoins} ` +
          `(problems: ${brief(this.problems)}; events: ${brief(this.client.events.map((e) => e.event))})`);
      }
      await sleep(50);
    }
  }

  /** Seqs received in `room` (live or caught up), in arrival order. */
  seqs(room) {
    return this.log(this.received, room).map((message) => message.seq);
  }

  /**
   * Seqs of the `message` events alone, in arrival order: the contract's
   * order guarantee. A re-join's history may arrive after the first live
   * message past it (the ack follows the join into the room), so history
   * and live events together are only a set, merged by seq.
   */
  liveSeqs(room) {
    return this.log(this.live, room).map((message) => message.seq);
  }

  /** Seqs this member knows of in `room`: received or its own acked ones, sorted. */
  known(room) {
    const own = this.log(this.sent, room).map((message) => message.seq);
    return [...new Set([...this.seqs(room), ...own])].sort((a, b) => a - b);
  }

  close() {
    this.client.close();
  }
}

/** Calls `emit` again while it answers `unavailable` (Redis or PostgreSQL briefly away), for up to 10 s. */
export async function whileUnavailable(emit, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const ack = await emit();
    if (ack?.error?.code !== "unavailable" || Date.now() > deadline) return ack;
    await sleep(200);
  }
}
