/**
 * A search result's text, cut into plain and marked pieces by the
 * server's highlight ranges (UTF-16 offsets into the text), and trimmed
 * to an excerpt around the first match when the message is long. The
 * pieces become text nodes and <mark>s; nothing here is ever HTML.
 */
import type { Highlight } from "./protocol";

export interface Piece {
  text: string;
  mark: boolean;
}

/** Characters shown before the first match when the text is cut. */
const LEAD = 60;

/** Ranges that fit the text, in order, not overlapping (the server promises this; a bad one is dropped). */
function cleanRanges(length: number, ranges: Highlight[]): Highlight[] {
  const clean: Highlight[] = [];
  let end = 0;
  for (const [a, b] of [...ranges].sort((x, y) => x[0] - y[0])) {
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < end || b <= a || b > length) continue;
    clean.push([a, b]);
    end = b;
  }
  return clean;
}

/** Moves `i` off the second half of a surrogate pair, so no emoji is cut in two. */
function boundary(text: string, i: number): number {
  const code = text.charCodeAt(i);
  return code >= 0xdc00 && code <= 0xdfff ? i + 1 : i;
}

/**
 * The pieces of `text` with `ranges` marked; a text longer than `max`
 * is cut to `max` characters starting a little before the first match,
 * with "…" where it was cut.
 */
export function highlightPieces(text: string, ranges: Highlight[], max = 240): Piece[] {
  const marks = cleanRanges(text.length, ranges);
  let from = 0;
  let to = text.length;
  if (text.length > max) {
    from = boundary(text, Math.max(0, Math.min((marks[0]?.[0] ?? 0) - LEAD, text.length - max)));
    to = boundary(text, Math.min(text.length, from + max));
  }
  const pieces: Piece[] = [];
  const plain = (a: number, b: number): void => void (b > a && pieces.push({ text: text.slice(a, b), mark: false }));
  if (from > 0) pieces.push({ text: "…", mark: false });
  let at = from;
  for (const [a, b] of marks) {
    if (b <= from || a >= to) continue;
    const start = Math.max(a, from);
    const end = Math.min(b, to);
    plain(at, start);
    pieces.push({ text: text.slice(start, end), mark: true });
    at = end;
  }
  plain(at, to);
  if (to < text.length) pieces.push({ text: "…", mark: false });
  return pieces;
}
