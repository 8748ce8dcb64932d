// Starts the real `baat-chit` binary on an ephemeral port with a fresh
// SQLite file, for the contract and browser suites.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** The binary under test: BAATCHIT_BIN, or the debug build. */
export const BINARY = process.env.BAATCHIT_BIN ?? join(ROOT, "target", "debug", "baat-chit");

/**
 * Starts a server and resolves once it prints its address.
 * `args` are extra command-line flags; `env` extra environment variables;
 * `dir` reuses a data folder (to restart on the same database file).
 */
export async function startServer({ args = [], env = {}, dir, listen = "127.0.0.1:0" } = {}) {
  const dataDir = dir ?? mkdtempSync(join(tmpdir(), "baat-chit-"));
  const dbPath = join(dataDir, "baat-chit.db");
  const child = spawn(
    BINARY,
    ["--listen", listen, "--database", `sqlite://${dbPath}`, ...args],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn", ...env } },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (process.env.BAATCHIT_SHOW_LOGS) process.stderr.write(chunk);
  });
  const url = await new Promise((resolveUrl, reject) => {
    let stdout = "";
    const onData = (chunk) => {
      stdout += chunk;
      const found = /listening on (http:\/\/\S+)/.exec(stdout);
      if (found) {
        child.stdout.off("data", onData);
        resolveUrl(found[1]);
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => reject(new Error(`server exited with ${code} before listening:\n${stderr}`)));
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
