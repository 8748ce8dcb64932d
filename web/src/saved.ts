/**
 * What this browser keeps for offline use, in IndexedDB: the recent
 * messages of each room seen (to show while the server cannot be reached)
 * and the outbox of messages not yet acknowledged (to send, with their
 * clientId, when the connection returns, even after the tab was closed).
 * IndexedDB can be missing or refuse (private modes, quotas): then reads
 * find nothing and writes are dropped; the app works as before, online.
 */
import type { MessageV2, User } from "./protocol";

const DB_NAME = "baat-chit";
const ROOMS = "rooms";
const OUTBOX = "outbox";
/** Messages kept per room: enough to read back on a train. */
export const KEEP_MESSAGES = 100;

/** A room as last seen: its newest messages, each in its newest state. */
export interface SavedRoom {
  name: string;
  messages: MessageV2[];
  /** The room log's greatest seq these messages reflect: the `since` to join with. */
  logSeq: number;
  hasOlder: boolean;
  you: User | null;
}

/** A message written here that the server has not acknowledged yet. */
export interface OutboxEntry {
  clientId: string;
  room: string;
  text: string;
  replyTo?: number;
  createdAt: number;
  /** Why the server refused it; unset while it waits to be sent. */
  error?: string;
}

let opening: Promise<IDBDatabase | null> | null = null;

function open(): Promise<IDBDatabase | null> {
  opening ??= new Promise((resolve) => {
    try {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(ROOMS, { keyPath: "name" });
        request.result.createObjectStore(OUTBOX, { keyPath: "clientId" }).createIndex("room", "room");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
      request.onblocked = () => resolve(null);
    } catch {
      resolve(null);
    }
  });
  return opening;
}

/** Runs one request in its own transaction; `fallback` when storage is unavailable or fails. */
async function run<T>(store: string, mode: IDBTransactionMode, fallback: T, make: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  if (!db) return fallback;
  return new Promise((resolve) => {
    try {
      const tx = db.transaction(store, mode);
      const request = make(tx.objectStore(store));
      // Resolve once committed, so a write is durable before the caller goes on.
      tx.oncomplete = () => resolve((request.result as T | undefined) ?? fallback);
      tx.onerror = () => resolve(fallback);
      tx.onabort = () => resolve(fallback);
    } catch {
      resolve(fallback);
    }
  });
}

export const saved = {
  room: (name: string): Promise<SavedRoom | null> => run(ROOMS, "readonly", null, (s) => s.get(name)),
  saveRoom: (room: SavedRoom): Promise<unknown> => run(ROOMS, "readwrite", null, (s) => s.put(room)),
  /** The room's unsent messages, oldest first. */
  outbox: async (room: string): Promise<OutboxEntry[]> => {
    const entries = await run<OutboxEntry[]>(OUTBOX, "readonly", [], (s) => s.index("room").getAll(room));
    return entries.sort((a, b) => a.createdAt - b.createdAt);
  },
  /** Whether the entry is still there (another tab may have sent it); true when storage cannot tell. */
  hasOutbox: async (clientId: string): Promise<boolean> => (await run(OUTBOX, "readonly", -1, (s) => s.count(clientId))) !== 0,
  putOutbox: (entry: OutboxEntry): Promise<unknown> => run(OUTBOX, "readwrite", null, (s) => s.put(entry)),
  deleteOutbox: (clientId: string): Promise<unknown> => run(OUTBOX, "readwrite", null, (s) => s.delete(clientId)),
};
