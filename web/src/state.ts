/**
 * The app's state and the plain store that holds it. Mutations go through
 * `store.update`, which notifies subscribers once per microtask, so a burst
 * of socket events renders once. The helpers below are the only code that
 * changes a room's messages, people and notices.
 */
import { isDirect, type Change, type MessageV2, type Presence, type ReadMarker, type RoomCount, type User } from "./protocol";

/** "offline": an attempt to reach the server failed (network or server down); retries go on. */
export type Connection = "connecting" | "online" | "reconnecting" | "offline";

/** A message this page sent that has no ok ack yet. */
export interface Pending {
  clientId: string;
  text: string;
  /** The id of the message this one answers. */
  replyTo?: number;
  status: "sending" | "waiting" | "failed";
  /** Why it failed, in words for the person. */
  error?: string;
  /** When it was written (or last retried). */
  waitingSince: number;
  /** Bumped on each delivery attempt, so a stale ack cannot overwrite a newer one. */
  attempt: number;
}

/** "Asha joined" or "Asha and 3 others left", shown after message `afterSeq`. */
export interface Notice {
  key: number;
  kind: "joined" | "left";
  names: string[];
  afterSeq: number;
  at: number;
}

export interface RoomState {
  /** Lower-case room name, as the server replies it. */
  name: string;
  /** True once the join ack for this connection arrived. */
  joined: boolean;
  you: User | null;
  users: Map<string, User>;
  count: number;
  /** Sorted by seq, unique by id, each in its newest known state. */
  messages: MessageV2[];
  /**
   * id → the newest change seen to that message, loaded or not. A history
   * page read before a change may arrive after it; this keeps it from
   * bringing the old state back.
   */
  latest: Map<number, Change>;
  /** The greatest seq of the room's log seen (messages and changes): the next `since`. */
  logSeq: number;
  hasOlder: boolean;
  loadingOlder: boolean;
  notices: Notice[];
  pending: Pending[];
  /** userId → name of the people currently typing. */
  typing: Map<string, string>;
  /** Why the last join failed (other than a name problem), for the empty timeline. */
  joinError: string | null;
  /**
   * userId → seq of the first live message from someone not (yet) in the
   * people list. Presence is batched, so a newcomer's first message can
   * arrive before their "joined"; the notice then goes before that message.
   */
  unannounced: Map<string, number>;
  /**
   * The "New" divider goes before the first message from someone else
   * after this seq; null: no divider. Set on entering from the read
   * marker, and when messages arrive while the reader is away.
   */
  newAfter: number | null;
  /**
   * Messages after `gap.after` are not all loaded up to the next loaded
   * one: a search result or the first unread message was opened far from
   * the newest messages, which keep arriving below the gap.
   */
  gap: { after: number } | null;
  loadingNewer: boolean;
  /** Where the timeline should take the reader once: the "New" divider or a message (by id). */
  place: Place | null;
}

/** A one-time request to the timeline; a new `key` is a new request. */
export interface Place {
  key: number;
  at: "new" | number;
}

/** A direct conversation in the sidebar; its unread count is its read marker's. */
export interface Direct {
  room: string;
  /** The other person. */
  with: User;
  lastSeq: number;
}

/** The reader's read position in a room, as the server keeps it (see reads.ts). */
export interface Marker {
  readSeq: number;
  /** Messages from others after `readSeq` (the server counts up to 1000). */
  unread: number;
  /** The greatest seq counted into `unread` here, so no message counts twice. */
  counted: number;
  /**
   * Live messages counted into `unread` here that the server's last count
   * did not hold (their seqs, after its `lastSeq`): its next count gets them added.
   */
  live: number[];
}

/** A count of unread messages from the server: up to `lastSeq` when it says so. */
export type MarkerCount = Pick<ReadMarker, "room" | "readSeq" | "unread"> & { lastSeq?: number };

export interface AppState {
  connection: Connection;
  userId: string | null;
  room: RoomState;
  rooms: RoomCount[];
  /** Direct conversations, newest activity first. */
  directs: Direct[];
  /** Room → the reader's read marker there, for rooms and conversations the reader has one in. */
  reads: Map<string, Marker>;
}

/** Every unread message in the rooms and conversations the reader has a marker in: the title's count. */
export function totalUnread(state: AppState): number {
  let total = 0;
  for (const m of state.reads.values()) total += m.unread;
  return total;
}

/** Takes a marker from the server unless the one here is further on (markers only move forward). */
export function applyMarker(state: AppState, r: MarkerCount): void {
  const known = state.reads.get(r.room);
  if (known && known.readSeq > r.readSeq) return;
  // The count holds every message up to `lastSeq`, whether or not it has
  // arrived here yet; those counted here after it are added back.
  const upTo = Math.max(r.lastSeq ?? 0, r.readSeq);
  const live = r.lastSeq === undefined ? [] : (known?.live ?? []).filter((seq) => seq > upTo);
  state.reads.set(r.room, {
    readSeq: r.readSeq,
    unread: r.unread + live.length,
    counted: Math.max(known?.counted ?? 0, upTo),
    live,
  });
}

/** How a room is named on screen: "#general", or "@Bilal" for a direct conversation. */
export function roomLabel(state: AppState, room = state.room.name): { sigil: string; title: string } {
  if (!isDirect(room)) return { sigil: "#", title: room };
  const d = state.directs.find((c) => c.room === room);
  return { sigil: "@", title: d?.with.name ?? "direct message" };
}

export function emptyRoom(name: string): RoomState {
  return {
    name, joined: false, you: null, users: new Map(), count: 0, messages: [], latest: new Map(), logSeq: 0, hasOlder: false,
    loadingOlder: false, notices: [], pending: [], typing: new Map(), joinError: null, unannounced: new Map(),
    newAfter: null, gap: null, loadingNewer: false, place: null,
  };
}

export class Store<S> {
  private readonly listeners = new Set<(state: S) => void>();
  private scheduled = false;

  constructor(readonly state: S) {}

  subscribe(listener: (state: S) => void): void {
    this.listeners.add(listener);
  }

  update(mutate: (state: S) => void): void {
    mutate(this.state);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const listener of this.listeners) listener(this.state);
    });
  }
}

export function highestSeq(room: RoomState): number {
  return room.messages.length ? room.messages[room.messages.length - 1]!.seq : 0;
}

/**
 * Adds messages not seen before (by id) and refreshes known ones, keeps seq
 * order and settles the pending copies they confirm. It leaves typing
 * indicators alone: the server ends a sender's typing as the message
 * arrives there, in order, and a spell begun while the message was being
 * stored must stay. A message some change has been seen for keeps that
 * change's state: every state a page or ack brings is at most as new.
 * Returns the messages that were new.
 */
export function mergeMessages(room: RoomState, incoming: MessageV2[]): MessageV2[] {
  const at = new Map(room.messages.map((m, i) => [m.id, i]));
  const fresh: MessageV2[] = [];
  for (const m of incoming) {
    if (m.room !== room.name) continue;
    room.logSeq = Math.max(room.logSeq, m.seq);
    const state = room.latest.get(m.id)?.message ?? m;
    const i = at.get(m.id);
    if (i !== undefined) room.messages[i] = state;
    else {
      at.set(m.id, -1);
      fresh.push(state);
    }
  }
  if (!fresh.length) return fresh;
  const last = highestSeq(room);
  room.messages.push(...fresh);
  if (fresh.some((m) => m.seq < last) || fresh.length > 1) room.messages.sort((a, b) => a.seq - b.seq);
  const confirmed = new Set(fresh.map((m) => m.clientId).filter((id) => id !== undefined));
  room.pending = room.pending.filter((p) => !confirmed.has(p.clientId));
  return fresh;
}

/**
 * Applies an edit, delete or reaction, whether it came live, in an ack or
 * in a join's `changes`; one seen already (or older than one seen) is
 * ignored. Returns the message's state before, or null if nothing changed
 * (the message may not be loaded: its state waits for the page that has it).
 */
export function applyChange(room: RoomState, c: Change): { before: MessageV2 | null } | null {
  if (c.room !== room.name) return null;
  room.logSeq = Math.max(room.logSeq, c.seq);
  const seen = room.latest.get(c.message.id);
  if (seen && seen.seq >= c.seq) return null;
  room.latest.set(c.message.id, c);
  const i = room.messages.findIndex((m) => m.id === c.message.id);
  if (i === -1) return { before: null };
  const before = room.messages[i]!;
  room.messages[i] = c.message;
  return { before };
}

/**
 * The message the "New" divider goes above: the first from someone else
 * after `newAfter`, once the message before it is loaded too (else the
 * first unread one may not be loaded yet).
 */
export function firstUnread(room: RoomState): MessageV2 | undefined {
  const after = room.newAfter;
  const oldest = room.messages[0];
  if (after === null || !oldest || (room.hasOlder && oldest.seq > after)) return undefined;
  const you = room.you?.id;
  return room.messages.find((m) => m.seq > after && m.user.id !== you && !m.deleted);
}

let placeKeys = 0;
/** Asks the timeline to show the "New" divider or a message, once. */
export function placeAt(room: RoomState, at: Place["at"]): void {
  room.place = { key: ++placeKeys, at };
}

/** A loaded message by id. */
export function findMessage(room: RoomState, id: number): MessageV2 | undefined {
  return room.messages.find((m) => m.id === id);
}

/** The newest message of `userId` that can still be edited, for Up in an empty composer. */
export function lastEditable(room: RoomState, userId: string): MessageV2 | undefined {
  for (let i = room.messages.length - 1; i >= 0; i--) {
    const m = room.messages[i]!;
    if (m.user.id === userId && !m.deleted) return m;
  }
  return undefined;
}

/**
 * Applies a presence batch as upserts and removals; `count` is the server's.
 * Returns who really arrived or went, so notices never repeat a person the
 * join ack already listed.
 */
export function applyPresence(room: RoomState, p: Presence): { joined: User[]; left: User[] } {
  const joined = p.joined.filter((u) => !room.users.has(u.id));
  const left = p.left.filter((u) => room.users.has(u.id));
  for (const u of p.joined) room.users.set(u.id, u);
  for (const u of p.left) {
    room.users.delete(u.id);
    room.typing.delete(u.id);
    room.unannounced.delete(u.id);
  }
  room.count = p.count;
  return { joined, left };
}

let noticeKeys = 0;
/** People arriving within this window after the last notice share one line. */
const NOTICE_MERGE_MS = 3000;

/** Where a notice about `users` belongs: before a newcomer's first message, else at the end. */
function noticePlace(room: RoomState, kind: Notice["kind"], users: User[]): number {
  let afterSeq = highestSeq(room);
  if (kind !== "joined") return afterSeq;
  for (const u of users) {
    const first = room.unannounced.get(u.id);
    if (first !== undefined) afterSeq = Math.min(afterSeq, first - 1);
    room.unannounced.delete(u.id);
  }
  return afterSeq;
}

/** Adds a notice, or folds it into the previous one when it is part of the same burst. */
export function addNotice(room: RoomState, kind: Notice["kind"], users: User[], now: number): Notice | null {
  if (!users.length) return null;
  const names = users.map((u) => u.name);
  const afterSeq = noticePlace(room, kind, users);
  const last = room.notices[room.notices.length - 1];
  if (last && last.kind === kind && last.afterSeq === afterSeq && now - last.at < NOTICE_MERGE_MS) {
    last.names = [...last.names.filter((n) => !names.includes(n)), ...names];
    last.at = now;
    return last;
  }
  const notice = { key: ++noticeKeys, kind, names, afterSeq, at: now };
  // Kept in afterSeq order, which is the order the timeline reads them in.
  const at = room.notices.findIndex((n) => n.afterSeq > afterSeq);
  room.notices.splice(at === -1 ? room.notices.length : at, 0, notice);
  return notice;
}
