/**
 * The Baat-Chit event contract (version 1) as TypeScript types: the one
 * place where event names and payload shapes live on the browser side.
 * tests/browser/protocol.test.mjs checks the event names against the
 * server's `realtime::events` module.
 */

/** A person in a room. `id` is stable across tabs and reconnects. */
export interface User {
  id: string;
  name: string;
}

/** A stored chat message. `seq` increases strictly within its room. */
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
  history: Message[];
  hasMore: boolean;
}

export interface HistoryReply {
  messages: Message[];
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
  message: (m: Message) => void;
  presence: (p: Presence) => void;
  typing: (t: Typing) => void;
}

type Reply<T> = (ack: Ack<T>) => void;

/** Events the client sends, with their ack shapes. */
export interface ClientToServerEvents {
  join: (p: { room: string; name: string; since?: number }, ack: Reply<JoinReply>) => void;
  leave: (p: { room: string }, ack: Reply<object>) => void;
  message: (p: { room: string; text: string; clientId: string }, ack: Reply<{ message: Message }>) => void;
  typing: (p: { room: string; typing: boolean }) => void;
  history: (
    p: { room: string; before?: number; after?: number; limit?: number },
    ack: Reply<HistoryReply>,
  ) => void;
  rooms: (p: Record<string, never>, ack: Reply<{ rooms: RoomCount[] }>) => void;
}

/** Limits the server enforces; the UI checks them first for quick feedback. */
export const LIMITS = {
  nameMax: 32,
  roomMax: 48,
  textMax: 2000,
} as const;

export const DEFAULT_ROOM = "general";
