/**
 * Sending messages. Each message gets a clientId up front, shows as pending
 * at once, and is kept in IndexedDB until the server acknowledges it, so a
 * message written offline survives closing the tab: the room's outbox is
 * restored with the room and sent, with the same clientIds, once the room
 * is joined. A connection drop turns "sending" back into "waiting"; a
 * refusal shows it as failed, with Retry and Discard.
 *
 * Never twice: a tab sends a room's outbox one message at a time under a
 * Web Lock per room, and skips a message another tab has already had
 * acknowledged (its entry is gone). The server's idempotency by clientId
 * is the backstop when locks are missing or a tab dies mid-send.
 */
import { explainSendError } from "./errors";
import { saved } from "./saved";
import type { ChatClient } from "./socket";
import { mergeMessages, type AppState, type Pending, type RoomState, type Store } from "./state";
import { randomId } from "./text";

export class Outbox {
  /** Messages to send, in order, and whether a drain is running. */
  private queue: Pending[] = [];
  private draining = false;
  /** The room whose pending messages mirror IndexedDB, and the clientIds kept there. */
  private kept: { room: RoomState; ids: Set<string> } | null = null;

  constructor(
    private readonly client: ChatClient,
    private readonly store: Store<AppState>,
  ) {
    store.subscribe((s) => this.forgetSettled(s.room));
  }

  private find(clientId: string): Pending | undefined {
    return this.store.state.room.pending.find((p) => p.clientId === clientId);
  }

  async send(text: string, replyTo?: number): Promise<void> {
    const room = this.store.state.room;
    // Connected, it goes out at once (after the write below): "Sending…" from the start.
    const status = this.canDeliver() ? "sending" : "waiting";
    const p: Pending = { clientId: randomId(), text, status, waitingSince: Date.now(), attempt: 0 };
    if (replyTo !== undefined) p.replyTo = replyTo;
    this.store.update(() => room.pending.push(p));
    this.keep(room, p.clientId);
    // Kept before it is sent: a tab closed mid-send re-sends it (the server dedups).
    await saved.putOutbox({ clientId: p.clientId, room: room.name, text, ...(replyTo === undefined ? {} : { replyTo }), createdAt: p.waitingSince });
    if (this.canDeliver()) this.enqueue([p]);
  }

  /** A room (re-)entered: its messages kept from earlier visits, waiting to be sent. */
  async restore(room: RoomState): Promise<void> {
    const entries = await saved.outbox(room.name);
    // Messages sent while this was reading are kept too.
    const sentMeanwhile = this.kept?.room === room ? this.kept.ids : [];
    this.kept = { room, ids: new Set([...sentMeanwhile, ...entries.map((e) => e.clientId)]) };
    if (!entries.length) return;
    this.store.update(() => {
      for (const e of entries) {
        if (room.pending.some((p) => p.clientId === e.clientId)) continue;
        const p: Pending = { clientId: e.clientId, text: e.text, status: e.error ? "failed" : "waiting", waitingSince: e.createdAt, attempt: 0 };
        if (e.replyTo !== undefined) p.replyTo = e.replyTo;
        if (e.error) p.error = e.error;
        room.pending.push(p);
      }
    });
  }

  retry(clientId: string): void {
    const p = this.find(clientId);
    if (!p) return;
    this.store.update(() => Object.assign(p, { status: "waiting", error: undefined, waitingSince: Date.now() }));
    void this.save(p);
    if (this.canDeliver()) this.enqueue([p]);
  }

  discard(clientId: string): void {
    this.store.update((s) => (s.room.pending = s.room.pending.filter((p) => p.clientId !== clientId)));
  }

  /** After a (re-)join: send everything that was waiting or in flight. */
  flush(): void {
    this.enqueue(this.store.state.room.pending.filter((p) => p.status !== "failed"));
  }

  /** The connection dropped: acks for in-flight messages will not come. */
  disconnected(): void {
    const now = Date.now();
    this.queue = [];
    this.store.update((s) => {
      for (const p of s.room.pending) {
        if (p.status === "sending") Object.assign(p, { status: "waiting", waitingSince: now, attempt: p.attempt + 1 });
      }
    });
  }

  private canDeliver(): boolean {
    return this.client.socket.connected && this.store.state.room.joined;
  }

  private keep(room: RoomState, clientId: string): void {
    if (this.kept?.room !== room) this.kept = { room, ids: new Set() };
    this.kept.ids.add(clientId);
  }

  /** Pending messages that were settled (sent, echoed by a re-join, discarded) leave IndexedDB. */
  private forgetSettled(room: RoomState): void {
    if (this.kept?.room !== room) return;
    const pending = new Set(room.pending.map((p) => p.clientId));
    for (const id of this.kept.ids) {
      if (pending.has(id)) continue;
      this.kept.ids.delete(id);
      void saved.deleteOutbox(id);
    }
  }

  private save(p: Pending): Promise<unknown> {
    const room = this.store.state.room.name;
    const entry = { clientId: p.clientId, room, text: p.text, createdAt: p.waitingSince, ...(p.replyTo === undefined ? {} : { replyTo: p.replyTo }) };
    return saved.putOutbox(p.error ? { ...entry, error: p.error } : entry);
  }

  private enqueue(list: Pending[]): void {
    for (const p of list) if (!this.queue.includes(p)) this.queue.push(p);
    void this.drain();
  }

  /** Sends the queue in order, one message at a time, holding the room's outbox lock. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const room = this.store.state.room;
    try {
      await withLock(`baat-chit-outbox:${room.name}`, async () => {
        for (let p = this.queue.shift(); p; p = this.queue.shift()) {
          if (this.store.state.room !== room || !this.find(p.clientId) || p.status === "failed") continue;
          // Gone from storage: another tab had it acknowledged; its echo settles it here.
          if (!(await saved.hasOutbox(p.clientId))) continue;
          await this.deliver(p);
        }
      });
    } finally {
      this.draining = false;
    }
    if (this.queue.length && this.canDeliver()) void this.drain();
  }

  private async deliver(p: Pending): Promise<void> {
    const attempt = ++p.attempt;
    const room = this.store.state.room;
    this.store.update(() => Object.assign(p, { status: "sending", error: undefined }));
    const ack = await this.client.send(room.name, p.text, p.clientId, p.replyTo);
    // A newer attempt, a room switch or an echo via re-join has settled it already.
    if (p.attempt !== attempt || this.store.state.room !== room || !this.find(p.clientId)) return;
    if (ack.ok) {
      // Gone from storage before the lock is released, so no other tab sends it again.
      await saved.deleteOutbox(p.clientId);
      this.store.update((s) => {
        mergeMessages(s.room, [ack.message]);
        s.room.pending = s.room.pending.filter((q) => q.clientId !== p.clientId);
      });
    } else {
      this.store.update(() => Object.assign(p, { status: "failed", error: explainSendError(ack.error) }));
      await this.save(p);
    }
  }
}

/** Runs `task` holding the Web Lock `name` (shared by this origin's tabs); without Web Locks, just runs it. */
async function withLock(name: string, task: () => Promise<void>): Promise<void> {
  if (!("locks" in navigator)) return task();
  await navigator.locks.request(name, task);
}
