/**
 * The scrolling timeline. Renders rows by key (only changed rows are
 * rebuilt), keeps the reader's place when older messages are prepended or
 * new ones arrive while scrolled up (then a "new messages" pill appears),
 * and asks for older history when the reader nears the top (and for the
 * messages in a gap as it comes into view). It takes the reader to the
 * "New" divider or a message when the room asks (`RoomState.place`), and
 * reports how far down the reader has seen, for the read marker.
 */
import type { RoomState } from "../state";
import { byId } from "./dom";
import { buildRows, type RowActions } from "./rows";

/** Within this many pixels of the bottom counts as "reading the latest". */
const BOTTOM_SLACK = 48;
/** Start fetching older messages this close to the top. */
const TOP_TRIGGER = 160;
/** How long a message reached from a reply's quote stays highlighted. */
const HIGHLIGHT_MS = 2500;
/** A message counts as seen once this much of it (or all of a shorter one) is in view. */
const SEEN_PX = 40;
/** Room left above the "New" divider when the timeline opens at it. */
const ABOVE_DIVIDER = 48;
/** Load the gap's messages when it comes this close to the view. */
const GAP_TRIGGER = 200;

export type TimelineActions = RowActions & {
  loadOlder: () => void;
  /** The reader has seen the room's messages up to this seq. */
  seen: (seq: number) => void;
};

export class Timeline {
  private readonly scroller = byId("timeline");
  private readonly list = byId<HTMLOListElement>("messages");
  private readonly olderButton = byId<HTMLButtonElement>("load-older");
  private readonly pill = byId<HTMLButtonElement>("new-pill");
  private readonly start = byId("timeline-start");
  private readonly startRoom = byId("start-room");
  private readonly startSigil = byId("start-sigil");
  private readonly startText = byId("start-text");
  private cache = new Map<string, { sig: string; node: HTMLLIElement }>();
  private lastKey: string | null = null;
  private stickNext = true;
  private hasOlder = false;
  /** Whether the reader is at the newest message, as of their last scroll. */
  private following = true;
  /** scrollTop as last seen or set here; a difference means a scroll whose event is still pending. */
  private knownTop = 0;
  /** The key of the last `RoomState.place` carried out. */
  private placed = 0;
  /** A place is asked for and its row is not loaded yet: what is in view now says nothing of reading. */
  private waiting = false;

  constructor(private readonly actions: TimelineActions) {
    this.scroller.addEventListener("scroll", () => this.onScroll(), { passive: true });
    this.olderButton.addEventListener("click", () => actions.loadOlder());
    this.pill.addEventListener("click", () => this.scrollToBottom());
    // A phone keyboard opening or a window resize must not lose the newest message.
    new ResizeObserver(() => {
      if (this.following) this.scrollToBottom();
    }).observe(this.scroller);
  }

  /** Whether the reader is at the newest message, so what arrives is read. */
  isFollowing(): boolean {
    return this.following && !this.waiting;
  }

  /** The next render jumps to the newest message (entering a room, sending). */
  stickToBottom(): void {
    this.stickNext = true;
  }

  /** `label` is how the room is named on screen (see `roomLabel`). */
  render(room: RoomState, label: { sigil: string; title: string }): void {
    // Following is known from the last scroll (a resize may have moved the
    // bottom since); a moved scrollTop means a scroll whose event is pending.
    if (this.scroller.scrollTop !== this.knownTop) this.noteScroll();
    const atBottom = this.stickNext || this.following;
    const anchor = atBottom ? null : this.firstVisible();
    const rows = buildRows(room, this.actions);
    this.reconcile(rows);
    this.hasOlder = room.hasOlder;
    this.olderButton.hidden = !room.hasOlder;
    this.olderButton.disabled = room.loadingOlder;
    this.olderButton.textContent = room.loadingOlder ? "Loading older messages…" : "Load older messages";
    this.renderStart(room, label);
    const newLast = rows.length ? rows[rows.length - 1]!.key : null;
    const grewAtEnd = newLast !== this.lastKey && newLast !== null && newLast.startsWith("m:");
    this.lastKey = newLast;
    if (atBottom) this.scrollToBottom();
    else {
      const node = anchor && this.cache.get(anchor.key)?.node;
      if (node && anchor) this.scroller.scrollTop = node.offsetTop + node.offsetHeight - anchor.offset;
      this.knownTop = this.scroller.scrollTop;
      if (grewAtEnd) this.pill.hidden = false;
    }
    this.stickNext = false;
    this.goToPlace(room);
    this.afterMove();
  }

  /** Carries out the room's `place` once its row is there: the "New" divider near the top, or a message highlighted. */
  private goToPlace(room: RoomState): void {
    const place = room.place;
    this.waiting = place !== null && place.key !== this.placed;
    if (!place || !this.waiting) return;
    const node = this.cache.get(place.at === "new" ? "new" : `m:${place.at}`)?.node;
    if (!node) return;
    this.placed = place.key;
    this.waiting = false;
    if (place.at !== "new") {
      this.highlight(place.at);
      return;
    }
    this.scroller.scrollTop = node.offsetTop - ABOVE_DIVIDER;
    this.noteScroll();
    this.pill.hidden = this.following;
  }

  /** After a render or a scroll: report what has been seen, and fill a gap that is in view. */
  private afterMove(): void {
    this.reportSeen();
    const gap = this.cache.get("gap")?.node;
    const s = this.scroller;
    if (gap && gap.offsetTop < s.scrollTop + s.clientHeight + GAP_TRIGGER && gap.offsetTop + gap.offsetHeight > s.scrollTop - GAP_TRIGGER) {
      // Filled from the edge the reader is at, so what loads appears where they are looking.
      this.actions.fillGap(gap.offsetTop < s.scrollTop + s.clientHeight / 2 ? "bottom" : "top");
    }
  }

  /** Tells the read marker the seq of the lowest message in view, when the reader can see the page. */
  reportSeen(): void {
    if (this.waiting || document.visibilityState !== "visible") return;
    const top = this.scroller.scrollTop;
    const bottom = top + this.scroller.clientHeight;
    const nodes = this.list.children;
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i] as HTMLElement;
      const seq = node.dataset["seq"];
      if (!seq || node.offsetTop + Math.min(node.offsetHeight, SEEN_PX) > bottom) continue;
      if (node.offsetTop + node.offsetHeight > top) this.actions.seen(Number(seq));
      return;
    }
  }

  /** The room's beginning (or why it could not be entered) above its first message. */
  private renderStart(room: RoomState, label: { sigil: string; title: string }): void {
    this.start.hidden = !room.joinError && (!room.joined || room.hasOlder);
    this.startSigil.textContent = label.sigil;
    this.startRoom.textContent = label.title;
    const direct = label.sigil === "@";
    this.startText.textContent = room.joinError
      ? `Could not enter this ${direct ? "conversation" : "room"}: ${room.joinError}`
      : direct
        ? `This is the beginning of your private conversation with ${label.title}. Only the two of you can read it.`
        : room.messages.length
          ? "This is the beginning of the room."
          : "No messages yet. Say hello!";
  }

  /** Starts a fresh room: forget rows and jump to the end on next render. */
  reset(): void {
    this.cache.clear();
    this.list.replaceChildren();
    this.lastKey = null;
    this.pill.hidden = true;
    this.stickNext = true;
    this.waiting = false;
  }

  /**
   * Scrolls to a message's row, highlights it and moves focus there, so a
   * screen reader continues from the original of a quoted reply.
   */
  highlight(id: number): boolean {
    const node = this.list.querySelector<HTMLElement>(`li[data-id="${id}"]`);
    if (!node) return false;
    node.scrollIntoView({ block: "center" });
    this.noteScroll();
    node.classList.add("highlight");
    node.focus({ preventScroll: true });
    window.setTimeout(() => node.classList.remove("highlight"), HIGHLIGHT_MS);
    return true;
  }

  /** The row of message `id`, if shown. */
  row(id: number): HTMLElement | null {
    return this.list.querySelector<HTMLElement>(`li[data-id="${id}"]`);
  }

  private reconcile(rows: ReturnType<typeof buildRows>): void {
    const next = new Map<string, { sig: string; node: HTMLLIElement }>();
    rows.forEach((row, i) => {
      const old = this.cache.get(row.key);
      const node = old && old.sig === row.sig ? old.node : row.build();
      if (old && old.node !== node) keepFocus(old.node, node);
      node.dataset["key"] = row.key;
      if (row.seq !== undefined) node.dataset["seq"] = String(row.seq);
      next.set(row.key, { sig: row.sig, node });
      const here = this.list.children[i];
      if (here !== node) this.list.insertBefore(node, here ?? null);
    });
    for (const [key, entry] of this.cache) if (next.get(key)?.node !== entry.node) entry.node.remove();
    this.cache = next;
  }

  private isAtBottom(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= BOTTOM_SLACK;
  }

  /**
   * The key of the first row in view and where its bottom edge is, to
   * restore after changes. The row may be rebuilt (it loses its header
   * when it joins a group), so its bottom, where its text ends, is what
   * stays put. Day separators move when older messages of the same day
   * arrive, so they cannot serve as anchors.
   */
  private firstVisible(): { key: string; offset: number } | null {
    const top = this.scroller.scrollTop;
    for (const node of this.list.children) {
      const el = node as HTMLElement;
      const key = el.dataset["key"];
      const bottom = el.offsetTop + el.offsetHeight;
      if (key && !key.startsWith("day:") && key !== "gap" && bottom > top) return { key, offset: bottom - top };
    }
    return null;
  }

  private scrollToBottom(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.knownTop = this.scroller.scrollTop;
    this.following = true;
    this.pill.hidden = true;
  }

  private noteScroll(): void {
    this.knownTop = this.scroller.scrollTop;
    this.following = this.isAtBottom();
  }

  private onScroll(): void {
    this.noteScroll();
    if (this.following) this.pill.hidden = true;
    if (this.hasOlder && this.scroller.scrollTop < TOP_TRIGGER) this.actions.loadOlder();
    this.afterMove();
  }
}

/**
 * A row rebuilt while focus is inside it (a reaction toggled by keyboard,
 * say) hands focus to the same control in the new row, by its data-focus
 * key, or else to the row's actions button or the row itself.
 */
function keepFocus(old: HTMLElement, replacement: HTMLElement): void {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !old.contains(active)) return;
  const key = active.dataset["focus"];
  const same = key ? [...replacement.querySelectorAll<HTMLElement>("[data-focus]")].find((e) => e.dataset["focus"] === key) : undefined;
  const target = same ?? replacement.querySelector<HTMLElement>("[data-focus=actions]") ?? replacement;
  // The new row is not in the document yet; focus once it is.
  queueMicrotask(() => target.focus({ preventScroll: true }));
}
