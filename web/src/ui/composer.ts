/**
 * The message box. Enter sends, Shift+Enter starts a new line (and Enter
 * while an IME is composing is left alone). It grows with its text, shows
 * a counter near the 2,000-character limit, and reports typing so the
 * controller can tell the room.
 *
 * It also edits and replies: Up in an empty box edits the reader's last
 * message, and a message's menu can start either. A bar above the box says
 * which, with a Cancel button; Escape cancels too.
 */
import { LIMITS } from "../protocol";
import { byId, el } from "./dom";

/** Show the counter once this few characters remain. */
const COUNTER_FROM = 200;
/** The box grows up to this height before it scrolls. */
const MAX_HEIGHT_PX = 200;

/** Editing one of the reader's messages, or answering one. */
export type ComposerMode = { kind: "edit"; id: number; original: string } | { kind: "reply"; id: number; author: string; quote: string };

export interface ComposerActions {
  send: (text: string, replyTo?: number) => void;
  /** Saves an edit; resolves to whether it was saved (if not, the box keeps the text). */
  saveEdit: (id: number, text: string) => Promise<boolean>;
  /** Up in an empty box: start editing the reader's last message, if any. */
  editLast: () => void;
  /** Tells the reader what changed (edit mode began, ended). */
  announce: (text: string) => void;
  /** Called on every edit with whether the box has text, and on blur with false. */
  typing: (active: boolean) => void;
}

export class Composer {
  private readonly form = byId<HTMLFormElement>("composer");
  private readonly input = byId<HTMLTextAreaElement>("composer-input");
  private readonly counter = byId("char-count");
  private readonly button = byId<HTMLButtonElement>("send-button");
  private readonly context = byId("composer-context");
  private readonly contextText = byId("composer-context-text");
  private readonly contextCancel = byId<HTMLButtonElement>("composer-context-cancel");
  private readonly hint = byId("composer-hint");
  private readonly buttonLabel = byId("send-label");
  private mode: ComposerMode | null = null;
  private room = "";

  constructor(private readonly actions: ComposerActions) {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.isComposing) return;
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        this.submit();
      } else if (e.key === "ArrowUp" && !this.input.value && !this.mode) {
        e.preventDefault();
        actions.editLast();
      } else if (e.key === "Escape" && this.mode) {
        e.preventDefault();
        this.cancel();
      }
    });
    this.contextCancel.addEventListener("click", () => {
      this.cancel();
      this.focus();
    });
    this.input.addEventListener("input", () => {
      this.refresh();
      // Fixing an old message is not "typing" a new one for the room.
      actions.typing(this.input.value.trim() !== "" && this.mode?.kind !== "edit");
    });
    this.input.addEventListener("blur", () => actions.typing(false));
    this.refresh();
  }

  focus(): void {
    this.input.focus();
  }

  /** `room` as shown: "#general", "@Bilal". */
  setPlaceholder(room: string): void {
    this.room = room;
    this.input.placeholder = this.mode?.kind === "edit" ? "Edit your message" : `Message ${room}`;
  }

  /** Puts one of the reader's messages in the box to edit. */
  startEdit(id: number, text: string): void {
    this.setMode({ kind: "edit", id, original: text });
    this.input.value = text;
    this.refresh();
    this.focus();
    this.input.setSelectionRange(text.length, text.length);
    this.actions.announce("Editing your message. Enter saves, Escape cancels.");
  }

  /** The next message sent answers message `id`. */
  startReply(id: number, author: string, quote: string): void {
    if (this.mode?.kind === "edit") this.input.value = "";
    this.setMode({ kind: "reply", id, author, quote });
    this.refresh();
    this.focus();
    this.actions.announce(`Replying to ${author}. Escape cancels.`);
  }

  /** Leaves edit or reply mode; an unsaved edit's text goes with it. */
  cancel(): void {
    if (!this.mode) return;
    const wasEdit = this.mode.kind === "edit";
    if (wasEdit) this.input.value = "";
    this.setMode(null);
    this.refresh();
    this.actions.announce(wasEdit ? "Edit cancelled" : "Reply cancelled");
  }

  /** Which message an edit or reply is about, if any (it may be deleted meanwhile). */
  get current(): ComposerMode | null {
    return this.mode;
  }

  private setMode(mode: ComposerMode | null): void {
    this.mode = mode;
    this.context.hidden = !mode;
    this.context.classList.toggle("editing", mode?.kind === "edit");
    if (mode?.kind === "edit") this.contextText.replaceChildren("Editing your message");
    else if (mode) {
      this.contextText.replaceChildren(
        "Replying to ",
        el("bdi", { class: "quote-author", text: mode.author }),
        ": ",
        el("span", { class: "quote-text", text: mode.quote, attrs: { dir: "auto" } }),
      );
    }
    this.hint.textContent = mode?.kind === "edit"
      ? "Enter to save · Escape to cancel"
      : mode ? "Enter to send · Escape to cancel the reply" : "Enter to send · Shift+Enter for a new line";
    this.buttonLabel.textContent = mode?.kind === "edit" ? "Save" : "Send";
    this.setPlaceholder(this.room);
  }

  private submit(): void {
    const text = this.input.value;
    if (!text.trim() || text.length > LIMITS.textMax) return;
    const mode = this.mode;
    if (mode?.kind === "edit") return void this.saveEdit(mode.id, mode.original, text);
    this.actions.send(text, mode?.id);
    this.input.value = "";
    if (mode) this.setMode(null);
    this.refresh();
  }

  private async saveEdit(id: number, original: string, text: string): Promise<void> {
    if (text !== original && !(await this.actions.saveEdit(id, text))) return;
    // The person may have moved on (cancelled, started another) while it saved.
    if (this.mode?.kind !== "edit" || this.mode.id !== id) return;
    this.input.value = "";
    this.setMode(null);
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
