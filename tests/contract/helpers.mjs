// Shared helpers for the contract suite: a server per file, and a thin
// recording wrapper around the official socket.io-client.
//
// Every client records every event it receives from the moment it is
// created, so a test can never miss an event that arrived before it
// started waiting for it. `waitFor` and `assertNoEvent` look at that record.
//
// With BAATCHIT_CLUSTER=1 (`npm run test:contract:cluster`) the "server" is
// three processes sharing PostgreSQL and Redis, and each client a test
// creates connects to the next process in turn: the whole contract must
// hold across processes, not only within one.
import assert from "node:assert/strict";
import { after, afterEach, before } from "node:test";
import { io } from "socket.io-client";
import { startCluster } from "../support/cluster.mjs";
import { startServer } from "../support/server.mjs";

/** Whether this run is against a 3-process cluster. */
export const CLUSTER = process.env.BAATCHIT_CLUSTER === "1";
/** How long a server (or a whole cluster) may take to start. */
const START_TIMEOUT_MS = CLUSTER ? 60_000 : 10_000;

/** How long an ack or an expected event may take before the test fails. */
export const ACK_TIMEOUT_MS = 2000;
/** How long we listen to be sure something does not happen: well past the 100 ms presence batch. */
export const QUIET_MS = 300;

const openClients = new Set();
const keptClients = new Set();
let roomCounter = 0;

/** A room name no other test uses (≤ 48 characters). */
export function uniqueRoom(prefix = "room") {
  roomCounter += 1;
  return `${prefix}-${roomCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/**
 * Waits out the presence batch window (the contract allows batching changes
 * within 100 ms), so the next change is announced in an event of its own
 * rather than merged with the previous one.
 */
export const settle = () => sleep(150);

/**
 * Starts the server (a cluster with BAATCHIT_CLUSTER=1), failing fast if it
 * never prints its address. `args` are extra flags; `sameStorageAs` starts
 * on the storage of a server that was stopped, to test restarts; `env` adds
 * environment variables; `oneProcess` keeps a cluster's clients on its
 * first process, for what each process does on its own (limits per
 * process, the HTTP edge); `database`
 * is a database URL for a single process (ignored for a cluster).
 */
export async function launch({ args = [], env = {}, sameStorageAs, database, oneProcess = false } = {}) {
  const starting = CLUSTER
    ? launchCluster({ args, env, oneProcess, storage: sameStorageAs?.cluster.storage })
    : startServer({ args, env, dir: sameStorageAs?.dir, database });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`server did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  try {
    return await Promise.race([starting, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Three processes dressed as one server: each read of `url` gives the next
 * process's URL, so the clients of every test are spread round robin over
 * the processes. `stop` and `kill` act on every process; `cleanup` also
 * drops the cluster's database and Redis keys.
 */
async function launchCluster({ args, env, oneProcess, storage }) {
  const cluster = await startCluster({ processes: 3, nginx: false, args, env, storage });
  const urls = () => (oneProcess ? cluster.urls.slice(0, 1) : cluster.urls);
  let next = 0;
  return {
    cluster,
    get url() {
      const url = urls()[next % urls().length];
      next += 1;
      return url;
    },
    get urls() {
      return urls();
    },
    get port() {
      return oneProcess ? Number(new URL(cluster.urls[0]).port) : undefined;
    },
    /** The pinned process's child process (its pid, for /proc) and its log. */
    get process() {
      return oneProcess ? cluster.nodes[0].server.process : undefined;
    },
    logs: () => (oneProcess ? cluster.nodes[0].server.logs() : cluster.logs()),
    stop: () => cluster.stopProcesses(),
    kill: () => cluster.killAll(),
    cleanup: () => cluster.stopAll(),
  };
}

/** The URL of every process behind `server`: one, or each of a cluster's. */
export function processUrls(server) {
  return server.urls ?? [server.url];
}

/**
 * Registers hooks that start one server for the enclosing file or describe
 * block, close every client after each test and stop the server at the end.
 * Returns a handle filled in once the `before` hook has run.
 */
export function useServer(options = {}) {
  const handle = {};
  before(async () => {
    Object.defineProperties(handle, Object.getOwnPropertyDescriptors(await launch(options)));
  }, { timeout: START_TIMEOUT_MS + 5000 });
  afterEach(closeClients);
  after(async () => {
    closeClients();
    for (const client of keptClients) client.close();
    keptClients.clear();
    if (handle.stop) {
      await handle.stop();
      await handle.cleanup();
    }
  });
  return handle;
}

/** Disconnects every client the suite opened. */
export function closeClients() {
  for (const client of openClients) client.close();
  openClients.clear();
}

/** A socket.io-client connection that records everything it receives. */
export class Client {
  /**
   * `keep: true` leaves the client open across tests (close it yourself);
   * other options (`extraHeaders`, `localAddress`, …) go to `io()` as they are.
   */
  constructor(url, { token, auth, transports, reconnection = false, keep = false, ...rest } = {}) {
    /** The server (or process) this client connected to. */
    this.url = url;
    /** Every event received, in order: `{ event, args, at }`. */
    this.events = [];
    this.waiters = new Set();
    const options = { ...rest, forceNew: true, reconnection, timeout: ACK_TIMEOUT_MS };
    if (transports) options.transports = transports;
    if (auth !== undefined) options.auth = auth;
    else if (token !== undefined) options.auth = { token };
    this.socket = io(url, options);
    this.socket.onAny((event, ...args) => this.record(event, args));
    this.socket.on("connect_error", (error) => this.record("connect_error", [error]));
    this.socket.on("disconnect", (reason) => this.record("disconnect", [reason]));
    (keep ? keptClients : openClients).add(this);
  }

  record(event, args) {
    const entry = { event, args, at: Date.now() };
    this.events.push(entry);
    for (const waiter of this.waiters) waiter(entry);
  }

  get userId() {
    return this.session.userId;
  }

  get token() {
    return this.session.token;
  }

  /** Position in the record, to look only at what arrives afterwards. */
  mark() {
    return this.events.length;
  }

  /** First payloads of every recorded `event` matching `predicate`, from `since`. */
  received(event, predicate = () => true, since = 0) {
    return this.events
      .slice(since)
      .filter((entry) => entry.event === event && predicate(entry.args[0]))
      .map((entry) => entry.args[0]);
  }

  /** Waits for the first `event` (from `since`) whose payload matches. */
  async waitFor(event, predicate = () => true, { timeout = ACK_TIMEOUT_MS, since = 0 } = {}) {
    const [found] = await this.waitForCount(event, 1, predicate, { timeout, since });
    return found;
  }

  /** Waits until `count` matching `event`s have been recorded (from `since`). */
  waitForCount(event, count, predicate = () => true, { timeout = ACK_TIMEOUT_MS, since = 0 } = {}) {
    const matches = () => this.received(event, predicate, since);
    if (matches().length >= count) return Promise.resolve(matches().slice(0, count));
    return new Promise((resolve, reject) => {
      const waiter = (entry) => {
        if (entry.event !== event || !predicate(entry.args[0])) return;
        const found = matches();
        if (found.length >= count) {
          finish();
          resolve(found.slice(0, count));
        }
      };
      const timer = setTimeout(() => {
        finish();
        const got = this.received(event, () => true, since);
        reject(new Error(
          `expected ${count} matching "${event}" within ${timeout} ms, ` +
          `got ${matches().length} (all "${event}": ${brief(got)})`,
        ));
      }, timeout);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
    });
  }

  /** Fails if a matching `event` was recorded (from `since`) or arrives within `within` ms. */
  async assertNoEvent(event, predicate = () => true, { within = QUIET_MS, since = 0 } = {}) {
    await sleep(within);
    const found = this.received(event, predicate, since);
    assert.equal(found.length, 0, `unexpected "${event}": ${brief(found)}`);
  }

  /**
   * Waits out `within` ms, then asserts that exactly `count` matching
   * `event`s were recorded (from `since`): catches an event sent twice.
   * Resolves with their payloads.
   */
  async assertExactly(event, count, predicate = () => true, { within = QUIET_MS, since = 0 } = {}) {
    await sleep(within);
    const found = this.received(event, predicate, since);
    assert.equal(found.length, count, `expected exactly ${count} "${event}", got ${found.length}: ${brief(found)}`);
    return found;
  }

  /** Emits with an ack and resolves with the ack, or fails after `timeout`. */
  emit(event, ...args) {
    return this.emitWithTimeout(ACK_TIMEOUT_MS, event, ...args);
  }

  emitWithTimeout(timeout, event, ...args) {
    return new Promise((resolve, reject) => {
      this.socket.timeout(timeout).emit(event, ...args, (error, ack) => {
        if (error) reject(new Error(`no ack for "${event}" ${brief(args)} within ${timeout} ms`));
        else resolve(ack);
      });
    });
  }

  /** Emits without an ack. */
  send(event, ...args) {
    this.socket.emit(event, ...args);
  }

  /** Joins and asserts the ack is ok. */
  async join(room, name, extra = {}) {
    const ack = await this.emit("join", { room, name, ...extra });
    assert.equal(ack?.ok, true, `join ${room} as ${name} failed: ${brief(ack)}`);
    return ack;
  }

  /** Sends a message and asserts the ack is ok; resolves with the stored message. */
  async say(room, text, extra = {}) {
    const ack = await this.emit("message", { room, text, ...extra });
    assert.equal(ack?.ok, true, `message to ${room} failed: ${brief(ack)}`);
    return ack.message;
  }

  /** Client-side disconnect: sends a disconnect packet, as closing a tab does. */
  close() {
    this.socket.disconnect();
    openClients.delete(this);
  }

  /** Drops the transport without a disconnect packet, as a network loss does. */
  drop() {
    this.socket.io.engine.close();
    openClients.delete(this);
  }

  get transport() {
    return this.socket.io.engine?.transport?.name;
  }
}

/** Connects and resolves once the server's `session` has arrived. */
export async function connect(server, options = {}) {
  const client = new Client(server.url ?? server, options);
  client.session = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.waiters.delete(waiter);
      reject(new Error(`no session within ${ACK_TIMEOUT_MS} ms (events: ${brief(client.events)})`));
    }, ACK_TIMEOUT_MS);
    const handle = (entry) => {
      if (entry.event === "session") resolve(entry.args[0]);
      else if (entry.event === "connect_error") reject(new Error(`connect_error: ${connectError(entry.args[0])}`));
      else return false;
      clearTimeout(timer);
      client.waiters.delete(waiter);
      return true;
    };
    const waiter = (entry) => handle(entry);
    if (!client.events.some(handle)) client.waiters.add(waiter);
  });
  return client;
}

/** A fresh room with an observer already in it and its join announced. */
export async function roomWithObserver(server) {
  const room = uniqueRoom();
  const observer = await connect(server);
  await observer.join(room, "observer");
  await settle();
  return { room, observer };
}

/** Connects several clients at once. */
export function connectMany(server, count, options = {}) {
  return Promise.all(Array.from({ length: count }, () => connect(server, options)));
}

/** Sends `count` messages without waiting between them; resolves with the stored messages in send order. */
export async function sendMany(client, room, count, text = (i) => `message ${i}`) {
  const acks = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      client.emitWithTimeout(ACK_TIMEOUT_MS + count * 20, "message", { room, text: text(i) })),
  );
  for (const ack of acks) assert.equal(ack?.ok, true, `message failed: ${brief(ack)}`);
  return acks.map((ack) => ack.message);
}

/** Asserts an ack is an error with this code and a readable message. */
export function assertError(ack, code, context = "") {
  assert.equal(ack?.ok, false, `${context} expected error ${code}, got ${brief(ack)}`);
  assert.equal(ack.error?.code, code, `${context} expected ${code}, got ${brief(ack)}`);
  assert.equal(typeof ack.error.message, "string", `${context} error.message is not a string`);
  assert.ok(ack.error.message.length > 0, `${context} error.message is empty`);
}

/** Asserts the value is a `User`: exactly `{ id, name }`. */
export function assertUser(user, expected = {}) {
  assert.deepEqual(Object.keys(user ?? {}).sort(), ["id", "name"], `not a User: ${brief(user)}`);
  assert.equal(typeof user.id, "string");
  assert.equal(typeof user.name, "string");
  if (expected.id !== undefined) assert.equal(user.id, expected.id);
  if (expected.name !== undefined) assert.equal(user.name, expected.name);
}

/** Asserts the value is a `Message` with only the contract's fields. */
export function assertMessage(message) {
  const keys = Object.keys(message ?? {});
  const allowed = ["id", "room", "seq", "user", "text", "ts", "clientId"];
  for (const key of keys) assert.ok(allowed.includes(key), `unexpected field ${key} in ${brief(message)}`);
  assert.equal(typeof message.id, "number", `id in ${brief(message)}`);
  assert.equal(typeof message.seq, "number", `seq in ${brief(message)}`);
  assert.ok(Number.isInteger(message.seq) && message.seq >= 1, `seq in ${brief(message)}`);
  assert.equal(typeof message.room, "string");
  assert.equal(typeof message.text, "string");
  assert.equal(typeof message.ts, "number");
  assertUser(message.user);
}

/** The seqs of a list of messages. */
export const seqs = (messages) => messages.map((message) => message.seq);

/** Integers from `from` to `to` inclusive. */
export function range(from, to) {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** Short JSON for failure messages. */
export function brief(value) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text === undefined ? "undefined" : text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

/** Presence predicate: an event for `room` that lists `userId` in `side` ("joined" or "left"). */
export function presenceOf(room, side, userId) {
  return (event) => event?.room === room && event[side]?.some((user) => user.id === userId);
}

/** Fetches an HTTP path of the server. */
export function get(server, path) {
  return fetch(new URL(path, server.url), { signal: AbortSignal.timeout(ACK_TIMEOUT_MS) });
}

/**
 * A connect error with what engine.io-client knows of its cause: "xhr poll
 * error" alone does not say whether the request got an HTTP status (its
 * `description`; 0 when the request failed on the socket, whose error the
 * XHR keeps as its `statusText`) or what a websocket's error event said.
 */
function connectError(error) {
  const socketError = error?.context?.statusText;
  const detail = [error?.description, socketError instanceof Error ? socketError : undefined]
    .filter((cause) => cause !== undefined && cause !== null)
    .map(causeText)
    .join(", ");
  return detail ? `${error?.message} (${detail})` : `${error?.message}`;
}

function causeText(cause) {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  if (typeof cause === "object") return String(cause.message ?? cause.error?.message ?? cause.type);
  return String(cause);
}
