// nginx in front of a test cluster, configured from deploy/nginx.conf
// itself (the file operators use), with its ports and paths substituted.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePort, reachable, stopChild } from "./services.mjs";
import { killOnExit } from "./server.mjs";

/** Debian's nginx (in /usr/sbin, not on every user's PATH), or NGINX. */
export const NGINX = process.env.NGINX ?? (existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx");
export const TEMPLATE = resolve(import.meta.dirname, "..", "..", "deploy", "nginx.conf");

/** The addresses deploy/nginx.conf is written for: the proxy, then n1, n2, n3. */
const PROXY_ADDRESS = "127.0.0.1:3000";
const NODE_ADDRESSES = ["127.0.0.1:3001", "127.0.0.1:3002", "127.0.0.1:3003"];
/** Where deploy/nginx.conf keeps its pid, logs and temp files. */
const TEMPLATE_PATHS = "/tmp/baat-chit-nginx";

/**
 * deploy/nginx.conf with the proxy on `listen` and n1, n2, n3 at `nodes`
 * (host:port each), writing its files under `dir`.
 */
export function renderConfig({ listen, nodes, dir }) {
  if (nodes.length !== NODE_ADDRESSES.length) {
    throw new Error(`deploy/nginx.conf is written for ${NODE_ADDRESSES.length} processes, not ${nodes.length}`);
  }
  const template = readFileSync(TEMPLATE, "utf8");
  for (const address of [PROXY_ADDRESS, ...NODE_ADDRESSES, TEMPLATE_PATHS]) {
    if (!template.includes(address)) throw new Error(`${TEMPLATE} no longer mentions ${address}`);
  }
  const substitutes = new Map([[PROXY_ADDRESS, listen], ...NODE_ADDRESSES.map((a, i) => [a, nodes[i]])]);
  return template
    .replace(/127\.0\.0\.1:300[0-3]\b/g, (address) => substitutes.get(address))
    .replaceAll(TEMPLATE_PATHS, join(dir, "nginx"));
}

/**
 * Starts nginx in the foreground on a free port in front of `nodes`
 * (host:port of n1, n2, n3), with its files in `dir`. Resolves once it
 * accepts connections.
 */
export async function startNginx({ nodes, dir }) {
  const port = await freePort();
  const config = join(dir, "nginx.conf");
  writeFileSync(config, renderConfig({ listen: `127.0.0.1:${port}`, nodes, dir }));
  const child = spawn(NGINX, ["-c", config, "-g", "daemon off;"], { stdio: ["ignore", "pipe", "pipe"] });
  killOnExit(child);
  let output = "";
  const collect = (chunk) => { output += chunk; };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const failed = new Promise((resolveFailure) => {
    child.once("error", (error) => resolveFailure(`cannot run ${NGINX}: ${error.message} (apt-get install nginx)`));
    child.once("exit", (code) => resolveFailure(`nginx exited with ${code}: ${output}${errorLog(dir)}`));
  });
  const failure = await Promise.race([failed, waitUntilReachable(port)]);
  if (failure) {
    await stopChild(child, "SIGKILL");
    throw new Error(failure);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    config,
    /** nginx's error log so far. */
    logs: () => errorLog(dir),
    /** Stops at once (SIGTERM: an open websocket would hold a graceful quit for up to an hour). */
    stop: () => stopChild(child, "SIGTERM"),
  };
}

/** Resolves with undefined once `port` accepts connections, or with why not. */
async function waitUntilReachable(port) {
  for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
    if (await reachable("127.0.0.1", port, 200)) return undefined;
    await new Promise((done) => setTimeout(done, 25));
  }
  return `nginx did not listen on ${port} within 5 s`;
}

function errorLog(dir) {
  try {
    return readFileSync(join(dir, "nginx-error.log"), "utf8");
  } catch {
    return "";
  }
}
