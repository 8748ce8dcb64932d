/** The "Bilal is typing…" line under the timeline. */
import type { RoomState } from "../state";
import { typingPhrase } from "../text";
import { byId } from "./dom";
import { phraseNodes } from "./message";

export class TypingLine {
  private readonly node = byId("typing");
  private lastSig = "";

  render(room: RoomState): void {
    const names = [...room.typing.values()];
    const sig = JSON.stringify(names);
    if (sig === this.lastSig) return;
    this.lastSig = sig;
    this.node.replaceChildren(...phraseNodes(typingPhrase(names)));
  }
}
