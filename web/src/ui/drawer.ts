/**
 * On narrow screens the rooms and people panels are drawers opened by a
 * header button. This keeps aria-expanded honest, closes on Escape or a
 * click on the backdrop or its close button, and returns focus to the button that opened it.
 */
import { byId } from "./dom";

export class Drawer {
  private readonly panel: HTMLElement;
  private readonly button: HTMLButtonElement;
  private static openOne: Drawer | null = null;

  constructor(panelId: string, buttonId: string) {
    this.panel = byId(panelId);
    this.button = byId<HTMLButtonElement>(buttonId);
    this.button.addEventListener("click", () => (this.isOpen() ? this.close() : this.open()));
    this.panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.isOpen()) {
        e.preventDefault();
        this.close();
      }
    });
    byId("backdrop").addEventListener("click", () => this.close());
    this.panel.querySelector("[data-close]")?.addEventListener("click", () => this.close());
  }

  isOpen(): boolean {
    return this.panel.classList.contains("open");
  }

  open(): void {
    Drawer.openOne?.close(false);
    Drawer.openOne = this;
    this.panel.classList.add("open");
    this.button.setAttribute("aria-expanded", "true");
    document.body.classList.add("drawer-open");
    this.panel.querySelector<HTMLElement>("h2")?.focus();
  }

  close(returnFocus = true): void {
    if (!this.isOpen()) return;
    if (Drawer.openOne === this) Drawer.openOne = null;
    this.panel.classList.remove("open");
    this.button.setAttribute("aria-expanded", "false");
    document.body.classList.remove("drawer-open");
    if (returnFocus) this.button.focus();
  }
}
