/**
 * Opt-in desktop notifications for mentions. The button asks the browser
 * for permission; the choice is remembered. Nothing is shown while the
 * reader is looking at the page.
 */
import { identity } from "../identity";
import { plainText } from "../markdown";
import type { MessageV2 } from "../protocol";
import { byId } from "./dom";

const supported = (): boolean => "Notification" in window && window.isSecureContext;

export class MentionNotifier {
  private readonly button = byId<HTMLButtonElement>("notify-toggle");
  private enabled = identity.wantsNotifications();

  constructor() {
    if (!supported()) {
      this.button.hidden = true;
      return;
    }
    this.button.hidden = false;
    this.button.addEventListener("click", () => void this.toggle());
    this.refresh();
  }

  /** Shows a notification for a message that mentions the reader, if enabled and unseen. */
  mention(m: MessageV2): void {
    if (!this.active() || (document.visibilityState === "visible" && document.hasFocus())) return;
    const n = new Notification(`${m.user.name} mentioned you in #${m.room}`, { body: plainText(m.text ?? ""), tag: `baat-chit-${m.id}` });
    n.addEventListener("click", () => {
      window.focus();
      n.close();
    });
  }

  private active(): boolean {
    return supported() && this.enabled && Notification.permission === "granted";
  }

  private async toggle(): Promise<void> {
    if (this.active()) this.enabled = false;
    else this.enabled = (await Notification.requestPermission()) === "granted";
    identity.setWantsNotifications(this.enabled);
    this.refresh();
  }

  private refresh(): void {
    const on = this.active();
    this.button.setAttribute("aria-pressed", String(on));
    this.button.title = Notification.permission === "denied"
      ? "Notifications are blocked in this browser's site settings"
      : on ? "Desktop notifications for mentions are on; click to turn off" : "Get a desktop notification when someone mentions you";
  }
}
