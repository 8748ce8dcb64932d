/**
 * Pure text helpers for rendering: finding mentions in a message,
 * and formatting times and days. They return plain data; turning it into
 * DOM nodes (always as text) is the job of ui/message.ts and ui/formatted.ts.
 */

import { plainText } from "./markdown";
import type { Change, MessageV2 } from "./protocol";

export type Piece = { kind: "text"; text: string } | { kind: "mention"; text: string };

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Splits text into plain pieces and mentions of `name` (whole words, any case, optional @). */
export function splitMentions(text: string, name: string | null): Piece[] {
  const trimmed = name?.trim();
  if (!trimmed) return text ? [{ kind: "text", text }] : [];
  const re = new RegExp(`(?<![\\p{L}\\p{N}_@])@?${escapeRegExp(trimmed)}(?![\\p{L}\\p{N}_])`, "giu");
  const pieces: Piece[] = [];
  let at = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > at) pieces.push({ kind: "text", text: text.slice(at, m.index) });
    pieces.push({ kind: "mention", text: m[0] });
    at = m.index + m[0].length;
  }
  if (at < text.length) pieces.push({ kind: "text", text: text.slice(at) });
  return pieces;
}

export function mentions(text: string, name: string | null): boolean {
  return splitMentions(text, name).some((p) => p.kind === "mention");
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const dated = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric" });

export const formatTime = (ts: number): string => clock.format(ts);

/** "1:28" rather than "1:28 PM", to fit beside a grouped message. */
export function formatShortTime(ts: number): string {
  return clock
    .formatToParts(ts)
    .filter((part) => part.type !== "dayPeriod")
    .map((part) => part.value)
    .join("")
    .trim();
}
export const formatFull = (ts: number): string => full.format(ts);

/** A local calendar day, for grouping and separators. */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** "Today", "Yesterday", "Monday, 24 November", or with the year when it is not this one. */
export function dayLabel(ts: number, now = Date.now()): string {
  const key = dayKey(ts);
  if (key === dayKey(now)) return "Today";
  const yesterday = new Date(now);
  yesterday.setDate(yesterday.getDate() - 1);
  if (key === dayKey(yesterday.getTime())) return "Yesterday";
  const sameYear = new Date(ts).getFullYear() === new Date(now).getFullYear();
  return sameYear ? weekday.format(ts) : dated.format(ts);
}

/** A stable colour slot (0–7) per user, so avatars are recognisable. */
export function hueOf(id: string): number {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % 8;
}

/** The first letter (or digit, or emoji) of a name, for its avatar; skips marks and controls. */
export function initial(name: string): string {
  const first = /[\p{L}\p{N}\p{So}]/u.exec(name)?.[0] ?? "?";
  return first.toLocaleUpperCase();
}

/** 32 random hex digits; randomUUID needs a secure context, this does not. */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Text with people's names kept apart, so the UI can isolate each name's direction. */
export type Phrase = Array<string | { name: string }>;

export const phraseText = (phrase: Phrase): string =>
  phrase.map((part) => (typeof part === "string" ? part : part.name)).join("");

/** "Asha", "Asha and Bilal", "Asha, Bilal and Chen", "Asha, Bilal and 3 others". */
function listNames(names: string[]): Phrase {
  const [a = "", b = "", c = ""] = names;
  if (names.length === 1) return [{ name: a }];
  if (names.length === 2) return [{ name: a }, " and ", { name: b }];
  if (names.length === 3) return [{ name: a }, ", ", { name: b }, " and ", { name: c }];
  return [{ name: a }, ", ", { name: b }, ` and ${names.length - 2} others`];
}

/** "Asha joined", "Asha, Bilal and 3 others left". */
export function noticePhrase(kind: "joined" | "left", names: string[]): Phrase {
  return [...listNames(names), ` ${kind}`];
}

/** "Bilal is typing…", "Asha and Bilal are typing…", "Several people are typing…". */
export function typingPhrase(names: string[]): Phrase {
  if (!names.length) return [];
  if (names.length > 2) return ["Several people are typing…"];
  return [...listNames(names), names.length === 1 ? " is typing…" : " are typing…"];
}

/** The emoji whose reaction by `userId` differs between two states of a message, and whether it was added. */
export function reactionDelta(before: MessageV2, after: MessageV2, userId: string): { emoji: string; added: boolean } | null {
  const mine = (m: MessageV2) => new Set(m.reactions.filter((r) => r.users.some((u) => u.id === userId)).map((r) => r.emoji));
  const [was, is] = [mine(before), mine(after)];
  for (const emoji of is) if (!was.has(emoji)) return { emoji, added: true };
  for (const emoji of was) if (!is.has(emoji)) return { emoji, added: false };
  return null;
}

/**
 * What a screen reader hears of someone else's change: edits and deletes,
 * and reactions to the reader's own messages (others' reactions would be
 * noise). Null when there is nothing worth saying.
 */
export function changePhrase(c: Change, before: MessageV2 | null, myId: string | null): string | null {
  const who = c.user.name;
  if (c.kind === "edit") return `${who} edited a message: ${plainText(c.message.text ?? "")}`;
  if (c.kind === "delete") return `${who} deleted a message`;
  if (!before || c.message.user.id !== myId) return null;
  const delta = reactionDelta(before, c.message, c.user.id);
  if (!delta) return null;
  return delta.added ? `${who} reacted ${delta.emoji} to your message` : `${who} took back ${delta.emoji} on your message`;
}

/** `text` cut to `max` characters (code points), with an ellipsis if it was longer. */
export function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : text;
}

/** The first line of a text, cut to `max` characters, for a reply's quote. */
export function snippet(text: string, max = 80): string {
  return cut((text.split("\n").find((l) => l.trim()) ?? "").trim(), max);
}
