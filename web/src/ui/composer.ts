/**
 * The message box. Enter sends, Shift+Enter starts a new line (and Enter
 * while an IME is composing is left alone). It grows with its text, shows
 * a counter near the 2,000-character limit, and reports typing so the
 * controller can tell the room.
 */
import { LIMITS } from "../protocol";
import { byId } from "./dom";

/** Show the counter once this few characters remain. */
const COUNTER_FROM = 200;
/** The box grows up to this height before it scrolls. */
const MAX_HEIGHT_PX = 200;

export interface ComposerActions {
  send: (text: string) => void;
  /** Called on every edit with whether the box has text, and on blur with false. */
  typing: (active: boolean) => void;
}

export class Composer {
  private readonly form = byId<HTMLFormElement>("composer");
  private readonly input = byId<HTMLTextAreaElement>("composer-input");
  private readonly counter = byId("char-count");
  private readonly button = byId<HTMLButtonElement>("send-button");

  constructor(private readonly actions: ComposerActions) {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => {
      this.refresh();
      actions.typing(this.input.value.trim() !== "");
    });
    this.input.addEventListener("blur", () => actions.typing(false));
    this.refresh();
  }

  focus(): void {
    this.input.focus();
  }

  setPlaceholder(room: string): void {
    this.input.placeholder = `Message #${room}`;
  }

  private submit(): void {
    const text = this.input.value;
    if (!text.trim() || text.length > LIMITS.textMax) return;
    this.actions.send(text);
    this.input.value = "";
    this.refresh();
  }

  /** Counter, send button state and height follow the text. */
  private refresh(): void {
    const left = LIMITS.textMax - this.input.value.length;
    this.counter.hidden = left > COUNTER_FROM;
    this.counter.textContent = left >= 0 ? `${left} left` : `${-left} too many`;
    this.counter.classList.toggle("over", left < 0);
    this.input.setAttribute("aria-invalid", left < 0 ? "true" : "false");
    this.button.disabled = !this.input.value.trim() || left < 0;
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_HEIGHT_PX)}px`;
  }
}
