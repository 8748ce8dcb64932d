/**
 * Read markers (protocol version 2, see /docs/protocol.md): how far the
 * reader has read in each room and conversation, kept by the server per
 * person, so unread counts and the "New" divider are right after a
 * reload, in another tab and on another device.
 *
 * Where the markers come from: `reads` after every connect (and every
 * little while, for public rooms this page is not in, whose messages it
 * does not hear), each join's answer, the conversations list, and the
 * live `read` event when another tab or device of the same person reads.
 * Live messages in the rooms this connection is in (the open one, and
 * every conversation) count up here; the server's numbers replace them
 * whenever they come. The timeline reports what the reader has seen, and
 * this sends `read` for it: at once, then at most every little while as
 * the reader scrolls, and before leaving a room or the page.
 */
import { isDirect, type Conversation, type JoinReply, type MessageV2 } from "./protocol";
import type { ChatClient } from "./socket";
import { applyMarker, type AppState, type Store } from "./state";

/** At most one `read` per room this often (scrolling reports many positions). */
const SEND_EVERY_MS = 300;
/** Markers of rooms this page is not in are asked for again this often. */
const REFRESH_MS = 15_000;
/** Most live messages remembered per room beyond the server's last count. */
const MAX_LIVE = 1000;

export interface ReadsView {
  /** Whether the reader is looking at the newest messages of `room` right now. */
  reading(room: string): boolean;
}

export class Reads {
  /** room → the greatest seq seen there and not sent yet. */
  private readonly wanted = new Map<string, number>();
  private timer = 0;

  constructor(
    private readonly client: ChatClient,
    private readonly store: Store<AppState>,
    private readonly view: ReadsView,
  ) {
    const socket = client.socket;
    socket.on("connect", () => void this.refresh());
    socket.on("read", (r) => this.store.update((s) => applyMarker(s, r)));
    socket.on("message", (m) => this.onMessage(m));
    window.setInterval(() => void this.refresh(), REFRESH_MS);
    // A reload or a closed tab must not lose what was read in the last moment.
    window.addEventListener("pagehide", () => void this.send());
  }

  /**
   * A join's answer: the marker, counted up to the newest message it
   * brought. A first visit to a public room has no marker (the answer
   * says 0, as for a marker at 0, but `reads` did not list it), and
   * nothing in it is unread yet.
   */
  joined(ack: JoinReply): void {
    const readSeq = ack.readSeq ?? 0;
    const fresh = readSeq === 0 && !isDirect(ack.room) && !this.store.state.reads.has(ack.room);
    const newest = ack.history.length ? ack.history[ack.history.length - 1]!.seq : 0;
    this.store.update((s) => {
      applyMarker(s, { room: ack.room, readSeq, unread: fresh ? 0 : (ack.unread ?? 0), lastSeq: ack.lastSeq });
      const marker = s.reads.get(ack.room);
      if (marker) marker.counted = Math.max(marker.counted, newest);
    });
    // An empty room has nothing to see, so nothing would mark it; a marker at 0 makes it
    // one of the reader's rooms, whose messages count as unread in other tabs and devices.
    if (fresh && newest === 0) void this.mark(ack.room, 0);
  }

  /** A conversation from the list or the live event carries its marker. */
  conversation(c: Conversation): void {
    // Its `unread` is counted up to its `lastSeq`.
    this.store.update((s) => applyMarker(s, c));
  }

  /** The reader has seen `room` up to `seq`; sent now or after the pause, if it moves the marker. */
  seen(room: string, seq: number): void {
    const known = this.store.state.reads.get(room)?.readSeq ?? 0;
    if (seq <= known || seq <= (this.wanted.get(room) ?? 0)) return;
    this.wanted.set(room, seq);
    if (this.timer) return;
    void this.send();
    this.timer = window.setTimeout(() => {
      this.timer = 0;
      if (this.wanted.size) void this.send();
    }, SEND_EVERY_MS);
  }

  /** Sends what was seen in `room` now: before leaving it, when a `read` would be refused. */
  async flush(room: string): Promise<void> {
    const seq = this.wanted.get(room);
    if (seq === undefined) return;
    this.wanted.delete(room);
    await this.mark(room, seq);
  }

  /** How far the reader has read in `room`, including what is about to be sent. */
  readUpTo(room: string): number {
    return Math.max(this.store.state.reads.get(room)?.readSeq ?? 0, this.wanted.get(room) ?? 0);
  }

  /** Asks the server for every marker (after a connect, and now and then). */
  async refresh(): Promise<void> {
    if (!this.client.socket.connected) return;
    const ack = await this.client.reads();
    if (ack.ok) this.store.update((s) => ack.reads.forEach((r) => applyMarker(s, r)));
  }

  private async send(): Promise<void> {
    const batch = [...this.wanted];
    this.wanted.clear();
    await Promise.all(batch.map(([room, seq]) => this.mark(room, seq)));
  }

  /** Only a room this connection is in can be marked (the open one, or a conversation). */
  private async mark(room: string, seq: number): Promise<void> {
    if (!this.client.socket.connected) return;
    const ack = await this.client.read(room, seq);
    if (ack.ok) this.store.update((s) => applyMarker(s, ack));
  }

  /**
   * A live message counts as unread unless it is the reader's own or the
   * reader is looking at it. The first one to arrive while everything was
   * read puts the "New" divider above it.
   */
  private onMessage(m: MessageV2): void {
    const s = this.store.state;
    const marker = s.reads.get(m.room);
    if (!marker || m.seq <= marker.counted) return;
    const others = m.user.id !== s.userId && !m.deleted;
    const unseen = others && !this.view.reading(m.room);
    this.store.update(() => {
      marker.counted = m.seq;
      if (!unseen) return;
      const upTo = this.readUpTo(m.room);
      if (s.room.name === m.room && marker.unread === 0 && (s.room.newAfter ?? -1) < upTo) s.room.newAfter = upTo;
      marker.unread++;
      marker.live.push(m.seq);
      // Forget the oldest beyond MAX_LIVE: a count that high shows as "99+"
      // anyway, and the server's own count stops at 1000.
      if (marker.live.length > MAX_LIVE) marker.live.shift();
    });
  }
}
