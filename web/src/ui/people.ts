/**
 * The "People" panel: everyone in the room, the reader first and marked
 * "(you)", then the rest alphabetically, each with a "Message privately"
 * button (not in a direct conversation: that is one already). On phones
 * it is a drawer opened by the header's People button.
 */
import { isDirect, type User } from "../protocol";
import type { RoomState } from "../state";
import { byId, el } from "./dom";
import { avatar } from "./message";

const byName = new Intl.Collator(undefined, { sensitivity: "base" });

export class PeoplePanel {
  private readonly list = byId<HTMLUListElement>("people-list");
  private readonly heading = byId("people-count");
  private lastSig = "";

  /** `message` opens a direct conversation with someone. */
  constructor(private readonly message: (user: User) => void) {}

  render(room: RoomState): void {
    const youId = room.you?.id;
    const users = [...room.users.values()].sort((a, b) =>
      a.id === youId ? -1 : b.id === youId ? 1 : byName.compare(a.name, b.name),
    );
    this.heading.textContent = String(room.count);
    const direct = isDirect(room.name);
    const sig = JSON.stringify([youId, direct, users]);
    if (sig === this.lastSig) return;
    this.lastSig = sig;
    this.list.replaceChildren(
      ...users.map((u) => {
        const item = el("li", { class: u.id === youId ? "person you" : "person" }, avatar(u, "small"), el("bdi", { class: "person-name", text: u.name }));
        if (u.id === youId) item.append(el("span", { class: "you-tag", text: "you" }));
        else if (!direct) item.append(this.messageButton(u));
        return item;
      }),
    );
  }

  private messageButton(u: User): HTMLButtonElement {
    const button = el("button", {
      class: "icon-button message-privately",
      attrs: { type: "button", title: "Message privately", "aria-label": `Message ${u.name} privately` },
    });
    button.append(bubble());
    button.addEventListener("click", () => this.message(u));
    return button;
  }
}

/** A speech bubble icon, built as SVG nodes (no markup strings). */
function bubble(): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M5 5.5h14a1.5 1.5 0 0 1 1.5 1.5v8a1.5 1.5 0 0 1-1.5 1.5h-7l-4.5 3.5V16.5H5A1.5 1.5 0 0 1 3.5 15V7A1.5 1.5 0 0 1 5 5.5z");
  for (const [k, v] of [["fill", "none"], ["stroke", "currentColor"], ["stroke-width", "2"], ["stroke-linejoin", "round"]]) path.setAttribute(k!, v!);
  svg.append(path);
  return svg;
}
