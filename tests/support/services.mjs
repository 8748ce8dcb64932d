// The machine's PostgreSQL and Redis, as the cluster tests use them: each
// run gets its own database and its own Redis key prefix, so runs never see
// each other, and a service that is down fails the run with the command
// that starts it (never a skip). The fault tests get a private redis-server
// on a free port: the shared services on 5432 and 6379 are never stopped.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createConnection, createServer } from "node:net";
import { promisify } from "node:util";
import { killOnExit } from "./server.mjs";

const run = promisify(execFile);

export const POSTGRES = { host: "127.0.0.1", port: 5432, user: "postgres" };
export const REDIS_URL = process.env.BAATCHIT_TEST_REDIS ?? "redis://127.0.0.1:6379";

const HOW_TO_START = {
  PostgreSQL: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
  Redis: "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
};

/** Resolves if something accepts TCP connections at host:port within `timeout` ms. */
export function reachable(host, port, timeout = 1000) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeout, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Throws a clear error naming each shared service that is down and how to start it. */
export async function requireServices(redisUrl = REDIS_URL) {
  const redis = new URL(redisUrl);
  const checks = [
    ["PostgreSQL", POSTGRES.host, POSTGRES.port],
    ["Redis", redis.hostname, Number(redis.port || 6379)],
  ];
  const down = [];
  for (const [name, host, port] of checks) {
    if (!(await reachable(host, port))) down.push(`${name} is not reachable at ${host}:${port}; start it with: ${HOW_TO_START[name]}`);
  }
  if (down.length) throw new Error(`the cluster tests need PostgreSQL and Redis:\n  ${down.join("\n  ")}`);
}

/** A name no other run uses, for a database or a Redis prefix. */
export const uniqueName = (prefix) => `${prefix}_${randomBytes(6).toString("hex")}`;

const pgArgs = () => ["-h", POSTGRES.host, "-p", String(POSTGRES.port), "-U", POSTGRES.user];

/** Creates a fresh database and resolves with its URL. */
export async function createDatabase(name = uniqueName("baatchit")) {
  await run("createdb", [...pgArgs(), name]);
  return { name, url: `postgres://${POSTGRES.user}@${POSTGRES.host}:${POSTGRES.port}/${name}` };
}

/** Drops a database, closing any connection still open to it. */
export async function dropDatabase(name) {
  await run("dropdb", [...pgArgs(), "--if-exists", "--force", name]);
}

/** Whether a database of that name exists. */
export async function databaseExists(name) {
  const { stdout } = await run("psql", [...pgArgs(), "-d", "postgres", "-tAc",
    `SELECT count(*) FROM pg_database WHERE datname = '${name.replace(/'/g, "''")}'`]);
  return stdout.trim() === "1";
}

/** Runs one redis-cli command against `url` and resolves with its output. */
export async function redisCommand(url, ...args) {
  const { stdout } = await run("redis-cli", ["-u", url, ...args]);
  return stdout.trim();
}

/** Keys deleted from Redis by `forgetPrefix`, one Lua call, not a key per round trip. */
const DELETE_MATCHING = `
  local deleted = 0
  local cursor = "0"
  repeat
    local found = redis.call("SCAN", cursor, "MATCH", ARGV[1], "COUNT", 1000)
    cursor = found[1]
    for _, key in ipairs(found[2]) do deleted = deleted + redis.call("DEL", key) end
  until cursor == "0"
  return deleted`;

/** Deletes every Redis key that starts with `prefix`. */
export async function forgetPrefix(url, prefix) {
  return redisCommand(url, "EVAL", DELETE_MATCHING, "0", `${globPattern(prefix)}*`);
}

/** How many Redis keys start with `prefix`. */
export async function countKeys(url, prefix) {
  const output = await redisCommand(url, "--scan", "--pattern", `${globPattern(prefix)}*`);
  return output === "" ? 0 : output.split("\n").length;
}

/** `prefix` with Redis glob characters escaped. */
const globPattern = (prefix) => prefix.replace(/[*?[\]\\]/g, "\\$&");

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a private redis-server (nothing kept on disk) on a free port, for
 * tests that stop or restart Redis. `restart()` comes back on the same
 * port, empty, as a Redis without persistence does.
 */
export async function startPrivateRedis() {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child = await launchRedis(port);
  return {
    url,
    port,
    /** Stops it hard (SIGKILL), as a crash would. */
    async kill() {
      await stopChild(child, "SIGKILL");
    },
    /** Starts it again on the same port after a stop. */
    async start() {
      child = await launchRedis(port);
    },
    /** Kills it, waits `downMs`, and starts it again. */
    async restart({ downMs = 0 } = {}) {
      await stopChild(child, "SIGKILL");
      if (downMs) await new Promise((done) => setTimeout(done, downMs));
      child = await launchRedis(port);
    },
    async stop() {
      await stopChild(child, "SIGTERM");
    },
  };
}

async function launchRedis(port) {
  const child = spawn("redis-server", [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  killOnExit(child);
  let output = "";
  const collect = (chunk) => { output += chunk; };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
    if (child.exitCode !== null) break;
    if (await reachable("127.0.0.1", port, 200)) return child;
    await new Promise((done) => setTimeout(done, 50));
  }
  child.kill("SIGKILL");
  await exited;
  throw new Error(`redis-server did not start on port ${port}:\n${output}`);
}

/** Sends `signal` unless the process is already gone; resolves once it is. */
export async function stopChild(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}
