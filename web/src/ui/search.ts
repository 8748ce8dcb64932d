/**
 * The search dialog: opened by the header's Search button, Ctrl+K (⌘K)
 * or "/" outside a text field. It searches as the reader types (after a
 * pause) or at once on Enter, lists the results best first, each with its
 * room, author, time and the matching words marked (<mark> around text
 * nodes cut by the server's ranges), and says how many there are in a
 * status line. Arrow keys move between the field and the results;
 * choosing one closes the dialog and opens its room at that message.
 */
import { highlightPieces } from "../highlight";
import type { SearchHit } from "../protocol";
import type { SearchOutcome, Searcher } from "../search";
import { dayLabel, formatFull, formatTime } from "../text";
import { byId, el } from "./dom";
import { avatar } from "./message";

/** Typing settles this long before a search goes out. */
const TYPING_PAUSE_MS = 300;

export interface SearchDeps {
  searcher: Searcher;
  /** How a room is named on screen: "#general", "@Bilal". */
  label: (room: string) => string;
  /** Opens the result's room at its message. */
  open: (hit: SearchHit) => void;
}

export class SearchDialog {
  private readonly dialog = byId<HTMLDialogElement>("search-dialog");
  private readonly input = byId<HTMLInputElement>("search-input");
  private readonly list = byId<HTMLOListElement>("search-results");
  private readonly status = byId("search-status");
  private readonly more = byId<HTMLButtonElement>("search-more");
  private timer = 0;
  /** The query the results shown are for, and the results. */
  private shown: { q: string; hits: SearchHit[] } = { q: "", hits: [] };

  constructor(private readonly deps: SearchDeps) {
    byId("search-open").addEventListener("click", () => this.open());
    byId("search-close").addEventListener("click", () => this.dialog.close());
    byId<HTMLFormElement>("search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.search();
    });
    this.input.addEventListener("input", () => {
      window.clearTimeout(this.timer);
      this.timer = window.setTimeout(() => this.search(), TYPING_PAUSE_MS);
    });
    this.more.addEventListener("click", () => this.search(true));
    this.dialog.addEventListener("keydown", (e) => this.onKey(e));
    // A click on the backdrop (outside the dialog's box) closes it.
    this.dialog.addEventListener("click", (e) => e.target === this.dialog && this.dialog.close());
    document.addEventListener("keydown", (e) => {
      const typing = e.target instanceof HTMLElement && e.target.closest("input, textarea, select, [contenteditable]");
      if (((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") || (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey)) {
        e.preventDefault();
        this.open();
      }
    });
  }

  open(): void {
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
    this.input.select();
  }

  /** Searches for the field's text now; `older` continues below the results shown. */
  private search(older = false): void {
    window.clearTimeout(this.timer);
    const q = this.input.value.trim();
    if (!q) {
      this.deps.searcher.cancel();
      this.show({ ok: true, q: "", hits: [], hasMore: false });
      return;
    }
    const before = older ? Math.min(...this.shown.hits.map((h) => h.message.id)) : undefined;
    this.list.setAttribute("aria-busy", "true");
    void this.deps.searcher.run(q, before).then((outcome) => {
      if (!outcome) return;
      if (older && outcome.ok) outcome.hits = [...this.shown.hits, ...outcome.hits];
      this.show(outcome);
    });
  }

  private show(outcome: SearchOutcome): void {
    this.list.removeAttribute("aria-busy");
    const hits = outcome.ok ? outcome.hits : [];
    this.shown = { q: outcome.q, hits };
    this.list.replaceChildren(...hits.map((hit) => this.item(hit)));
    this.more.hidden = !outcome.ok || !outcome.hasMore;
    this.status.classList.toggle("error", !outcome.ok);
    this.status.textContent = !outcome.ok
      ? outcome.message
      : !outcome.q
        ? ""
        : hits.length
          ? `${hits.length} ${hits.length === 1 ? "message matches" : "messages match"} “${outcome.q}”${outcome.hasMore ? "; there are more, older ones" : ""}.`
          : `No messages match “${outcome.q}”.`;
  }

  private item(hit: SearchHit): HTMLLIElement {
    const m = hit.message;
    const text = el("span", { class: "hit-text", attrs: { dir: "auto" } });
    for (const piece of highlightPieces(m.text ?? "", hit.highlights)) {
      text.append(piece.mark ? el("mark", { class: "hit-mark", text: piece.text }) : document.createTextNode(piece.text));
    }
    const when = `${dayLabel(m.ts)}, ${formatTime(m.ts)}`;
    const button = el(
      "button",
      { class: "search-hit", attrs: { type: "button" } },
      avatar(m.user, "small"),
      el(
        "span",
        { class: "hit-main" },
        el(
          "span",
          { class: "hit-head" },
          el("bdi", { class: "hit-author", text: m.user.name }),
          el("span", { class: "hit-room", text: this.deps.label(m.room) }),
          el("time", { class: "hit-time", text: when, attrs: { datetime: new Date(m.ts).toISOString(), title: formatFull(m.ts) } }),
        ),
        text,
      ),
    );
    button.addEventListener("click", () => {
      this.dialog.close();
      this.deps.open(hit);
    });
    return el("li", {}, button);
  }

  /**
   * Escape closes, even from the field (where it would only clear it);
   * Down from the field enters the results; Up and Down move between
   * them; Home and End jump.
   */
  private onKey(e: KeyboardEvent): void {
    if (e.key === "Escape") {
      e.preventDefault();
      this.dialog.close();
      return;
    }
    const buttons = [...this.list.querySelectorAll<HTMLButtonElement>(".search-hit")];
    if (!buttons.length || !["ArrowDown", "ArrowUp", "Home", "End"].includes(e.key)) return;
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (at === -1 && document.activeElement !== this.input) return;
    if (at === -1 && (e.key === "Home" || e.key === "End")) return;
    e.preventDefault();
    const next = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[e.key] ?? at;
    if (next < 0) this.input.focus();
    else buttons[Math.min(next, buttons.length - 1)]!.focus();
  }
}
