/**
 * The app's state and the plain store that holds it. Mutations go through
 * `store.update`, which notifies subscribers once per microtask, so a burst
 * of socket events renders once. The helpers below are the only code that
 * changes a room's messages, people and notices.
 */
import type { Message, Presence, RoomCount, User } from "./protocol";

export type Connection = "connecting" | "online" | "reconnecting";

/** A message this page sent that has no ok ack yet. */
export interface Pending {
  clientId: string;
  text: string;
  status: "sending" | "waiting" | "failed";
  /** Why it failed, in words for the person. */
  error?: string;
  /** When it started waiting for a connection; it fails after a while. */
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
  /** Sorted by seq, unique by id. */
  messages: Message[];
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
}

export interface AppState {
  connection: Connection;
  userId: string | null;
  room: RoomState;
  rooms: RoomCount[];
  /** Messages that arrived while the tab was hidden. */
  unread: number;
}

export function emptyRoom(name: string): RoomState {
  return {
    name, joined: false, you: null, users: new Map(), count: 0, messages: [], hasOlder: false,
    loadingOlder: false, notices: [], pending: [], typing: new Map(), joinError: null, unannounced: new Map(),
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
 * Adds messages not seen before (by id), keeps seq order, settles the
 * pending copies they confirm and stops their authors' typing indicators.
 * Returns the messages that were new.
 */
export function mergeMessages(room: RoomState, incoming: Message[]): Message[] {
  const known = new Set(room.messages.map((m) => m.id));
  const fresh = incoming.filter((m) => m.room === room.name && !known.has(m.id) && known.add(m.id));
  if (!fresh.length) return fresh;
  const last = highestSeq(room);
  room.messages.push(...fresh);
  if (fresh.some((m) => m.seq < last) || fresh.length > 1) room.messages.sort((a, b) => a.seq - b.seq);
  const confirmed = new Set(fresh.map((m) => m.clientId).filter((id) => id !== undefined));
  room.pending = room.pending.filter((p) => !confirmed.has(p.clientId));
  for (const m of fresh) room.typing.delete(m.user.id);
  return fresh;
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
