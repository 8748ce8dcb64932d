/**
 * The room header: its name, the live count, and the copy-link button.
 * Also owns the tab title, which starts with the number of unread
 * messages in every room and conversation the reader has read before.
 */
import { roomLabel, totalUnread, type AppState } from "../state";
import { byId } from "./dom";
import { roomPath } from "../route";

/** How long "Link copied" stays before the button reads "Copy link" again. */
const COPIED_MS = 2000;

export class Header {
  private readonly name = byId("room-name");
  private readonly sigil = byId("room-sigil");
  private readonly count = byId("room-count");
  private readonly copy = byId<HTMLButtonElement>("copy-link");
  private readonly copyLabel = byId("copy-label");
  private readonly status = byId("copy-status");
  private room = "";
  /** "#general", or "your conversation with Bilal". */
  private spoken = "";

  constructor() {
    this.copy.addEventListener("click", () => void this.copyLink());
  }

  render(state: AppState): void {
    const room = state.room;
    this.room = room.name;
    const label = roomLabel(state);
    this.spoken = label.sigil === "@" ? `your conversation with ${label.title}` : `#${label.title}`;
    this.sigil.textContent = label.sigil;
    this.name.textContent = label.title;
    this.count.textContent = room.joined || room.count ? `${room.count} online` : "";
    const total = totalUnread(state);
    const unread = total ? `(${total}) ` : "";
    document.title = `${unread}${label.sigil}${label.title} · Baat-Chit`;
  }

  private async copyLink(): Promise<void> {
    const url = `${location.origin}${roomPath(this.room)}`;
    const copied = await writeClipboard(url);
    this.copyLabel.textContent = copied ? "Copied" : "Copy failed";
    this.status.textContent = copied ? `Link to ${this.spoken} copied` : `Could not copy; the link is ${url}`;
    window.setTimeout(() => {
      this.copyLabel.textContent = "Copy link";
      this.status.textContent = "";
    }, COPIED_MS);
  }
}

/** The Clipboard API needs a secure context; plain http on a LAN falls back to execCommand. */
async function writeClipboard(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}
