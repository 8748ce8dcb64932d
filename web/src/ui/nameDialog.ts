/**
 * The modal that asks for a name on first visit (or when the remembered
 * name is taken in a room). The server's verdict (name_taken, invalid_name)
 * is shown inline under the field. It cannot be dismissed without a name:
 * there is nothing to do in a room without one.
 */
import { LIMITS } from "../protocol";
import { byId } from "./dom";

/** Resolves to an error to show, or null once the name was accepted. */
export type SubmitName = (name: string) => Promise<string | null>;

export class NameDialog {
  private readonly dialog = byId<HTMLDialogElement>("name-dialog");
  private readonly form = byId<HTMLFormElement>("name-form");
  private readonly input = byId<HTMLInputElement>("name-input");
  private readonly error = byId("name-error");
  private readonly room = byId("name-room");
  private readonly button = byId<HTMLButtonElement>("name-submit");

  /** `accepted` runs after the dialog has closed (closing restores the old focus first). */
  constructor(
    private readonly submit: SubmitName,
    private readonly accepted: () => void,
  ) {
    this.input.maxLength = LIMITS.nameMax;
    this.dialog.addEventListener("cancel", (e) => e.preventDefault());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.onSubmit();
    });
  }

  open(room: string, error = "", name = ""): void {
    this.room.textContent = `#${room}`;
    if (name) this.input.value = name;
    this.showError(error);
    this.button.disabled = false;
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
    this.input.select();
  }

  get isOpen(): boolean {
    return this.dialog.open;
  }

  private async onSubmit(): Promise<void> {
    const name = this.input.value.trim();
    if (!name) return this.showError("Please type a name.");
    this.button.disabled = true;
    const error = await this.submit(name);
    this.button.disabled = false;
    if (error) {
      this.showError(error);
      this.input.focus();
    } else {
      this.showError("");
      this.dialog.close();
      this.accepted();
    }
  }

  private showError(message: string): void {
    this.error.textContent = message;
    this.input.setAttribute("aria-invalid", message ? "true" : "false");
  }
}
