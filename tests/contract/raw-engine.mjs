// Raw Engine.IO requests, for what the official client will not do: send
// any `Origin` over polling, come from another loopback address, skip the
// namespace connect, send oversized bodies.
import http from "node:http";
import WebSocket from "ws";
import { ACK_TIMEOUT_MS, sleep } from "./helpers.mjs";

export const POLLING = "/socket.io/?EIO=4&transport=polling";
export const WEBSOCKET = "/socket.io/?EIO=4&transport=websocket";

/**
 * One HTTP request; resolves with `{ status, headers, body }`. `body` may
 * be a string or a function that writes the body itself (`(req) => …`).
 */
export function request(server, { method = "GET", path, headers = {}, body, localAddress, timeout = ACK_TIMEOUT_MS }) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, server.url), { method, headers, localAddress, timeout });
    req.once("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.once("end", () => {
        // A body the server refused unread must not be sent on.
        req.destroy();
        resolve({ status: res.statusCode, headers: res.headers, body: text });
      });
    });
    req.once("timeout", () => req.destroy(new Error(`${method} ${path.slice(0, 80)}: no answer within ${timeout} ms`)));
    // A server that answers before reading the whole body may reset the
    // connection while we still write; the answer is what counts.
    req.on("error", reject);
    if (typeof body === "function") body(req);
    else req.end(body);
  });
}

/** A polling handshake; `sid` is set when a session was opened. */
export async function pollingHandshake(server, { headers, localAddress } = {}) {
  const answer = await request(server, { path: POLLING, headers, localAddress });
  const open = answer.status === 200 && answer.body.startsWith("0") ? JSON.parse(answer.body.slice(1)) : null;
  return { ...answer, sid: open?.sid };
}

/** The path of requests of session `sid`. */
export const sessionPath = (sid) => `${POLLING}&sid=${encodeURIComponent(sid)}`;

/** Sends Engine.IO packets to a polling session. */
export function post(server, sid, body, { headers = {} } = {}) {
  const contentType = { "content-type": "text/plain;charset=UTF-8" };
  return request(server, { method: "POST", path: sessionPath(sid), headers: { ...contentType, ...headers }, body });
}

/** Joins the default namespace over polling; resolves once the server confirmed it. */
export async function connectNamespace(server, sid) {
  const sent = await post(server, sid, "40");
  if (sent.status !== 200) throw new Error(`namespace connect answered ${sent.status} ${sent.body}`);
  for (let polls = 0; polls < 5; polls += 1) {
    const { status, body } = await request(server, { path: sessionPath(sid) });
    if (status !== 200) throw new Error(`poll answered ${status} ${body}`);
    if (body.split("\x1e").some((packet) => packet.startsWith("40"))) return;
  }
  throw new Error("no namespace connect packet in 5 polls");
}

/** Joins the default namespace over an open raw websocket; resolves once the server confirmed it. */
export function connectNamespaceOver(socket) {
  return new Promise((resolve, reject) => {
    const onMessage = (data) => {
      if (!data.toString().startsWith("40")) return;
      socket.off("message", onMessage);
      resolve();
    };
    socket.on("message", onMessage);
    socket.once("close", () => reject(new Error("closed before the namespace connect")));
    socket.send("40");
  });
}

/** Closes a polling session the way a client does (a close packet). */
export async function closeSession(server, sid) {
  const answer = await post(server, sid, "1");
  if (answer.status !== 200) throw new Error(`close of ${sid} answered ${answer.status} ${answer.body}`);
}

/**
 * A websocket handshake with `ws`, which offers permessage-deflate.
 * Resolves with `{ status, headers, body }` when refused, or with
 * `{ status: 101, headers, socket, open }` once the server's open packet
 * has arrived (`open` is its JSON; `socket.closed` resolves on close).
 */
export function webSocketHandshake(server, { headers = {}, localAddress, path = WEBSOCKET } = {}) {
  const url = new URL(path, server.url.replace(/^http/, "ws"));
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, localAddress, perMessageDeflate: true, handshakeTimeout: ACK_TIMEOUT_MS });
    let upgrade;
    socket.closed = new Promise((done) => socket.once("close", (code) => done({ code, at: Date.now() })));
    socket.once("upgrade", (res) => (upgrade = res.headers));
    socket.once("message", (data) => {
      const text = data.toString();
      if (!text.startsWith("0")) reject(new Error(`expected an open packet, got ${text}`));
      resolve({ status: 101, headers: upgrade, socket, open: JSON.parse(text.slice(1)) });
    });
    socket.once("unexpected-response", (req, res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.once("end", () => {
        req.destroy();
        resolve({ status: res.statusCode, headers: res.headers, body: text });
      });
    });
    socket.once("error", (error) => reject(error));
  });
}

/** Retries `attempt` (resolving to a truthy value when done) for up to `timeout` ms. */
export async function eventually(attempt, { timeout = ACK_TIMEOUT_MS, every = 50, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const result = await attempt();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeout} ms`);
    await sleep(every);
  }
}
