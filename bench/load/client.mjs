// A minimal Socket.IO v5 / Engine.IO v4 client over a plain WebSocket, for
// the load generator only. Why not socket.io-client? On a 2-core machine the
// load generator shares the CPU with the server under test; this client does
// a fraction of the work per packet (no reconnection logic, no parser
// classes, and `message` events are not JSON-parsed: the send timestamp is
// read straight out of the text), so more of the CPU is left for the server.
// It speaks only what the bench needs: websocket transport, default
// namespace, text packets, acks, and answering the server's pings.
import WebSocket from "ws";

/** Where the sender puts its timestamp in the text: `@T<epoch ms>@`. */
export const STAMP = "@T";

/** High-resolution wall-clock milliseconds, comparable across processes. */
export const now = () => performance.timeOrigin + performance.now();

export class Client {
  /**
   * `handlers`: { onMessage(stampMs | NaN), onPresence(payload), onClose(reason) }.
   * Resolves `ready` once the namespace is connected.
   */
  constructor(url, handlers = {}) {
    this.handlers = handlers;
    this.acks = new Map();
    this.nextAck = 0;
    this.open = false;
    this.closedByUs = false;
    const wsUrl = `${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
    // No compression: neither server compresses by default, and it costs CPU.
    this.ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.ws.once("error", reject);
      this.ws.once("close", () => reject(new Error("closed before connecting")));
    });
    this.ws.on("error", () => {}); // reported through `close`
    this.ws.on("message", (data) => this.receive(data.toString()));
    this.ws.on("close", (code) => {
      const wasOpen = this.open;
      this.open = false;
      for (const pending of this.acks.values()) pending.reject(new Error("closed"));
      this.acks.clear();
      if (wasOpen && !this.closedByUs) this.handlers.onClose?.(`websocket closed (${code})`);
    });
  }

  receive(packet) {
    switch (packet[0]) {
      case "0": // Engine.IO open: connect to the default namespace
        this.ws.send("40");
        return;
      case "2": // ping
        this.ws.send("3");
        return;
      case "4": // Engine.IO message carrying a Socket.IO packet
        break;
      default:
        return;
    }
    const type = packet[1];
    if (type === "2") {
      // Event. `message` is the hot path: only the timestamp is extracted.
      if (packet.startsWith('42["message"')) {
        const at = packet.indexOf(STAMP);
        this.handlers.onMessage?.(at < 0 ? NaN : parseFloat(packet.slice(at + STAMP.length)));
      } else if (packet.startsWith('42["presence"')) {
        this.handlers.onPresence?.(JSON.parse(packet.slice(2))[1]);
      }
    } else if (type === "3") {
      // Ack: `43<id>[payload]`
      const bracket = packet.indexOf("[");
      const id = Number(packet.slice(2, bracket));
      const pending = this.acks.get(id);
      if (pending) {
        this.acks.delete(id);
        pending.resolve(JSON.parse(packet.slice(bracket))[0]);
      }
    } else if (type === "0") {
      this.open = true;
      this.resolveReady();
    } else if (type === "1" || type === "4") {
      // Server disconnect or connect error.
      const wasOpen = this.open;
      this.open = false;
      if (wasOpen) this.handlers.onClose?.("io server disconnect");
      this.ws.close();
    }
  }

  /** Emits an event with an ack; resolves with the ack payload. */
  request(event, payload) {
    if (!this.open) return Promise.reject(new Error("not connected"));
    const id = this.nextAck++;
    // A socket that closes first rejects every pending ack (see `close`).
    const answer = new Promise((resolve, reject) => this.acks.set(id, { resolve, reject }));
    this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    return answer;
  }

  close() {
    this.closedByUs = true;
    this.open = false;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send("41");
    this.ws.close();
  }
}
