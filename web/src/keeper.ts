/**
 * Keeps the open room's newest messages in IndexedDB (see saved.ts) a
 * moment after they change, so the room can be read again offline and
 * re-joined with `since`. Only a joined room is saved: its messages and
 * log position then agree with the server.
 */
import { KEEP_MESSAGES, saved } from "./saved";
import type { AppState, RoomState, Store } from "./state";

/** Bursts of messages are saved once. */
const SAVE_DELAY_MS = 500;

export function keepRooms(store: Store<AppState>): void {
  let timer = 0;
  let last: { room: RoomState; logSeq: number; count: number } | null = null;
  store.subscribe(({ room }) => {
    if (!room.joined) return;
    if (last?.room === room && last.logSeq === room.logSeq && last.count === room.messages.length) return;
    last = { room, logSeq: room.logSeq, count: room.messages.length };
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void save(room), SAVE_DELAY_MS);
  });
}

function save(room: RoomState): Promise<unknown> {
  const messages = room.messages.slice(-KEEP_MESSAGES);
  return saved.saveRoom({
    name: room.name,
    messages,
    logSeq: room.logSeq,
    hasOlder: room.hasOlder || messages.length < room.messages.length,
    you: room.you,
  });
}
