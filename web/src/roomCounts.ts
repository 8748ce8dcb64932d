/**
 * The sidebar's live room counts (protocol version 2): after every
 * connect, `rooms { subscribe: true }` gives the baseline and from then
 * on the server pushes `counts`, the rooms whose count changed. The open
 * room's row reads the same source; its header reads `presence`, which
 * the server sends from the same change within a fraction of a second.
 */
import type { RoomCount } from "./protocol";
import type { ChatClient } from "./socket";
import type { AppState, Store } from "./state";

/** A refused or unanswered subscription is asked for again after this long. */
const RETRY_MS = 2000;

/** Most people first, then by name: the server's order for the baseline, kept as counts change. */
function order(a: RoomCount, b: RoomCount): number {
  return b.count - a.count || a.room.localeCompare(b.room);
}

/** Applies changed counts to the list: a count of 0 drops the room. */
export function applyCounts(rooms: RoomCount[], changed: RoomCount[]): RoomCount[] {
  const byRoom = new Map(rooms.map((r) => [r.room, r.count]));
  for (const c of changed) {
    if (c.count > 0) byRoom.set(c.room, c.count);
    else byRoom.delete(c.room);
  }
  return [...byRoom].map(([room, count]) => ({ room, count })).sort(order);
}

export class RoomCounts {
  /**
   * `counts` that arrive while the subscribing request is in flight. The
   * server subscribes before it reads the list, so these are applied after
   * the list: any change the list missed is in them, or in a later one.
   */
  private early: RoomCount[][] | null = null;

  constructor(
    private readonly client: ChatClient,
    private readonly store: Store<AppState>,
  ) {
    const socket = client.socket;
    socket.on("connect", () => void this.subscribe());
    socket.on("counts", ({ rooms }) => {
      if (this.early) this.early.push(rooms);
      else this.store.update((s) => (s.rooms = applyCounts(s.rooms, rooms)));
    });
  }

  private async subscribe(): Promise<void> {
    this.early = [];
    const ack = await this.client.rooms(true);
    const early = this.early;
    this.early = null;
    if (!ack.ok) {
      if (this.client.socket.connected) window.setTimeout(() => void this.subscribe(), RETRY_MS);
      return;
    }
    this.store.update((s) => (s.rooms = early.reduce(applyCounts, [...ack.rooms].sort(order))));
  }
}
