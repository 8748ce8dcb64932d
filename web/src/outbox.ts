/**
 * Sending messages. Each message gets a clientId up front and shows as
 * pending at once. It is delivered when the room is joined; a connection
 * drop turns "sending" back into "waiting" and it is re-sent with the same
 * clientId after the re-join (the server makes that idempotent). It fails,
 * with a Retry, when the server refuses it or no connection comes back soon.
 */
import { explainSendError } from "./errors";
import type { ChatClient } from "./socket";
import { mergeMessages, type AppState, type Pending, type Store } from "./state";
import { randomId } from "./text";

/** A message waits this long for a connection before it is shown as failed. */
const WAIT_LIMIT_MS = 8000;

export class Outbox {
  constructor(
    private readonly client: ChatClient,
    private readonly store: Store<AppState>,
  ) {}

  private find(clientId: string): Pending | undefined {
    return this.store.state.room.pending.find((p) => p.clientId === clientId);
  }

  send(text: string, replyTo?: number): void {
    const p: Pending = { clientId: randomId(), text, status: "waiting", waitingSince: Date.now(), attempt: 0 };
    if (replyTo !== undefined) p.replyTo = replyTo;
    this.store.update((s) => s.room.pending.push(p));
    if (this.canDeliver()) void this.deliver(p);
  }

  retry(clientId: string): void {
    const p = this.find(clientId);
    if (!p) return;
    this.store.update(() => Object.assign(p, { status: "waiting", error: undefined, waitingSince: Date.now() }));
    if (this.canDeliver()) void this.deliver(p);
  }

  discard(clientId: string): void {
    this.store.update((s) => (s.room.pending = s.room.pending.filter((p) => p.clientId !== clientId)));
  }

  /** After a (re-)join: send everything that was waiting or in flight. */
  flush(): void {
    for (const p of this.store.state.room.pending) if (p.status !== "failed") void this.deliver(p);
  }

  /** The connection dropped: acks for in-flight messages will not come. */
  disconnected(): void {
    const now = Date.now();
    this.store.update((s) => {
      for (const p of s.room.pending) {
        if (p.status === "sending") Object.assign(p, { status: "waiting", waitingSince: now, attempt: p.attempt + 1 });
      }
    });
  }

  /** Called every second: messages that waited too long are shown as failed. */
  tick(now: number): void {
    const stale = this.store.state.room.pending.filter((p) => p.status === "waiting" && now - p.waitingSince > WAIT_LIMIT_MS);
    if (!stale.length) return;
    this.store.update(() => {
      for (const p of stale) Object.assign(p, { status: "failed", error: "no connection to the server." });
    });
  }

  private canDeliver(): boolean {
    return this.client.socket.connected && this.store.state.room.joined;
  }

  private async deliver(p: Pending): Promise<void> {
    const attempt = ++p.attempt;
    const room = this.store.state.room;
    this.store.update(() => Object.assign(p, { status: "sending", error: undefined }));
    const ack = await this.client.send(room.name, p.text, p.clientId, p.replyTo);
    // A newer attempt, a room switch or an echo via re-join has settled it already.
    if (p.attempt !== attempt || this.store.state.room !== room || !this.find(p.clientId)) return;
    this.store.update((s) => {
      if (ack.ok) {
        mergeMessages(s.room, [ack.message]);
        s.room.pending = s.room.pending.filter((q) => q.clientId !== p.clientId);
      } else {
        Object.assign(p, { status: "failed", error: explainSendError(ack.error) });
      }
    });
  }
}
