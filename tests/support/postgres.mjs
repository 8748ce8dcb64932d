// PostgreSQL for the tests that need it: a database of their own on the
// machine's shared server, or a private server they may stop and start.
// The shared server (127.0.0.1:5432) is never stopped.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Where `initdb` and `pg_ctl` are. */
export const PG_BIN = process.env.BAATCHIT_PG_BIN ?? "/usr/lib/postgresql/15/bin";

/** The machine's shared server: trust auth, user `postgres`. */
export const SHARED = { host: "127.0.0.1", port: 5432, user: "postgres" };

const START_HINT = "start it with `pg_ctlcluster --skip-systemctl-redirect 15 main start`";

/**
 * Creates a fresh database on a running server (the shared one unless
 * told); resolves with `{ name, url, drop() }`. Fails with a clear message
 * when the server does not answer.
 */
export async function createDatabase(server = SHARED) {
  const where = ["-h", server.host, "-p", String(server.port), "-U", server.user];
  try {
    await run("pg_isready", ["-q", ...where]);
  } catch {
    throw new Error(`PostgreSQL not reachable at ${server.host}:${server.port}: ${START_HINT}`);
  }
  const name = `baatchit_test_${randomBytes(8).toString("hex")}`;
  await run("createdb", [...where, name]);
  return {
    name,
    url: `postgres://${server.user}@${server.host}:${server.port}/${name}`,
    /** Drops the database, closing any connection still open to it. */
    drop: () => run("dropdb", [...where, "--force", "--if-exists", name]),
  };
}

/**
 * Starts a private PostgreSQL server in a temporary folder, on a free port,
 * that a test may stop and start at will. Resolves with
 * `{ port, url(db), stop(), start(), destroy() }`. As root, the server runs
 * as the `postgres` user (PostgreSQL refuses to run as root).
 */
export async function startPrivatePostgres() {
  const dir = mkdtempSync(join(tmpdir(), "baat-chit-pg-"));
  if (process.getuid?.() === 0) chownSync(dir, await id("-u"), await id("-g"));
  const data = join(dir, "data");
  await pgTool("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  // fsync off: a stop here kills processes, not the machine, so commits
  // stay in the OS; it spares the shared disk.
  const settings = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const instance = {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    /** Starts (again), waiting until it accepts connections. */
    start: () => pgTool("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-o", settings, "-w", "-t", "60", "start"]),
    /** Stops at once, as a crash would: connections are cut, no shutdown checkpoint. */
    stop: () => pgTool("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]),
    /** Stops it if running and removes its folder. */
    async destroy() {
      await instance.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await instance.start();
  } catch (error) {
    await instance.destroy();
    throw error;
  }
  return instance;
}

/** Runs a PostgreSQL server program, as `postgres` when we are root. */
function pgTool(tool, args) {
  const program = join(PG_BIN, tool);
  return process.getuid?.() === 0
    ? run("runuser", ["-u", "postgres", "--", program, ...args])
    : run(program, args);
}

async function id(flag) {
  const { stdout } = await run("id", [flag, "postgres"]);
  return Number(stdout.trim());
}

/** A TCP port nothing listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
