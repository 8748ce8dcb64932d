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
  /** This user's read marker in it (0: none). */
  readSeq: number;
  /** Messages after `readSeq`, not deleted, not this user's own (at most 1000). */
  unread: number;
}

/** A user's read position in a room or conversation (version 2). */
export interface ReadMarker {
  room: string;
  /** The greatest seq this user marked read; only ever grows. 0: none. */
  readSeq: number;
  /** Messages after `readSeq`, not deleted, not this user's own; counted up to 1000. */
  unread: number;
  /** The room's newest seq when `unread` was counted: the count holds the messages up to it. */
  lastSeq: number;
}

/** `[start, end)` in UTF-16 code units (JavaScript string indices) of `message.text`. */
export type Highlight = [number, number];

/** One `search` result (version 2): never a deleted message. */
export interface SearchHit {
  message: MessageV2;
  /** Where the words looked for are, in order; render with text nodes, never as HTML. */
  highlights: Highlight[];
}

export interface SearchReply {
  /** Best match first (ties: newest first). */
  results: SearchHit[];
  /** More matches exist beyond `limit`. */
  hasMore: boolean;
}

/** Version 2: public rooms whose number of users changed, with it now (0: empty). */
export interface Counts {
  rooms: RoomCount[];
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
  /** A version 2 event (`dm`, `conversations`, `read`, `reads`, `search`) on a version 1 connection. */
  | "unsupported"
  /** Version 2: `search` with nothing to look for, or over 256 characters. */
  | "invalid_query"
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
  /** Version 2: this user's read marker in the room. */
  readSeq?: number;
  /** Version 2: messages after `readSeq`, not deleted, not this user's own (at most 1000). */
  unread?: number;
  /** Version 2: the room's newest seq when `unread` was counted. */
  lastSeq?: number;
}

export interface HistoryReply {
  /** Messages in their current state (version 1 clients get `Message`s). */
  messages: MessageV2[];
  /** Older messages exist (for `after`: newer ones). */
  hasMore: boolean;
  /** With `around` only: newer messages exist. */
  hasNewer?: boolean;
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
  /** Version 2 only: this user's read marker moved on another of its connections. */
  read: (r: ReadMarker) => void;
  /** Version 2 only, after `rooms { subscribe: true }`: live room counts. */
  counts: (c: Counts) => void;
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
    p: { room: string; before?: number; after?: number; around?: number; limit?: number },
    ack: Reply<HistoryReply>,
  ) => void;
  /** `subscribe` (version 2): start or stop the `counts` event. */
  rooms: (p: { subscribe?: boolean }, ack: Reply<{ rooms: RoomCount[] }>) => void;
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
  /** Version 2: moves this user's read marker in a joined room forward. */
  read: (p: { room: string; seq: number }, ack: Reply<ReadMarker>) => void;
  /** Version 2: this user's read markers, most recently moved first. */
  reads: (p: Record<string, never>, ack: Reply<{ reads: ReadMarker[] }>) => void;
  /** Version 2: full-text search over public rooms and this user's conversations. */
  search: (
    p: { q: string; room?: string; limit?: number; before?: number },
    ack: Reply<SearchReply>,
  ) => void;
}

/** Limits the server enforces; the UI checks them first for quick feedback. */
export const LIMITS = {
  nameMax: 32,
  roomMax: 48,
  textMax: 2000,
} as const;

export const DEFAULT_ROOM = "general";
