/**
 * The sidebar's "Direct messages": one link per conversation (to
 * /r/@…, so it opens like a room, in this tab or another), newest activity
 * first, with the other person's name and how many of their messages are
 * unread. Hidden until there is a conversation.
 */
import type { Direct, Marker } from "../state";
import { roomPath } from "../route";
import { byId, el } from "./dom";
import { avatar } from "./message";
import { badgeText } from "./rooms";

export class DirectsPanel {
  private readonly section = byId("dm-section");
  private readonly list = byId<HTMLUListElement>("dm-list");
  private lastSig = "";

  /** `go` opens a conversation's room. */
  constructor(private readonly go: (room: string) => void) {}

  render(directs: Direct[], current: string, reads: Map<string, Marker>): void {
    const unread = (d: Direct): number => (d.room === current ? 0 : (reads.get(d.room)?.unread ?? 0));
    const sig = JSON.stringify([current, directs.map((d) => [d.room, d.with, unread(d)])]);
    if (sig === this.lastSig) return;
    this.lastSig = sig;
    this.section.hidden = directs.length === 0;
    this.list.replaceChildren(...directs.map((d) => this.item(d, d.room === current, unread(d))));
  }

  private item(d: Direct, current: boolean, unread: number): HTMLLIElement {
    const link = el("a", { class: "room-link dm-link", attrs: { href: roomPath(d.room) } }, avatar(d.with, "small"), el("bdi", { class: "room-name", text: d.with.name }));
    if (unread) {
      link.append(el("span", { class: "unread-badge" }, badgeText(unread), el("span", { class: "visually-hidden", text: " unread" })));
    }
    if (current) link.setAttribute("aria-current", "page");
    link.addEventListener("click", (e) => {
      if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      this.go(d.room);
    });
    return el("li", {}, link);
  }
}
