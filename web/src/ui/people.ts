/**
 * The "People" panel: everyone in the room, the reader first and marked
 * "(you)", then the rest alphabetically. On phones it is a drawer opened by
 * the header's People button.
 */
import type { RoomState } from "../state";
import { byId, el } from "./dom";
import { avatar } from "./message";

const byName = new Intl.Collator(undefined, { sensitivity: "base" });

export class PeoplePanel {
  private readonly list = byId<HTMLUListElement>("people-list");
  private readonly heading = byId("people-count");
  private lastSig = "";

  render(room: RoomState): void {
    const youId = room.you?.id;
    const users = [...room.users.values()].sort((a, b) =>
      a.id === youId ? -1 : b.id === youId ? 1 : byName.compare(a.name, b.name),
    );
    this.heading.textContent = String(room.count);
    const sig = JSON.stringify([youId, users]);
    if (sig === this.lastSig) return;
    this.lastSig = sig;
    this.list.replaceChildren(
      ...users.map((u) => {
        const item = el("li", { class: u.id === youId ? "person you" : "person" }, avatar(u, "small"), el("bdi", { class: "person-name", text: u.name }));
        if (u.id === youId) item.append(el("span", { class: "you-tag", text: "you" }));
        return item;
      }),
    );
  }
}
