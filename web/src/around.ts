/**
 * Opening a room somewhere in its past: at a search result, or at the
 * first unread message when it is further back than the join's page.
 * `history { around }` brings the messages around that seq; if they are
 * far from the newest ones, a gap between the two is remembered, shown in
 * the timeline, and filled page by page as the reader scrolls to it:
 * from its top edge (`history { after }`) when the reader comes down to
 * it, from its bottom edge (`history { before }`) when they come up from
 * the newest messages. New messages keep arriving below the gap.
 */
import type { MessageV2 } from "./protocol";
import type { ChatClient } from "./socket";
import { findMessage, firstUnread, mergeMessages, placeAt, type AppState, type RoomState, type Store } from "./state";

/** Messages asked for around a seq: half before it, half after. */
const AROUND_LIMIT = 50;
/** Messages per page while filling a gap. */
const GAP_LIMIT = 100;

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

/** The gap's edge the reader comes to it from. */
export type GapSide = "top" | "bottom";

/** The seq of the first loaded message below the gap. */
function belowGap(room: RoomState, after: number): number | undefined {
  return room.messages.find((m) => m.seq > after)?.seq;
}

/**
 * Merges a page read into the gap from one edge; the gap closes once the
 * page reaches the messages loaded at its other edge (or there are no more).
 */
export function mergeGap(room: RoomState, side: GapSide, page: MessageV2[], hasMore: boolean): void {
  const gap = room.gap;
  if (!gap) return;
  const next = belowGap(room, gap.after);
  mergeMessages(room, page);
  const first = page[0]?.seq;
  const last = page[page.length - 1]?.seq;
  if (!hasMore || first === undefined || last === undefined || next === undefined) room.gap = null;
  else if (side === "top") room.gap = last >= next ? null : { after: last };
  else room.gap = first <= gap.after ? null : gap;
}

/** Shows the open room's message `id` (at `seq`) highlighted, loading the messages around it if need be. */
export async function openAtMessage(client: ChatClient, store: Store<AppState>, seq: number, id: number): Promise<void> {
  const room = store.state.room;
  store.update(() => placeAt(room, id));
  if (findMessage(room, id)) return;
  await loadAround(client, store, seq);
  // Gone meanwhile (deleted, or the room was left): the timeline stops waiting for it.
  if (!findMessage(room, id)) store.update(() => room.place?.at === id && (room.place = null));
}

/**
 * Opens the room just entered at its first unread message, below the
 * "New" divider, loading the messages around it when it is further back
 * than the join's page. The marker is the join's, as reads.ts took it: a
 * first visit to a public room has nothing unread.
 */
export async function openAtFirstUnread(client: ChatClient, store: Store<AppState>): Promise<void> {
  const room = store.state.room;
  const marker = store.state.reads.get(room.name);
  if (!marker?.unread) return;
  const readSeq = marker.readSeq;
  store.update(() => {
    room.newAfter = readSeq;
    placeAt(room, "new");
  });
  const oldest = room.messages[0];
  if (room.hasOlder && oldest && oldest.seq > readSeq) await loadAround(client, store, readSeq);
  if (!firstUnread(room)) store.update(() => room.place?.at === "new" && (room.place = null));
}

/** Loads the messages around `seq` into the open room; resolves to whether it did. */
export async function loadAround(client: ChatClient, store: Store<AppState>, seq: number): Promise<boolean> {
  const room = store.state.room;
  const ack = await client.history(room.name, { around: seq, limit: AROUND_LIMIT });
  if (!ack.ok || store.state.room !== room) return false;
  store.update(() => mergeAround(room, ack.messages, ack.hasMore, ack.hasNewer ?? false));
  return true;
}

/** Loads a page into the gap from `side`, if there is one and it is not loading; resolves to whether it did. */
export async function loadGap(client: ChatClient, store: Store<AppState>, side: GapSide): Promise<boolean> {
  const room = store.state.room;
  const gap = room.gap;
  const next = gap ? belowGap(room, gap.after) : undefined;
  if (!gap || next === undefined || !room.joined || room.loadingNewer) return false;
  store.update(() => (room.loadingNewer = true));
  const page = side === "top" ? { after: gap.after } : { before: next };
  const ack = await client.history(room.name, { ...page, limit: GAP_LIMIT });
  store.update(() => {
    room.loadingNewer = false;
    // A newer jump may have replaced the gap meanwhile.
    if (ack.ok && room.gap?.after === gap.after) mergeGap(room, side, ack.messages, ack.hasMore);
  });
  return ack.ok;
}
