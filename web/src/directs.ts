/**
 * Direct conversations (protocol version 2, see /docs/protocol.md): the
 * sidebar's list and its unread counts. Membership belongs to the
 * connection, so after every (re)connect this joins each conversation in
 * the background, with `since` = the read position kept in localStorage,
 * and counts what arrived meanwhile; then it counts live messages in the
 * conversations that are not open. The open one is read as it arrives.
 * The chat controller enters a conversation like any room.
 */
import { identity } from "./identity";
import { plainText } from "./markdown";
import { isDirect, type AckError, type Conversation, type MessageV2 } from "./protocol";
import type { ChatClient } from "./socket";
import type { AppState, Direct, Store } from "./state";

export interface DirectsView {
  announce(text: string): void;
}

export class Directs {
  /** The list was fetched and joined on this connection. */
  private loaded = false;

  constructor(
    private readonly client: ChatClient,
    private readonly store: Store<AppState>,
    private readonly view: DirectsView,
  ) {
    const socket = client.socket;
    socket.on("connect", () => void this.refresh());
    socket.on("disconnect", () => (this.loaded = false));
    socket.on("conversation", (c) => this.add(c));
    socket.on("message", (m) => this.onMessage(m));
  }

  /** Opens (or finds) the conversation with `userId`; resolves to its room, or the error. */
  async open(userId: string): Promise<{ room: string } | { error: AckError }> {
    const ack = await this.client.dm(userId);
    if (!ack.ok) return { error: ack.error };
    this.add(ack.conversation);
    return { room: ack.conversation.room };
  }

  /** The reader has seen `room` up to `seq` (it is open): nothing there is unread. */
  read(room: string, seq: number): void {
    const d = this.find(room);
    if (!d) return;
    if (seq > identity.readUpTo(room)) identity.setReadUpTo(room, seq);
    if (d.unread.size) this.store.update(() => d.unread.clear());
  }

  /**
   * Once per connection, when the reader has a name: the list from the
   * server, then a background join of each conversation.
   */
  async refresh(): Promise<void> {
    if (this.loaded || !this.client.socket.connected || !this.name()) return;
    this.loaded = true;
    const ack = await this.client.conversations();
    if (!ack.ok) {
      this.loaded = false;
      return;
    }
    for (const c of ack.conversations) this.add(c, false);
  }

  private find(room: string): Direct | undefined {
    return this.store.state.directs.find((d) => d.room === room);
  }

  private name(): string | null {
    return this.store.state.room.you?.name ?? identity.name();
  }

  /** Adds or refreshes a conversation and joins it in the background. */
  private add(c: Conversation, top = true): void {
    let d = this.find(c.room);
    this.store.update((s) => {
      if (d) Object.assign(d, { with: c.with, lastSeq: Math.max(d.lastSeq, c.lastSeq) });
      else {
        d = { room: c.room, with: c.with, lastSeq: c.lastSeq, unread: new Set() };
        if (top) s.directs.unshift(d);
        else s.directs.push(d);
      }
    });
    void this.catchUp(c.room);
  }

  /** Joins `room` from the read position and counts the other person's messages since. */
  private async catchUp(room: string): Promise<void> {
    const name = this.name();
    if (!name || room === this.store.state.room.name) return;
    const since = identity.readUpTo(room);
    const ack = await this.client.join(room, name, since);
    const d = this.find(room);
    if (!ack.ok || !d) return;
    this.store.update(() => {
      for (const m of ack.history) this.count(d, m);
    });
  }

  private count(d: Direct, m: MessageV2): void {
    d.lastSeq = Math.max(d.lastSeq, m.seq);
    const mine = m.user.id === this.store.state.userId;
    if (!mine && !m.deleted && m.room !== this.store.state.room.name) d.unread.add(m.id);
  }

  private onMessage(m: MessageV2): void {
    if (!isDirect(m.room)) return;
    const d = this.find(m.room);
    if (!d) return;
    const wasUnread = d.unread.has(m.id);
    this.store.update((s) => {
      this.count(d, m);
      // Newest activity first.
      s.directs = [d, ...s.directs.filter((x) => x !== d)];
    });
    if (!wasUnread && d.unread.has(m.id)) this.view.announce(`Direct message from ${m.user.name}: ${plainText(m.text ?? "")}`);
  }
}
