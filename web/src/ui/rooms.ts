/**
 * The "Rooms" panel: active rooms with their live counts and, for rooms
 * the reader has read before, how many messages are unread (rooms with
 * unread messages are listed even when nobody is in them). Each is a real
 * link to /r/<room> (so it can be opened in a new tab or copied). Below,
 * a small form to join or create a room by name.
 */
import { isDirect, LIMITS, type RoomCount } from "../protocol";
import { roomPath } from "../route";
import type { Marker } from "../state";
import { byId, el } from "./dom";

/** A sidebar row: the room, its count, and its unread messages (0 for the open room). */
interface RoomRow extends RoomCount {
  unread: number;
}

/** "3", or "99+" where a number would not fit the badge. */
export function badgeText(n: number): string {
  return n > 99 ? "99+" : String(n);
}

export class RoomsPanel {
  private readonly list = byId<HTMLUListElement>("room-list");
  private readonly form = byId<HTMLFormElement>("room-form");
  private readonly input = byId<HTMLInputElement>("room-input");
  private readonly error = byId("room-error");
  private lastSig = "";

  /** `go` enters a room, or shows why not (via showError) and returns false. */
  constructor(private readonly go: (room: string) => boolean) {
    this.input.maxLength = LIMITS.roomMax;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (go(this.input.value)) this.input.value = "";
    });
  }

  showError(message: string): void {
    this.error.textContent = message;
    this.input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  /**
   * The active rooms, then rooms with unread messages nobody is in; the
   * current one is always listed and marked (unless it is a direct
   * conversation), with the header's count until the live counts have it.
   */
  render(rooms: RoomCount[], current: string, currentCount: number, reads: Map<string, Marker>): void {
    const unread = (room: string): number => (room === current ? 0 : (reads.get(room)?.unread ?? 0));
    const listed: RoomRow[] = rooms.map((r) => ({ ...r, unread: unread(r.room) }));
    for (const [room, marker] of reads) {
      if (marker.unread && room !== current && !isDirect(room) && !rooms.some((r) => r.room === room)) listed.push({ room, count: 0, unread: marker.unread });
    }
    if (!isDirect(current) && !rooms.some((r) => r.room === current)) listed.unshift({ room: current, count: currentCount, unread: 0 });
    const sig = JSON.stringify([current, listed]);
    if (sig === this.lastSig) return;
    this.lastSig = sig;
    this.list.replaceChildren(...listed.map((r) => this.item(r, r.room === current)));
  }

  private item(r: RoomRow, current: boolean): HTMLLIElement {
    const link = el(
      "a",
      { class: "room-link", attrs: { href: roomPath(r.room) } },
      el("span", { class: "room-hash", text: "#", attrs: { "aria-hidden": "true" } }),
      el("bdi", { class: "room-name", text: r.room }),
    );
    if (r.unread) link.append(el("span", { class: "unread-badge" }, badgeText(r.unread), el("span", { class: "visually-hidden", text: " unread" })));
    link.append(el("span", { class: "room-count" }, String(r.count), el("span", { class: "visually-hidden", text: " online" })));
    if (current) link.setAttribute("aria-current", "page");
    link.addEventListener("click", (e) => {
      if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      this.go(r.room);
    });
    return el("li", {}, link);
  }
}
