/**
 * The "Rooms" panel: active rooms with their counts, each a real link to
 * /r/<room> (so it can be opened in a new tab or copied), and a small form
 * to join or create a room by name.
 */
import { isDirect, LIMITS, type RoomCount } from "../protocol";
import { roomPath } from "../route";
import { byId, el } from "./dom";

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

  /** The active rooms, with the current one always listed and marked (unless it is a direct conversation). */
  render(rooms: RoomCount[], current: string, currentCount: number): void {
    const known = isDirect(current) || rooms.some((r) => r.room === current);
    const listed = known ? rooms : [{ room: current, count: currentCount }, ...rooms];
    const sig = JSON.stringify([current, listed]);
    if (sig === this.lastSig) return;
    this.lastSig = sig;
    this.list.replaceChildren(...listed.map((r) => this.item(r, r.room === current)));
  }

  private item(r: RoomCount, current: boolean): HTMLLIElement {
    const link = el(
      "a",
      { class: "room-link", attrs: { href: roomPath(r.room) } },
      el("span", { class: "room-hash", text: "#", attrs: { "aria-hidden": "true" } }),
      el("bdi", { class: "room-name", text: r.room }),
      el("span", { class: "room-count" }, String(r.count), el("span", { class: "visually-hidden", text: " online" })),
    );
    if (current) link.setAttribute("aria-current", "page");
    link.addEventListener("click", (e) => {
      if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      this.go(r.room);
    });
    return el("li", {}, link);
  }
}
