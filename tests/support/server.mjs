// Starts the real `baat-chit` binary on an ephemeral port with a fresh
// SQLite file (or the database URL it is given), for the contract, browser
// and cluster suites.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** The binary under test: BAATCHIT_BIN, or the debug build. */
export const BINARY = process.env.BAATCHIT_BIN ?? join(ROOT, "target", "debug", "baat-chit");

const running = new Set();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Kills `child` if this test process exits first, so no server outlives its run. */
export function killOnExit(child) {
  running.add(child);
  child.once("exit", () => running.delete(child));
}

/**
 * Starts a server and resolves once it prints its address.
 * `args` are extra command-line flags; `env` extra environment variables;
 * `dir` reuses a data folder (to restart on the same database file);
 * `database` is a full database URL used instead of the folder's SQLite
 * file; `name` labels its logs.
 */
export async function startServer({ args = [], env = {}, dir, listen = "127.0.0.1:0", database, name } = {}) {
  const dataDir = dir ?? mkdtempSync(join(tmpdir(), "baat-chit-"));
  const dbPath = join(dataDir, "baat-chit.db");
  const child = spawn(
    BINARY,
    ["--listen", listen, "--database", database ?? `sqlite://${dbPath}`, ...args],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn", ...env } },
  );
  killOnExit(child);
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (process.env.BAATCHIT_SHOW_LOGS) process.stderr.write(name ? `[${name}] ${chunk}` : chunk);
  });
  const url = await new Promise((resolveUrl, reject) => {
    let listening = false;
    const fail = (error) => {
      if (listening) return;
      if (!dir) rmSync(dataDir, { recursive: true, force: true });
      reject(error);
    };
    let stdout = "";
    const onData = (chunk) => {
      stdout += chunk;
      const found = /listening on (http:\/\/\S+)/.exec(stdout);
      if (found) {
        listening = true;
        child.stdout.off("data", onData);
        resolveUrl(found[1]);
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => fail(new Error(`server exited with ${code} before listening:\n${stderr}`)));
    child.once("error", (error) => fail(new Error(`cannot run ${BINARY}: ${error.message} (run \`cargo build\`)`)));
  });
  const exited = new Promise((done) => child.once("exit", (code, signal) => done({ code, signal })));
  return {
    url,
    port: Number(new URL(url).port),
    dir: dataDir,
    dbPath,
    process: child,
    logs: () => stderr,
    /** Graceful stop (SIGTERM), resolves when the process is gone. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
    /** Hard kill (SIGKILL), as a crash would. */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      return exited;
    },
    /** Removes the data folder; call after stop(). */
    cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
