/**
 * A popup menu (the WAI-ARIA menu button pattern), used for a message's
 * actions and for the reaction picker. Opening focuses the first item;
 * arrow keys move (in a grid, Up and Down move by a row), Home and End
 * jump, Enter or Space choose, Escape closes and Tab closes and moves on.
 * Focus goes back where the opener says: its button may have been rebuilt
 * meanwhile, so that is a function.
 */
import { byId, el } from "./dom";

export interface MenuItem {
  /** The visible text (an emoji in the picker). */
  text: string;
  /** The accessible name, when the visible text is not enough. */
  label?: string;
  danger?: boolean;
  run: () => void;
}

export interface MenuOptions {
  /** The button the menu belongs to: placed under it, aria-expanded kept. */
  anchor: HTMLButtonElement;
  label: string;
  items: MenuItem[];
  /** Items per row; more than 1 makes a grid (the reaction picker). */
  columns?: number;
  /** Where focus goes when the menu closes without running an item. */
  returnFocus: () => void;
}

/** Space kept between the menu and the window's edges. */
const EDGE_PX = 8;

export class PopupMenu {
  private readonly node: HTMLElement;
  private open: MenuOptions | null = null;

  constructor(id: string) {
    this.node = byId(id);
    this.node.addEventListener("keydown", (e) => this.onKey(e));
    this.node.addEventListener("focusout", (e) => {
      const to = e.relatedTarget;
      if (this.open && to instanceof Node && !this.node.contains(to)) this.close(false);
    });
    document.addEventListener("pointerdown", (e) => {
      const target = e.target as Node;
      if (this.open && !this.node.contains(target) && !this.open.anchor.contains(target)) this.close(false);
    });
    window.addEventListener("resize", () => this.close(false));
  }

  get isOpen(): boolean {
    return this.open !== null;
  }

  /** Opens for `o`, or closes if it is already open for the same button. */
  toggle(o: MenuOptions): void {
    if (this.open?.anchor === o.anchor) return this.close(true);
    this.close(false);
    this.open = o;
    const columns = o.columns ?? 1;
    this.node.setAttribute("aria-label", o.label);
    this.node.classList.toggle("grid", columns > 1);
    this.node.replaceChildren(...o.items.map((item, i) => this.item(item, i)));
    this.node.hidden = false;
    o.anchor.setAttribute("aria-expanded", "true");
    this.place(o.anchor);
    this.items()[0]?.focus();
  }

  /** Closes; with `refocus`, focus goes back as the opener asked. */
  close(refocus: boolean): void {
    const o = this.open;
    if (!o) return;
    this.open = null;
    this.node.hidden = true;
    o.anchor.setAttribute("aria-expanded", "false");
    if (refocus) o.returnFocus();
  }

  private item(item: MenuItem, i: number): HTMLButtonElement {
    const button = el("button", {
      class: item.danger ? "menu-item danger" : "menu-item",
      text: item.text,
      attrs: { type: "button", role: "menuitem", tabindex: i === 0 ? "0" : "-1" },
    });
    if (item.label) button.setAttribute("aria-label", item.label);
    button.addEventListener("click", () => {
      this.close(false);
      item.run();
    });
    return button;
  }

  private items(): HTMLButtonElement[] {
    return [...this.node.querySelectorAll<HTMLButtonElement>("[role=menuitem]")];
  }

  /** Under the button, kept inside the window (a phone is 360 px wide). */
  private place(anchor: HTMLElement): void {
    const a = anchor.getBoundingClientRect();
    const m = this.node.getBoundingClientRect();
    const left = Math.max(EDGE_PX, Math.min(a.right - m.width, window.innerWidth - m.width - EDGE_PX));
    const below = a.bottom + 4;
    const top = below + m.height > window.innerHeight - EDGE_PX ? Math.max(EDGE_PX, a.top - m.height - 4) : below;
    this.node.style.left = `${left}px`;
    this.node.style.top = `${top}px`;
  }

  private onKey(e: KeyboardEvent): void {
    const o = this.open;
    if (!o) return;
    const items = this.items();
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    const columns = o.columns ?? 1;
    const moves: Record<string, number> = columns > 1
      ? { ArrowRight: at + 1, ArrowLeft: at - 1, ArrowDown: at + columns, ArrowUp: at - columns }
      : { ArrowDown: at + 1, ArrowUp: at - 1 };
    let next: number | undefined = moves[e.key];
    if (e.key === "Home") next = 0;
    if (e.key === "End") next = items.length - 1;
    if (next !== undefined) {
      e.preventDefault();
      // Wraps around, as menus do.
      const n = items.length;
      this.focusItem(items, ((next % n) + n) % n);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      this.close(true);
    } else if (e.key === "Tab") {
      this.close(false);
    }
  }

  private focusItem(items: HTMLButtonElement[], i: number): void {
    items.forEach((b, j) => b.setAttribute("tabindex", j === i ? "0" : "-1"));
    items[i]?.focus();
  }
}
