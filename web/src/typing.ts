/**
 * Typing, both ways. Outgoing: "typing: true" at most every few seconds
 * while the composer has text, "false" once when it empties, is sent or
 * loses focus. Incoming: who is typing, dropped locally if the server's
 * own expiry never arrives (e.g. it was lost in a disconnect).
 */
import type { Typing } from "./protocol";
import type { ChatClient } from "./socket";
import type { RoomState } from "./state";

/** Tell the room "still typing" at most this often. */
const RENEW_MS = 3000;
/** Someone's "typing" is dropped after this long without renewal. */
const STALE_MS = 8000;

export class TypingTracker {
  private sentAt = 0;
  /** userId → when their latest "typing: true" arrived. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly client: ChatClient) {}

  /** The composer has text (true) or not any more (false). */
  local(room: string, active: boolean): void {
    const now = Date.now();
    if (active && now - this.sentAt > RENEW_MS) {
      this.client.typing(room, true);
      this.sentAt = now;
    } else if (!active && this.sentAt) {
      this.client.typing(room, false);
      this.sentAt = 0;
    }
  }

  /** Applies someone else's typing event to the room. */
  remote(room: RoomState, t: Typing): void {
    if (t.typing) {
      this.seen.set(t.user.id, Date.now());
      room.typing.set(t.user.id, t.user.name);
    } else {
      this.stopped(room, t.user.id);
    }
  }

  /** Their message arrived (or they left): they are not typing any more. */
  stopped(room: RoomState, userId: string): void {
    this.seen.delete(userId);
    room.typing.delete(userId);
  }

  /** Ids whose typing went stale by `now`. */
  stale(now: number): string[] {
    return [...this.seen].filter(([, at]) => now - at > STALE_MS).map(([id]) => id);
  }

  /** A new room or a lost connection: nothing sent or seen still holds. */
  reset(): void {
    this.sentAt = 0;
    this.seen.clear();
  }
}
