/**
 * A visually hidden aria-live region. New messages from others and join or
 * leave notices are spoken from here, so screen-reader users hear them
 * without the whole timeline (and every history page) being live.
 */
import { byId, el } from "./dom";

/** Old announcements are pruned; they have been read by then. */
const KEEP = 5;

export class Announcer {
  private readonly region = byId("announcer");

  say(text: string): void {
    this.region.append(el("p", { text }));
    while (this.region.children.length > KEEP) this.region.firstElementChild?.remove();
  }
}
