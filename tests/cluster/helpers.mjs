// Helpers for the cluster tests: a cluster per file, clients on a given
// process directly or through nginx, and members that reconnect and catch
// up with `since` the way the web app does.
import assert from "node:assert/strict";
import { after, afterEach, before } from "node:test";
import { ACK_TIMEOUT_MS, Client, brief, closeClients, connect, sleep } from "../contract/helpers.mjs";
import { startCluster } from "../support/cluster.mjs";

export { brief, closeClients, connect, sleep };

/** How long a cluster may take to start, nginx included. */
export const START_TIMEOUT_MS = 60_000;

/**
 * Registers hooks that start a cluster (`options` as for startCluster)
 * before the file's tests, close every client after each test and stop the
 * cluster at the end. Returns a handle filled in once `before` has run.
 */
export function useCluster(options = {}) {
  const handle = {};
  before(async () => {
    handle.cluster = await startCluster(options);
  }, { timeout: START_TIMEOUT_MS });
  afterEach(closeClients);
  after(async () => {
    closeClients();
    await handle.cluster?.stopAll();
  }, { timeout: START_TIMEOUT_MS });
  return handle;
}

/** The cookie that sends a request through nginx to process `node` ("n2"). */
export const stickTo = (node) => ({ cookie: `baatchit_node=${node}` });

/**
 * socket.io-client options for a polling client through nginx.
 * `withCredentials` gives engine.io-client its Node cookie jar, which keeps
 * the `baatchit_node` cookie each response sets: that is what keeps every
 * poll of a session on its process. `node` starts the session on that
 * process, as a returning browser that still has the cookie would.
 */
export function polling(node) {
  const options = { transports: ["polling"], withCredentials: true };
  if (node) options.extraHeaders = stickTo(node);
  return options;
}

/** Options for a websocket-only client through nginx, upgraded on `node`. */
export function websocket(node) {
  const options = { transports: ["websocket"], withCredentials: true };
  if (node) options.extraHeaders = stickTo(node);
  return options;
}

/** The process a client's session is on, as its cookie jar says (polling clients through nginx). */
export function nodeOf(client) {
  for (const [name, cookie] of client.socket.io.engine?._cookieJar?.cookies ?? []) {
    if (name === "baatchit_node") return cookie.value;
  }
  return undefined;
}

/**
 * Six clients, two on each of the three processes: one by websocket
 * straight to the process, one polling through nginx with its session on
 * that process. `extra` options go to every client.
 */
export async function everywhere(cluster, extra = {}) {
  const clients = [];
  for (const [i, url] of cluster.urls.entries()) {
    const node = cluster.nodes[i].name;
    clients.push(await connect(url, { transports: ["websocket"], ...extra }));
    clients.push(await connect(cluster.proxyUrl, { ...polling(node), ...extra }));
  }
  return clients;
}

/** Where a client is, for failure messages: "n2 by polling through nginx". */
export function describeClient(cluster, client) {
  const direct = cluster.urls.indexOf(client.url);
  if (direct >= 0) return `${cluster.nodes[direct].name} by ${client.transport ?? "websocket"}`;
  return `${nodeOf(client) ?? "?"} by ${client.transport ?? "polling"} through nginx`;
}

/** Awaits `promise`, prefixing its failure with who it happened to. */
export async function about(who, promise) {
  try {
    return await promise;
  } catch (error) {
    error.message = `${who}: ${error.message}`;
    throw error;
  }
}

/** Asserts `list` is strictly increasing: no duplicate, nothing out of order. */
export function assertIncreasing(list, who) {
  for (let i = 1; i < list.length; i += 1) {
    assert.ok(list[i] > list[i - 1],
      `${who}: expected strictly increasing seqs, got ${list[i - 1]} then ${list[i]} at position ${i} (${brief(list)})`);
  }
}

/** Asserts no seq came twice (live and again in a catch-up, say). */
export function assertUnique(list, who) {
  const twice = list.filter((seq, i) => list.indexOf(seq) !== i);
  assert.deepEqual(twice, [], `${who}: received twice: ${brief(twice.slice(0, 20))}`);
}

/** Asserts every seq in `expected` is in `got`, naming the first few missing. */
export function assertContainsAll(got, expected, who) {
  const have = new Set(got);
  const missing = expected.filter((seq) => !have.has(seq));
  assert.deepEqual(missing, [], `${who}: expected every acked message, missing seqs ${brief(missing.slice(0, 20))} of ${expected.length}`);
}

/** Retries `check` (which throws when unmet) until it passes or `timeout` ms pass; resolves with its result. */
export async function eventually(check, { timeout = 5000, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await sleep(interval);
    }
  }
}

/** Fetches one process's `/metrics` and reads one sample. */
export async function metric(url, name) {
  const response = await fetch(new URL("/metrics", url), { signal: AbortSignal.timeout(ACK_TIMEOUT_MS) });
  const line = (await response.text()).split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(/\s+/)[1]);
}

export { Client };
