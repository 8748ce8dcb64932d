/**
 * The connection banner: hidden while online, shown (and announced, via
 * role=status) while connecting slowly, disconnected or reconnecting, and
 * while offline, when the page shows what it saved (see saved.ts).
 */
import type { Connection } from "../state";
import { byId } from "./dom";

const WORDS: Record<Connection, string> = {
  online: "",
  connecting: "Connecting to the server…",
  reconnecting: "Connection lost. Reconnecting…",
  // Unsent messages say "Waiting for connection…" by themselves.
  offline: "You are offline: showing saved messages. Reconnecting…",
};

/** A first connection this quick needs no banner at all. */
const FIRST_CONNECT_GRACE_MS = 1500;

export class Banner {
  private readonly node = byId("banner");
  private readonly text = byId("banner-text");
  private readonly shownAfter = Date.now() + FIRST_CONNECT_GRACE_MS;
  private last: Connection | null = null;

  constructor() {
    window.setTimeout(() => this.render(this.last ?? "connecting"), FIRST_CONNECT_GRACE_MS + 50);
  }

  render(connection: Connection): void {
    this.last = connection;
    if (connection === "online" || (connection === "connecting" && Date.now() < this.shownAfter)) {
      this.node.hidden = true;
      return;
    }
    this.node.hidden = false;
    this.node.classList.toggle("offline", connection === "offline");
    this.text.textContent = WORDS[connection];
  }
}
