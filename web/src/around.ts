/**
 * Opening a room somewhere in its past: at a search result, or at the
 * first unread message when it is further back than the join's page.
 * `history { around }` brings the messages around that seq; if they are
 * far from the newest ones, a gap between the two is remembered, shown in
 * the timeline, and filled page by page (`history { after }`) as the
 * reader scrolls down to it. New messages keep arriving below the gap.
 */
import type { MessageV2 } from "./protocol";
import type { ChatClient } from "./socket";
import { mergeMessages, type AppState, type RoomState, type Store } from "./state";

/** Messages asked for around a seq: half before it, half after. */
const AROUND_LIMIT = 50;
/** Messages per page while filling a gap. */
const NEWER_LIMIT = 100;

/**
 * Merges a page read around a seq. Only one gap is kept: a page far from
 * the newest messages replaces the older part of an earlier one.
 */
export function mergeAround(room: RoomState, page: MessageV2[], hasOlder: boolean, hasNewer: boolean): void {
  if (!page.length) return;
  const gap = room.gap;
  if (gap) {
    room.messages = room.messages.filter((m) => m.seq > gap.after);
    room.gap = null;
  }
  const first = page[0]!.seq;
  const last = page[page.length - 1]!.seq;
  const tail = room.messages[0]?.seq;
  if (tail === undefined || first < tail) room.hasOlder = hasOlder;
  // Newer messages exist and the page ends before the loaded ones begin.
  if (hasNewer && tail !== undefined && last < tail) room.gap = { after: last };
  mergeMessages(room, page);
}

/** Merges a page read after the gap's start; the gap closes once the page reaches the loaded messages. */
export function mergeNewer(room: RoomState, page: MessageV2[], hasMore: boolean): void {
  const gap = room.gap;
  if (!gap) return;
  const next = room.messages.find((m) => m.seq > gap.after)?.seq;
  mergeMessages(room, page);
  const last = page[page.length - 1]?.seq;
  const closed = !hasMore || last === undefined || next === undefined || last >= next;
  room.gap = closed ? null : { after: last };
}

/** Loads the messages around `seq` into the open room; resolves to whether it did. */
export async function loadAround(client: ChatClient, store: Store<AppState>, seq: number): Promise<boolean> {
  const room = store.state.room;
  const ack = await client.history(room.name, { around: seq, limit: AROUND_LIMIT });
  if (!ack.ok || store.state.room !== room) return false;
  store.update(() => mergeAround(room, ack.messages, ack.hasMore, ack.hasNewer ?? false));
  return true;
}

/** Loads the next page of the gap, if there is one and it is not loading; resolves to whether it did. */
export async function loadNewer(client: ChatClient, store: Store<AppState>): Promise<boolean> {
  const room = store.state.room;
  const gap = room.gap;
  if (!gap || !room.joined || room.loadingNewer) return false;
  store.update(() => (room.loadingNewer = true));
  const ack = await client.history(room.name, { after: gap.after, limit: NEWER_LIMIT });
  store.update(() => {
    room.loadingNewer = false;
    // A newer jump may have replaced the gap meanwhile.
    if (ack.ok && room.gap?.after === gap.after) mergeNewer(room, ack.messages, ack.hasMore);
  });
  return ack.ok;
}
