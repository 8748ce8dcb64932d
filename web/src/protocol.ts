/**
 * The Baat-Chit event contract as TypeScript types: the one place where
 * event names and payload shapes live on the browser side. Version 1 is
 * what every client gets; the version 2 parts (marked) reach a client that
 * connects with `auth: { protocol: 2 }`, direct conversations among them.
 * The web app speaks version 2. tests/browser/protocol.test.mjs checks the
 * event names against the server's `realtime::events` module, and every
 * interface here field by field against payloads a real server sends.
 * Interfaces are written out in full (no `extends`) so that test can read
 * them.
 */

/** A person in a room. `id` is stable across tabs and reconnects. */
export interface User {
  id: string;
  name: string;
}

/** One emoji on a message and who put it there (version 2). */
export interface Reaction {
  emoji: string;
  /** Distinct users. */
  count: number;
  users: User[];
}

/**
 * A stored chat message in its current state, as version 1 clients get it
 * (never a deleted one). `seq` is the room's log position it was created
 * at: strictly increasing, with gaps where changes took a seq.
 */
export interface Message {
  id: number;
  room: string;
  seq: number;
  user: User;
  text: string;
  /** Server time, milliseconds since the epoch. */
  ts: number;
  clientId?: string;
}

/** A message as version 2 clients get it, in every event and answer. */
export interface MessageV2 {
  id: number;
  room: string;
  seq: number;
  user: User;
  ts: number;
  clientId?: string;
  /** Absent once deleted. */
  text?: string;
  /** When the text was last edited. */
  editedAt?: number;
  /** The message was deleted; its text is gone. */
  deleted?: true;
  /** The id of the message this one answers. */
  replyTo?: number;
  /** Reactions, in the order they were first added. */
  reactions: Reaction[];
}

/** What a change did (version 2). */
export type ChangeKind = "edit" | "delete" | "react";

/** An edit, delete or reaction: an entry of the room's log (version 2). */
export interface Change {
  room: string;
  /** The room's log position, in one order with new messages' seqs. */
  seq: number;
  kind: ChangeKind;
  /** Who made the change. */
  user: User;
  ts: number;
  /** The message's whole state right after the change. */
  message: MessageV2;
}

/**
 * A direct conversation as one of its two users sees it (version 2): a
 * room only those two can join, never in the public rooms list.
 */
export interface Conversation {
  /** "@" and 24 lower-case hex digits, chosen by the server. */
  room: string;
  /** The other user, with the name they last used. */
  with: User;
  /** The room's newest seq, 0 if it is empty. */
  lastSeq: number;
}

/** Whether `room` names a direct conversation rather than a public room. */
export const isDirect = (room: string): boolean => /^@[0-9a-f]{24}$/.test(room);

export type ErrorCode =
  | "invalid_room"
  | "invalid_name"
  | "name_taken"
  | "not_in_room"
  | "invalid_message"
  | "too_large"
  | "rate_limited"
  | "bad_request"
  | "unavailable"
  /**
   * Version 2: only the author may edit or delete a message; a direct room
   * that is not yours (or not joined yet); a `dm` with yourself.
   */
  | "forbidden"
  /**
   * Version 2: no such message in this room (or it was deleted); for `dm`,
   * nobody with that id shares a room with you.
   */
  | "not_found"
  /** Version 2: a reaction is one emoji. */
  | "invalid_reaction"
  /** Version 2 events (`dm`, `conversations`) sent on a version 1 connection. */
  | "unsupported"
  /** Client-side only: the ack did not arrive in time. */
  | "timeout";

export interface AckError {
  code: ErrorCode;
  message: string;
  retryAfterMs?: number;
}

/** Every ack is either ok with a payload or a readable error. */
export type Ack<T> = ({ ok: true } & T) | { ok: false; error: AckError };

export interface JoinReply {
  room: string;
  you: User;
  users: User[];
  count: number;
  /** Messages in their current state (version 1 clients get `Message`s). */
  history: MessageV2[];
  /** Version 2, with `since`: the newest change to each older message. */
  changes?: Change[];
  hasMore: boolean;
}

export interface HistoryReply {
  /** Messages in their current state (version 1 clients get `Message`s). */
  messages: MessageV2[];
  hasMore: boolean;
}

export interface RoomCount {
  room: string;
  count: number;
}

export interface Session {
  userId: string;
  token: string;
}

export interface Presence {
  room: string;
  joined: User[];
  left: User[];
  count: number;
}

export interface Typing {
  room: string;
  user: User;
  typing: boolean;
}

/** Events the server sends. */
export interface ServerToClientEvents {
  session: (s: Session) => void;
  message: (m: MessageV2) => void;
  presence: (p: Presence) => void;
  typing: (t: Typing) => void;
  /** Version 2 only. */
  change: (c: Change) => void;
  /** Version 2: a direct conversation of this user was opened (by either side). */
  conversation: (c: Conversation) => void;
}

type Reply<T> = (ack: Ack<T>) => void;

/** Events the client sends, with their ack shapes. */
export interface ClientToServerEvents {
  join: (p: { room: string; name: string; since?: number }, ack: Reply<JoinReply>) => void;
  leave: (p: { room: string }, ack: Reply<object>) => void;
  message: (
    p: { room: string; text: string; clientId: string; replyTo?: number },
    ack: Reply<{ message: MessageV2 }>,
  ) => void;
  typing: (p: { room: string; typing: boolean }) => void;
  history: (
    p: { room: string; before?: number; after?: number; limit?: number },
    ack: Reply<HistoryReply>,
  ) => void;
  rooms: (p: Record<string, never>, ack: Reply<{ rooms: RoomCount[] }>) => void;
  /** Version 2: the author replaces a message's text. */
  edit: (p: { room: string; id: number; text: string; clientId?: string }, ack: Reply<{ change: Change }>) => void;
  /** Version 2: the author deletes a message. */
  delete: (p: { room: string; id: number; clientId?: string }, ack: Reply<{ change: Change }>) => void;
  /** Version 2: adds or removes the user's reaction. */
  react: (p: { room: string; id: number; emoji: string; clientId?: string }, ack: Reply<{ change: Change }>) => void;
  /** Version 2: opens (or finds) the direct conversation with a user. */
  dm: (p: { userId: string }, ack: Reply<{ conversation: Conversation }>) => void;
  /** Version 2: this user's direct conversations, newest activity first. */
  conversations: (p: Record<string, never>, ack: Reply<{ conversations: Conversation[] }>) => void;
}

/** Limits the server enforces; the UI checks them first for quick feedback. */
export const LIMITS = {
  nameMax: 32,
  roomMax: 48,
  textMax: 2000,
} as const;

export const DEFAULT_ROOM = "general";
