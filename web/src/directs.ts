/**
 * Direct conversations (protocol version 2, see /docs/protocol.md): the
 * sidebar's list. Membership belongs to the connection, so after every
 * (re)connect this joins each conversation in the background, to hear its
 * messages live; their unread counts are the read markers' (reads.ts),
 * which the list, each join and the live events carry. The chat
 * controller enters a conversation like any room.
 */
import { identity } from "./identity";
import { plainText } from "./markdown";
import { isDirect, type AckError, type Conversation, type MessageV2 } from "./protocol";
import type { Reads } from "./reads";
import type { ChatClient } from "./socket";
import type { AppState, Direct, Store } from "./state";

export interface DirectsView {
  announce(text: string): void;
}

export class Directs {
  /** The list was fetched and joined on this connection. */
  private loaded = false;
  /** Conversations joined (or being joined) in the background on this connection. */
  private readonly joined = new Set<string>();

  constructor(
    private readonly client: ChatClient,
    private readonly store: Store<AppState>,
    private readonly reads: Reads,
    private readonly view: DirectsView,
  ) {
    const socket = client.socket;
    socket.on("connect", () => void this.refresh());
    socket.on("disconnect", () => {
      this.loaded = false;
      this.joined.clear();
    });
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
    this.reads.conversation(c);
    this.store.update((s) => {
      if (d) Object.assign(d, { with: c.with, lastSeq: Math.max(d.lastSeq, c.lastSeq) });
      else {
        d = { room: c.room, with: c.with, lastSeq: c.lastSeq };
        if (top) s.directs.unshift(d);
        else s.directs.push(d);
      }
    });
    void this.join(c.room);
  }

  /** Joins `room` to hear it live; `since` its newest message, as nothing older is needed here. */
  private async join(room: string): Promise<void> {
    const name = this.name();
    const d = this.find(room);
    if (!name || !d || room === this.store.state.room.name || this.joined.has(room)) return;
    this.joined.add(room);
    const ack = await this.client.join(room, name, d.lastSeq);
    if (ack.ok) this.reads.joined(ack);
    else this.joined.delete(room);
  }

  private onMessage(m: MessageV2): void {
    if (!isDirect(m.room)) return;
    const d = this.find(m.room);
    if (!d || m.seq <= d.lastSeq) return;
    this.store.update((s) => {
      d.lastSeq = m.seq;
      // Newest activity first.
      s.directs = [d, ...s.directs.filter((x) => x !== d)];
    });
    const away = m.room !== this.store.state.room.name;
    if (away && m.user.id !== this.store.state.userId && !m.deleted) {
      this.view.announce(`Direct message from ${m.user.name}: ${plainText(m.text ?? "")}`);
    }
  }
}
