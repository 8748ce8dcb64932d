/**
 * The chat controller: which room this page is in, joining and re-joining
 * it (with `since`, so a reconnect fills the gap without doubles), and
 * turning server events into state changes. The UI talks to it through
 * the methods below and hears back through `ChatView`.
 */
import { identity } from "./identity";
import { explainJoinError, isNameError } from "./errors";
import { loadGap, openAtFirstUnread, openAtMessage, type GapSide } from "./around";
import { isDirect, type Ack, type AckError, type Change, type MessageV2, type Presence, type Typing } from "./protocol";
import { plainText } from "./markdown";
import { Outbox } from "./outbox";
import { saved } from "./saved";
import type { Reads } from "./reads";
import type { ChatClient } from "./socket";
import {
  addNotice, applyChange, applyPresence, emptyRoom, findMessage, mergeMessages, type AppState, type Store,
} from "./state";
import { changePhrase, mentions, noticePhrase, phraseText, randomId } from "./text";
import { TypingTracker } from "./typing";

/** A long absence is caught up by joining again from where the last answer ended. */
const MAX_CATCH_UP_JOINS = 20;

export interface ChatView {
  /** Ask for a (new) name for `room`, showing `error` if there is one. */
  askName(room: string, error: string, name: string): void;
  /** The join ack arrived: the room's canonical (lower-case) name. */
  entered(room: string): void;
  announce(text: string): void;
  mentioned(m: MessageV2): void;
}

export class Chat {
  readonly outbox: Outbox;
  /** The room this page wants to be in (lower-case). */
  private target = "";
  /** Joined `target` at least once, so a reconnect re-joins with `since`. */
  private member = false;
  /** Bumped on every room switch; answers for an older room are ignored. */
  private generation = 0;
  private joiningGeneration = -1;
  private name: string | null = identity.name();
  private readonly typists: TypingTracker;
  /** Reading the room's saved messages and outbox; joining waits for it (to join with `since`). */
  private restoring = false;
  /** The room shows messages saved on an earlier visit, not yet joined from them. */
  private fromStorage = false;
  /** A message to open the room at once it is entered (a search result in another room). */
  private aim: { room: string; seq: number; id: number } | null = null;

  constructor(
    private readonly client: ChatClient,
    private readonly store: Store<AppState>,
    private readonly view: ChatView,
    private readonly reads: Reads,
  ) {
    this.outbox = new Outbox(client, store);
    this.typists = new TypingTracker(client);
    this.wire();
  }

  get room(): string {
    return this.target;
  }

  /** Enters `room`, leaving the current one. */
  switchRoom(room: string): void {
    const next = room.trim().toLowerCase();
    if (next === this.target) return;
    // A direct conversation stays joined in the background, to count its unread messages.
    // What was just read is marked first: a room left cannot be marked.
    const left = this.target;
    if (this.store.state.room.joined && !isDirect(left)) void this.reads.flush(left).then(() => this.client.leave(left));
    else void this.reads.flush(left);
    this.generation++;
    this.target = next;
    this.member = this.fromStorage = false;
    this.typists.reset();
    this.store.update((s) => (s.room = emptyRoom(next)));
    void this.restore();
    if (!this.name) this.view.askName(next, "", "");
  }

  /**
   * Shows what this browser kept of the room (its recent messages, its
   * unsent ones) before, or without, a connection; the join then asks only
   * for what is newer (`since`), as after a reconnect.
   */
  private async restore(): Promise<void> {
    const generation = this.generation;
    const room = this.store.state.room;
    this.restoring = true;
    const [kept] = await Promise.all([saved.room(room.name), this.outbox.restore(room)]);
    if (generation !== this.generation) return;
    this.restoring = false;
    if (kept && !room.joined && kept.messages.length) {
      this.store.update(() => {
        mergeMessages(room, kept.messages);
        room.logSeq = Math.max(room.logSeq, kept.logSeq);
        room.hasOlder = kept.hasOlder;
        room.you ??= kept.you;
      });
      this.member = this.fromStorage = true;
    }
    if (this.name) this.ensureJoined();
  }

  /** The name dialog's submit: resolves to an error to show, or null when in. */
  async submitName(name: string): Promise<string | null> {
    const error = await this.join(name);
    if (error) return error.message;
    this.name = this.store.state.room.you?.name ?? name;
    identity.setName(this.name);
    return null;
  }

  /** Fetches the page of messages before the oldest one shown; resolves to whether it did. */
  async loadOlder(): Promise<boolean> {
    const room = this.store.state.room;
    const oldest = room.messages[0];
    if (!room.joined || room.loadingOlder || !room.hasOlder || !oldest) return false;
    this.store.update(() => (room.loadingOlder = true));
    const ack = await this.client.history(room.name, { before: oldest.seq, limit: 50 });
    this.store.update(() => {
      room.loadingOlder = false;
      if (!ack.ok) return;
      mergeMessages(room, ack.messages);
      room.hasOlder = ack.hasMore;
    });
    return ack.ok;
  }

  /** Loads a page into the gap below a message opened far back, from the edge the reader is at. */
  fillGap(side: GapSide): Promise<boolean> {
    return loadGap(this.client, this.store, side);
  }

  /**
   * Shows the message `id` (at `seq`) of `room` with the messages around
   * it, highlighted: at once if this page is in that room, else once it
   * has entered it (the caller moves there).
   */
  openAt(room: string, seq: number, id: number): void {
    const here = this.store.state.room;
    if (room === this.target && here.joined) void openAtMessage(this.client, this.store, seq, id);
    else this.aim = { room, seq, id };
  }

  /** The composer has text (true) or was emptied, sent or left (false). */
  typing(active: boolean): void {
    if (this.store.state.room.joined) this.typists.local(this.target, active);
  }

  send(text: string, replyTo?: number): void {
    this.typing(false);
    void this.outbox.send(text, replyTo);
  }

  /** Replaces the text of one of the reader's messages; resolves to an error or null. */
  edit(id: number, text: string): Promise<AckError | null> {
    return this.change((room, clientId) => this.client.edit(room, id, text, clientId));
  }

  remove(id: number): Promise<AckError | null> {
    return this.change((room, clientId) => this.client.remove(room, id, clientId));
  }

  /** Adds the reader's reaction with `emoji`, or takes it back. */
  react(id: number, emoji: string): Promise<AckError | null> {
    return this.change((room, clientId) => this.client.react(room, id, emoji, clientId));
  }

  private async change(send: (room: string, clientId: string) => Promise<Ack<{ change: Change }>>): Promise<AckError | null> {
    const room = this.store.state.room;
    if (!room.joined) return { code: "not_in_room", message: "not connected to the room." };
    const ack = await send(room.name, randomId());
    if (!ack.ok) return ack.error;
    this.store.update(() => applyChange(room, ack.change));
    return null;
  }

  /**
   * Loads pages until the message `id` is in the timeline (replies quote
   * messages that may be far back): the gap below a message opened far
   * back first, then older pages. Resolves to whether it is.
   */
  async reveal(id: number): Promise<boolean> {
    const room = this.store.state.room;
    while (!findMessage(room, id)) {
      if (!room.joined || (!room.hasOlder && !room.gap) || room !== this.store.state.room) return false;
      if (room.loadingOlder || room.loadingNewer) await new Promise((done) => window.setTimeout(done, 50));
      else if (!(await (room.gap ? this.fillGap("top") : this.loadOlder()))) return false;
    }
    return true;
  }

  /** Called every second for time-based expiries. */
  tick(now: number): void {
    const stale = this.typists.stale(now);
    if (stale.length) this.store.update((s) => stale.forEach((id) => this.typists.stopped(s.room, id)));
  }

  /** Joins the target room if connected, named, and not already in or joining it. */
  ensureJoined(): void {
    const name = this.store.state.room.you?.name ?? this.name;
    if (!name || this.restoring || !this.client.socket.connected || this.store.state.room.joined) return;
    if (this.joiningGeneration === this.generation) return;
    void this.join(name).then((error) => {
      if (error && isNameError(error)) this.view.askName(this.target, error.message, name);
    });
  }

  private async join(name: string): Promise<AckError | null> {
    const generation = (this.joiningGeneration = this.generation);
    const room = this.store.state.room;
    const since = this.member && room.logSeq ? room.logSeq : undefined;
    // The first join of this visit opens at the first unread message, also
    // when the room was shown from what this browser saved.
    const first = !this.member || this.fromStorage;
    const ack = await this.client.join(this.target, name, since);
    if (this.joiningGeneration === generation) this.joiningGeneration = -1;
    if (generation !== this.generation) {
      // The person moved on while this join was in flight; do not linger there.
      if (ack.ok && ack.room !== this.target && !isDirect(ack.room)) void this.client.leave(ack.room);
      return null;
    }
    if (!ack.ok) {
      const error = { ...ack.error, message: explainJoinError(ack.error, this.target) };
      // A name problem is the name dialog's to show; anything else shows in the room.
      if (!isNameError(error)) this.store.update(() => (room.joinError = error.message));
      return error;
    }
    const stale = this.fromStorage && since !== undefined && ack.hasMore;
    this.fromStorage = false;
    if (stale) {
      // Saved long ago: more is new than a catch-up should read. Start again from the newest page.
      this.store.update(() => Object.assign(room, { messages: [], latest: new Map(), logSeq: 0, hasOlder: false }));
      this.member = false;
      return this.join(name);
    }
    this.member = true;
    this.reads.joined(ack);
    this.store.update(() => {
      Object.assign(room, { name: ack.room, joined: true, you: ack.you, count: ack.count, joinError: null });
      room.users = new Map([...ack.users, ack.you].map((u) => [u.id, u]));
      mergeMessages(room, ack.history);
      for (const c of ack.changes ?? []) applyChange(room, c);
      if (since === undefined) room.hasOlder = ack.hasMore;
    });
    this.target = ack.room;
    this.view.entered(ack.room);
    if (since !== undefined && ack.hasMore) await this.catchUp(generation, name);
    this.outbox.flush();
    const aim = this.aim?.room === ack.room ? this.aim : null;
    if (aim) {
      this.aim = null;
      void openAtMessage(this.client, this.store, aim.seq, aim.id);
    } else if (first) void openAtFirstUnread(this.client, this.store);
    return null;
  }

  /**
   * After a long absence a re-join returns the first 500 entries of the
   * log; joining again from the greatest seq seen reads the rest, the
   * changes to older messages included (a history page would miss those).
   */
  private async catchUp(generation: number, name: string): Promise<void> {
    for (let i = 0; i < MAX_CATCH_UP_JOINS; i++) {
      const room = this.store.state.room;
      const ack = await this.client.join(room.name, name, room.logSeq);
      if (generation !== this.generation || !ack.ok) return;
      this.store.update(() => {
        mergeMessages(room, ack.history);
        for (const c of ack.changes ?? []) applyChange(room, c);
      });
      if (!ack.hasMore || !(ack.history.length || ack.changes?.length)) return;
    }
  }

  private wire(): void {
    const socket = this.client.socket;
    socket.on("session", ({ userId, token }) => {
      identity.setToken(token);
      this.client.setToken(token);
      this.store.update((s) => (s.userId = userId));
    });
    socket.on("connect", () => {
      this.store.update((s) => (s.connection = "online"));
      this.ensureJoined();
    });
    socket.on("disconnect", () => {
      this.joiningGeneration = -1;
      this.typists.reset();
      this.store.update((s) => {
        s.connection = "reconnecting";
        s.room.joined = false;
        s.room.typing.clear();
      });
      this.outbox.disconnected();
    });
    socket.on("connect_error", () => {
      // Every failed attempt lands here: the server is out of reach, whatever the reason.
      if (!socket.connected) this.store.update((s) => (s.connection = "offline"));
      // Rejected by the server's middleware: socket.io will not retry by itself.
      if (!socket.active) window.setTimeout(() => socket.connect(), 2000);
    });
    socket.on("message", (m) => this.onMessage(m));
    socket.on("change", (c) => this.onChange(c));
    socket.on("presence", (p) => this.onPresence(p));
    socket.on("typing", (t) => this.onTyping(t));
  }

  private onMessage(m: MessageV2): void {
    const room = this.store.state.room;
    // Kept even before the (re-)join ack: it may be newer than the ack's
    // history, and merging by id makes any overlap harmless.
    if (m.room !== room.name) return;
    const mine = m.user.id === room.you?.id;
    let fresh = false;
    this.store.update(() => {
      fresh = mergeMessages(room, [m]).length > 0;
      if (fresh && !room.users.has(m.user.id) && !room.unannounced.has(m.user.id)) room.unannounced.set(m.user.id, m.seq);
      // Not "they stopped typing": the server says so as the message
      // arrives there, before it is stored and sent here, and a spell
      // they began since then must stay.
    });
    if (!fresh || mine || m.text === undefined) return;
    this.view.announce(`${m.user.name}: ${plainText(m.text)}`);
    if (mentions(m.text, room.you?.name ?? null)) this.view.mentioned(m);
  }

  /** Someone else's edit, delete or reaction (the reader's own come back in acks). */
  private onChange(c: Change): void {
    const room = this.store.state.room;
    if (c.room !== room.name) return;
    this.store.update(() => {
      const applied = applyChange(room, c);
      const phrase = applied && changePhrase(c, applied.before, room.you?.id ?? null);
      if (phrase) this.view.announce(phrase);
    });
  }

  private onPresence(p: Presence): void {
    const room = this.store.state.room;
    // Before the join ack, its user list is the truth; this batch is older.
    if (p.room !== room.name || !room.joined) return;
    const me = room.you?.id;
    this.store.update(() => {
      const { joined, left } = applyPresence(room, p);
      const now = Date.now();
      for (const [kind, users] of [["joined", joined], ["left", left]] as const) {
        const others = users.filter((u) => u.id !== me);
        if (addNotice(room, kind, others, now)) this.view.announce(phraseText(noticePhrase(kind, others.map((u) => u.name))));
      }
    });
  }

  private onTyping(t: Typing): void {
    const room = this.store.state.room;
    if (t.room !== room.name || t.user.id === room.you?.id) return;
    this.store.update(() => this.typists.remote(room, t));
  }
}
