/**
 * "Delete this message?": a modal dialog that shows what is about to go.
 * Cancel has the focus first, so Enter pressed out of habit deletes
 * nothing; Escape cancels too. Focus returns as the opener asks.
 */
import type { MessageV2 } from "../protocol";
import { plainText } from "../markdown";
import { cut } from "../text";
import { byId } from "./dom";

export class ConfirmDelete {
  private readonly dialog = byId<HTMLDialogElement>("delete-dialog");
  private readonly preview = byId("delete-preview");
  private readonly cancel = byId<HTMLButtonElement>("delete-cancel");
  private readonly confirm = byId<HTMLButtonElement>("delete-confirm");
  private pending: { yes: () => void; no: () => void } | null = null;

  constructor() {
    this.cancel.addEventListener("click", () => this.dialog.close("cancel"));
    this.confirm.addEventListener("click", () => this.dialog.close("delete"));
    this.dialog.addEventListener("close", () => {
      const pending = this.pending;
      this.pending = null;
      if (this.dialog.returnValue === "delete") pending?.yes();
      else pending?.no();
    });
  }

  /** Asks about `m`; runs `yes` on Delete, `no` on Cancel or Escape. */
  ask(m: MessageV2, yes: () => void, no: () => void): void {
    this.preview.textContent = cut(plainText(m.text ?? ""), 300);
    this.pending = { yes, no };
    this.dialog.returnValue = "";
    this.dialog.showModal();
    this.cancel.focus();
  }
}
