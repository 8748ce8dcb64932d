/**
 * The typed Socket.IO client: one method per contract event, each resolving
 * to the server's ack (or a client-side `timeout` error), never rejecting.
 */
import { io, type Socket } from "socket.io-client";
import type {
  Ack,
  Change,
  ClientToServerEvents,
  Conversation,
  HistoryReply,
  JoinReply,
  MessageV2,
  ReadMarker,
  RoomCount,
  SearchReply,
  ServerToClientEvents,
} from "./protocol";

export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** How long to wait for an ack before calling the request failed. */
const ACK_TIMEOUT_MS = 8000;
/** The app follows edits, deletes and reactions: protocol version 2. */
const PROTOCOL = 2;

/** The untyped shape of `socket.timeout(ms)`, for the one generic helper below. */
interface LooseEmitter {
  emit(event: string, payload: unknown, cb: (err: Error | null, ack: unknown) => void): void;
}

function isAck<T>(value: unknown): value is Ack<T> {
  return typeof value === "object" && value !== null && "ok" in value;
}

/** Emits `event` and resolves with its ack, a timeout, or a malformed-reply error. */
function call<T>(socket: ChatSocket, event: string, payload: unknown): Promise<Ack<T>> {
  return new Promise((resolve) => {
    const emitter = socket.timeout(ACK_TIMEOUT_MS) as unknown as LooseEmitter;
    emitter.emit(event, payload, (err, ack) => {
      if (err) {
        resolve({ ok: false, error: { code: "timeout", message: "The server did not answer in time." } });
      } else if (isAck<T>(ack)) {
        resolve(ack);
      } else {
        resolve({ ok: false, error: { code: "bad_request", message: "The server sent an unexpected reply." } });
      }
    });
  });
}

export class ChatClient {
  readonly socket: ChatSocket;

  /** Connects to the page's own origin, as the person `token` names (if any). */
  constructor(token: string | null) {
    this.socket = io({
      auth: token ? { token, protocol: PROTOCOL } : { protocol: PROTOCOL },
      // Come back quickly after a server restart; the default tops out at 5 s.
      reconnectionDelayMax: 3000,
    });
  }

  /** Future reconnects carry the newest token. */
  setToken(token: string): void {
    this.socket.auth = { token, protocol: PROTOCOL };
  }

  join(room: string, name: string, since?: number): Promise<Ack<JoinReply>> {
    return call(this.socket, "join", since === undefined ? { room, name } : { room, name, since });
  }

  leave(room: string): Promise<Ack<object>> {
    return call(this.socket, "leave", { room });
  }

  send(room: string, text: string, clientId: string, replyTo?: number): Promise<Ack<{ message: MessageV2 }>> {
    return call(this.socket, "message", replyTo === undefined ? { room, text, clientId } : { room, text, clientId, replyTo });
  }

  edit(room: string, id: number, text: string, clientId: string): Promise<Ack<{ change: Change }>> {
    return call(this.socket, "edit", { room, id, text, clientId });
  }

  remove(room: string, id: number, clientId: string): Promise<Ack<{ change: Change }>> {
    return call(this.socket, "delete", { room, id, clientId });
  }

  react(room: string, id: number, emoji: string, clientId: string): Promise<Ack<{ change: Change }>> {
    return call(this.socket, "react", { room, id, emoji, clientId });
  }

  /** One of `before`, `after` or `around` (a seq), or none for the newest page. */
  history(room: string, page: { before?: number; after?: number; around?: number; limit?: number }): Promise<Ack<HistoryReply>> {
    return call(this.socket, "history", { room, ...page });
  }

  /** Opens (or finds) the direct conversation with `userId`. */
  dm(userId: string): Promise<Ack<{ conversation: Conversation }>> {
    return call(this.socket, "dm", { userId });
  }

  conversations(): Promise<Ack<{ conversations: Conversation[] }>> {
    return call(this.socket, "conversations", {});
  }

  /** The active rooms; `subscribe` also asks for the `counts` event from now on. */
  rooms(subscribe?: boolean): Promise<Ack<{ rooms: RoomCount[] }>> {
    return call(this.socket, "rooms", subscribe === undefined ? {} : { subscribe });
  }

  /** Moves the reader's marker in a joined room up to `seq`. */
  read(room: string, seq: number): Promise<Ack<ReadMarker>> {
    return call(this.socket, "read", { room, seq });
  }

  /** The reader's markers in every room and conversation that has one. */
  reads(): Promise<Ack<{ reads: ReadMarker[] }>> {
    return call(this.socket, "reads", {});
  }

  /** Full-text search; `before` (a message id) searches further back. */
  search(q: string, options: { room?: string; limit?: number; before?: number } = {}): Promise<Ack<SearchReply>> {
    return call(this.socket, "search", { q, ...options });
  }

  typing(room: string, typing: boolean): void {
    if (this.socket.connected) this.socket.emit("typing", { room, typing });
  }
}
