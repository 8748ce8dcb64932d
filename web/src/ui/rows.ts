/**
 * Turns a room's state into the ordered rows of the timeline: day
 * separators, messages grouped by author, notices at the point they
 * happened, the "New" divider above the first unread message, the gap
 * below a message opened far back, and this page's unsent messages last. Each row has a stable
 * key and a signature of everything that changes how it looks, so the
 * timeline re-renders only rows whose signature changed.
 */
import type { MessageV2, User } from "../protocol";
import type { GapSide } from "../around";
import { firstUnread, type Notice, type Pending, type RoomState } from "../state";
import { dayKey, dayLabel, mentions, noticePhrase } from "../text";
import { el } from "./dom";
import { dayRow, messageRow, noticeRow, pendingRow, type MessageActions, type PendingActions, type Quote } from "./message";

export type RowActions = PendingActions & MessageActions & {
  /** Loads messages into the gap below a message opened far back, from its top or bottom edge. */
  fillGap: (side: GapSide) => void;
};

export interface Row {
  key: string;
  sig: string;
  build: () => HTMLLIElement;
  /** A stored message's seq: how far the reader has read when it is in view. */
  seq?: number;
}

/** Messages from one author this close together share one header. */
const GROUP_GAP_MS = 5 * 60 * 1000;

interface Cursor {
  /** The previous row's author and time when it was a message, else null. */
  last: { userId: string; ts: number } | null;
  day: string | null;
  /** Past the gap, a day may begin a second time; its key must differ. */
  pastGap: boolean;
}

function dayBreak(rows: Row[], cursor: Cursor, ts: number): void {
  const day = dayKey(ts);
  if (day === cursor.day) return;
  const label = dayLabel(ts);
  rows.push({ key: `day:${day}${cursor.pastGap ? ":2" : ""}`, sig: label, build: () => dayRow(label) });
  cursor.day = day;
  cursor.last = null;
}

/** What a reply quotes of its original, from the messages loaded. */
function quoteOf(m: MessageV2, byId: Map<number, MessageV2>): Quote | null {
  if (m.replyTo === undefined) return null;
  const original = byId.get(m.replyTo);
  if (!original) return { kind: "unloaded" };
  if (original.deleted || original.text === undefined) return { kind: "deleted", author: original.user.name };
  return { kind: "loaded", author: original.user.name, text: original.text };
}

function pushMessage(rows: Row[], cursor: Cursor, m: MessageV2, room: RoomState, byId: Map<number, MessageV2>, actions: RowActions): void {
  dayBreak(rows, cursor, m.ts);
  const you = room.you;
  const grouped = cursor.last !== null && cursor.last.userId === m.user.id && m.ts - cursor.last.ts < GROUP_GAP_MS;
  const mine = you !== null && m.user.id === you.id;
  const myName = you?.name ?? null;
  const myId = you?.id ?? null;
  const mentioned = !mine && m.text !== undefined && mentions(m.text, myName);
  const quote = quoteOf(m, byId);
  const o = { grouped, mine, myId, myName, mentioned, quote };
  rows.push({
    key: `m:${m.id}`,
    sig: JSON.stringify([o, m.text, m.editedAt, m.deleted, m.reactions]),
    build: () => messageRow(m, o, actions),
    seq: m.seq,
  });
  cursor.last = { userId: m.user.id, ts: m.ts };
}

function pushNotice(rows: Row[], cursor: Cursor, n: Notice): void {
  const phrase = noticePhrase(n.kind, n.names);
  rows.push({ key: `n:${n.key}`, sig: JSON.stringify(phrase), build: () => noticeRow(phrase) });
  cursor.last = null;
}

function pushPending(rows: Row[], cursor: Cursor, p: Pending, you: User, actions: PendingActions): void {
  dayBreak(rows, cursor, Date.now());
  const grouped = cursor.last !== null && cursor.last.userId === you.id;
  rows.push({
    key: `p:${p.clientId}`,
    sig: `${grouped}|${p.status}|${p.error ?? ""}`,
    build: () => pendingRow(p, you, grouped, actions),
  });
  cursor.last = { userId: you.id, ts: Date.now() };
}

/** "New", above the first unread message; a heading, so screen readers can jump to it. */
function newRow(): HTMLLIElement {
  return el("li", { class: "new-divider" }, el("h2", { class: "new-label" }, "New", el("span", { class: "visually-hidden", text: " messages" })));
}

/** Where messages between a message opened far back and the newest ones are not loaded yet. */
function gapRow(loading: boolean, fill: (side: GapSide) => void): HTMLLIElement {
  const button = el("button", { class: "button quiet", text: loading ? "Loading more messages…" : "Load the messages in between", attrs: { type: "button" } });
  button.disabled = loading;
  button.addEventListener("click", () => fill("top"));
  return el("li", { class: "gap" }, button);
}

export function buildRows(room: RoomState, actions: RowActions): Row[] {
  const rows: Row[] = [];
  const byId = new Map(room.messages.map((m) => [m.id, m]));
  const cursor: Cursor = { last: null, day: null, pastGap: false };
  const divider = firstUnread(room)?.id;
  const gap = room.gap;
  let n = 0;
  for (const m of room.messages) {
    while (n < room.notices.length && room.notices[n]!.afterSeq < m.seq) pushNotice(rows, cursor, room.notices[n++]!);
    if (gap && !cursor.pastGap && m.seq > gap.after) {
      const loading = room.loadingNewer;
      rows.push({ key: "gap", sig: String(loading), build: () => gapRow(loading, actions.fillGap) });
      Object.assign(cursor, { last: null, day: null, pastGap: true });
    }
    if (m.id === divider) {
      dayBreak(rows, cursor, m.ts);
      rows.push({ key: "new", sig: "", build: newRow });
      cursor.last = null;
    }
    pushMessage(rows, cursor, m, room, byId, actions);
  }
  while (n < room.notices.length) pushNotice(rows, cursor, room.notices[n++]!);
  if (room.you) {
    const you = room.you;
    for (const p of room.pending) pushPending(rows, cursor, p, you, actions);
  }
  return rows;
}
