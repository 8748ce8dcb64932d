// Several baat-chit processes as one chat, for the cluster tests and the
// contract suite's cluster run: one fresh PostgreSQL database, one unique
// Redis key prefix, processes named n1, n2, … on ports of their own, and
// optionally nginx in front of them from deploy/nginx.conf.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNginx } from "./nginx.mjs";
import { startServer } from "./server.mjs";
import {
  REDIS_URL, createDatabase, dropDatabase, forgetPrefix, requireServices, uniqueName,
} from "./services.mjs";

/** How long a process gets to stop on SIGTERM before it is killed. */
const STOP_GRACE_MS = 5000;

/**
 * Starts a cluster and resolves with its handle.
 *
 * - `processes`: how many (deploy/nginx.conf, and so `nginx: true`, is for 3).
 * - `nginx`: also start nginx in front of them (`proxyUrl`).
 * - `shared: false`: plain independent processes, each on its own SQLite
 *   file with no Redis: the proxy and its stickiness without the cluster.
 * - `redisUrl`: another Redis than the machine's (a private one to restart).
 * - `storage`: another cluster's `storage`, to start on its database and
 *   Redis prefix (the cluster that created them drops them).
 * - `args`: extra flags for every process; `env`: extra environment variables.
 */
export async function startCluster({
  processes = 3, nginx = true, shared = true, redisUrl = REDIS_URL, storage, args = [], env = {},
} = {}) {
  const cluster = new Cluster();
  cluster.env = env;
  try {
    if (shared) await cluster.openStorage(storage ?? { redisUrl });
    const names = Array.from({ length: processes }, (_, i) => `n${i + 1}`);
    await Promise.all(names.map((name) => cluster.addNode(name, args)));
    if (nginx) await cluster.startProxy();
    return cluster;
  } catch (error) {
    await cluster.stopAll();
    throw error;
  }
}

export class Cluster {
  constructor() {
    /** `{ name, flags, server }` per process, in the order n1, n2, …; `server` is tests/support/server.mjs's handle. */
    this.nodes = [];
    /** The proxy's URL when nginx runs. */
    this.proxyUrl = undefined;
    /** `{ database, databaseName, redisUrl, redisPrefix }`, or undefined for plain processes. */
    this.storage = undefined;
    this.ownsStorage = false;
    this.proxy = undefined;
    this.proxyDir = undefined;
    /** Extra environment variables for every process. */
    this.env = {};
  }

  /** Each process's own URL, n1 first. */
  get urls() {
    return this.nodes.map((node) => node.server.url);
  }

  /** The index of the process named `name` ("n2" is 1). */
  indexOf(name) {
    const index = this.nodes.findIndex((node) => node.name === name);
    if (index < 0) throw new Error(`no process named ${name} (have ${this.nodes.map((n) => n.name)})`);
    return index;
  }

  async openStorage({ redisUrl, database, databaseName, redisPrefix }) {
    await requireServices(redisUrl);
    if (database) {
      this.storage = { database, databaseName, redisUrl, redisPrefix };
      return;
    }
    const created = await createDatabase();
    this.ownsStorage = true;
    this.storage = { database: created.url, databaseName: created.name, redisUrl, redisPrefix: uniqueName("bctest") };
  }

  async addNode(name, args) {
    const flags = ["--node-name", name, ...args];
    if (this.storage) flags.push("--redis", this.storage.redisUrl, "--redis-prefix", this.storage.redisPrefix);
    const node = { name, flags, server: undefined };
    this.nodes.push(node);
    node.server = await startServer({ args: flags, env: this.env, database: this.storage?.database, name });
  }

  async startProxy() {
    this.proxyDir = mkdtempSync(join(tmpdir(), "baat-chit-nginx-"));
    // Run as root, nginx's workers are "nobody" and must reach their temp folders in here.
    chmodSync(this.proxyDir, 0o755);
    const nodes = this.nodes.map((node) => new URL(node.server.url).host);
    this.proxy = await startNginx({ nodes, dir: this.proxyDir });
    this.proxyUrl = this.proxy.url;
  }

  /** Kills process `i` with SIGKILL, as a crash would; resolves once it is gone. */
  kill(i) {
    return this.nodes[i].server.kill();
  }

  /** Stops process `i` with SIGTERM (a clean shutdown); resolves once it is gone. */
  stop(i) {
    return stopWithin(this.nodes[i].server, STOP_GRACE_MS);
  }

  /** Starts process `i` again, stopped or not, on the same port (nginx knows it there). */
  async restart(i) {
    const node = this.nodes[i];
    await this.stop(i);
    node.server = await startServer({
      args: node.flags,
      env: this.env,
      database: this.storage?.database,
      dir: node.server.dir,
      listen: new URL(node.server.url).host,
      name: node.name,
    });
  }

  /** Kills every process (SIGKILL); storage and nginx stay. */
  killAll() {
    return Promise.all(this.nodes.map((_, i) => this.kill(i)));
  }

  /** Stops every process (SIGTERM); storage and nginx stay. */
  stopProcesses() {
    return Promise.all(this.nodes.map((_, i) => this.stop(i)));
  }

  /**
   * Stops the processes and nginx, then drops the database and deletes the
   * Redis keys this cluster created, and its temporary folders. Safe to
   * call more than once.
   */
  async stopAll() {
    await this.stopProcesses();
    await this.proxy?.stop();
    for (const node of this.nodes) node.server?.cleanup();
    if (this.proxyDir) rmSync(this.proxyDir, { recursive: true, force: true });
    if (this.ownsStorage) {
      const { databaseName, redisUrl, redisPrefix } = this.storage;
      await dropDatabase(databaseName);
      await forgetPrefix(redisUrl, redisPrefix);
      this.ownsStorage = false;
    }
  }

  /** Every process's log and nginx's error log, labelled, for failure messages. */
  logs() {
    const parts = this.nodes.map((node) => `--- ${node.name} ---\n${node.server?.logs() ?? ""}`);
    if (this.proxy) parts.push(`--- nginx ---\n${this.proxy.logs()}`);
    return parts.join("\n");
  }
}

/** SIGTERM, then SIGKILL if the process is still there after `ms`. */
async function stopWithin(server, ms) {
  if (!server) return;
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, ms, "late");
  });
  const outcome = await Promise.race([server.stop(), late]);
  clearTimeout(timer);
  if (outcome === "late") await server.kill();
}
