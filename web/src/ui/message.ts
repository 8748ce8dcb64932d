/**
 * Builders for the timeline's rows: messages (grouped or not), pending and
 * failed sends, join/leave notices and day separators. User text goes in
 * through `el` (text nodes) only; formatted text is built by ui/formatted.ts.
 */
import type { MessageV2, Reaction, User } from "../protocol";
import type { Pending } from "../state";
import { plainText } from "../markdown";
import { formatFull, formatShortTime, formatTime, hueOf, initial, snippet, type Phrase } from "../text";
import { el } from "./dom";
import { formattedText } from "./formatted";

export function avatar(user: User, extra = ""): HTMLSpanElement {
  return el("span", { class: `avatar hue-${hueOf(user.id)} ${extra}`.trim(), text: initial(user.name), attrs: { "aria-hidden": "true" } });
}

function timeEl(ts: number, className: string, text = formatTime(ts)): HTMLTimeElement {
  return el("time", { class: className, text, attrs: { datetime: new Date(ts).toISOString(), title: formatFull(ts) } });
}

/** Author and time above the first message of a group. */
function head(user: User, ts: number | null, mine: boolean): HTMLDivElement {
  const author = el("bdi", { class: "author", text: user.name });
  const headEl = el("div", { class: "msg-head" }, author);
  if (mine) headEl.append(el("span", { class: "you-tag", text: "you" }));
  if (ts !== null) headEl.append(timeEl(ts, "msg-time"));
  return headEl;
}

/** What a reply shows of the message it answers. */
export type Quote =
  | { kind: "loaded"; author: string; text: string }
  | { kind: "deleted"; author: string }
  /** Further back than the pages loaded so far; activating the quote loads it. */
  | { kind: "unloaded" };

export interface RowOptions {
  /** Continues the previous row's group: no avatar or author line. */
  grouped: boolean;
  mine: boolean;
  myId: string | null;
  myName: string | null;
  mentioned: boolean;
  quote: Quote | null;
}

/** What a person can do with a message from its row. */
export interface MessageActions {
  /** Opens the message's menu (react, reply, edit, delete) under `button`. */
  openMenu: (m: MessageV2, button: HTMLButtonElement) => void;
  /** Adds or takes back the reader's reaction with `emoji`. */
  react: (m: MessageV2, emoji: string) => void;
  /** Scrolls to the message `id` (loading older pages if need be) and highlights it. */
  jump: (id: number) => void;
}

/** "Asha", "Asha and you", "you, Asha and Bilal": who reacted, the reader as "you". */
function reactors(r: Reaction, myId: string | null): string {
  const names = r.users.map((u) => (u.id === myId ? "you" : u.name));
  return names.length < 2 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/**
 * The reactions under a message: each a toggle button (pressed when the
 * reader's own) whose tooltip, shown on hover and on focus, says who
 * reacted. `data-focus` lets the timeline keep focus on it across a rebuild.
 */
function reactionList(m: MessageV2, myId: string | null, actions: MessageActions): HTMLUListElement {
  const list = el("ul", { class: "reactions", attrs: { "aria-label": "Reactions" } });
  m.reactions.forEach((r, i) => {
    const mine = r.users.some((u) => u.id === myId);
    const tipId = `tip-${m.id}-${i}`;
    const button = el(
      "button",
      {
        class: mine ? "reaction mine" : "reaction",
        attrs: {
          type: "button", "aria-pressed": String(mine), "aria-describedby": tipId, "data-focus": `react:${r.emoji}`,
          "aria-label": `${r.emoji} ${r.count}`,
        },
      },
      el("span", { class: "reaction-emoji", text: r.emoji, attrs: { "aria-hidden": "true" } }),
      el("span", { class: "reaction-count", text: String(r.count), attrs: { "aria-hidden": "true" } }),
    );
    button.addEventListener("click", () => actions.react(m, r.emoji));
    const tip = el("span", { class: "tip", attrs: { role: "tooltip", id: tipId } }, "Reacted by ", el("bdi", { text: reactors(r, myId) }));
    list.append(el("li", { class: "reaction-item" }, button, tip));
  });
  return list;
}

/** The quote at the top of a reply; activating it goes to the original. */
function quoteButton(id: number, q: Quote, actions: MessageActions): HTMLButtonElement {
  const button = el("button", { class: "quote", attrs: { type: "button", "data-focus": "quote" } });
  if (q.kind === "loaded") {
    button.append(
      el("span", { class: "visually-hidden", text: "Reply to " }),
      el("bdi", { class: "quote-author", text: q.author }),
      el("span", { class: "visually-hidden", text: ": " }),
      el("span", { class: "quote-text", text: snippet(plainText(q.text)), attrs: { dir: "auto" } }),
    );
  } else if (q.kind === "deleted") {
    button.append(
      el("span", { class: "visually-hidden", text: "Reply to " }),
      el("bdi", { class: "quote-author", text: q.author }),
      el("span", { class: "visually-hidden", text: ": " }),
      el("span", { class: "quote-text deleted", text: "deleted message" }),
    );
  } else {
    button.append(el("span", { class: "quote-text", text: "Reply to an earlier message" }));
  }
  button.append(el("span", { class: "visually-hidden", text: " (go to it)" }));
  button.addEventListener("click", () => actions.jump(id));
  return button;
}

/** The text, with "(edited)" after it, or the placeholder of a deleted message. */
function body(m: MessageV2, myName: string | null): HTMLElement {
  if (m.deleted || m.text === undefined) return el("p", { class: "msg-deleted", text: "message deleted" });
  const wrap = el("div", { class: "msg-body" }, formattedText(m.text, myName));
  if (m.editedAt !== undefined) {
    wrap.append(" ", el("span", { class: "edited", text: "(edited)", attrs: { title: `Edited ${formatFull(m.editedAt)}` } }));
  }
  return wrap;
}

function actionsButton(m: MessageV2, actions: MessageActions): HTMLButtonElement {
  const button = el(
    "button",
    {
      class: "msg-actions",
      attrs: { type: "button", "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": `Actions for ${m.user.name}’s message`, "data-focus": "actions" },
    },
    el("span", { text: "⋯", attrs: { "aria-hidden": "true" } }),
  );
  button.addEventListener("click", () => actions.openMenu(m, button));
  return button;
}

export function messageRow(m: MessageV2, o: RowOptions, actions: MessageActions): HTMLLIElement {
  const classes = ["msg", o.grouped ? "grouped" : "start", o.mine ? "mine" : "", o.mentioned ? "mentioned" : "", m.deleted ? "deleted" : ""];
  const row = el("li", {
    class: classes.filter(Boolean).join(" "),
    attrs: { "data-seq": String(m.seq), "data-id": String(m.id), tabindex: "-1" },
  });
  const main = el("div", { class: "msg-main" });
  if (o.grouped) {
    // Screen readers read rows one by one; without this a grouped row has no author.
    main.append(el("span", { class: "visually-hidden", text: `${m.user.name}: ` }));
    row.append(timeEl(m.ts, "side-time", formatShortTime(m.ts)));
  } else {
    row.append(avatar(m.user));
    main.append(head(m.user, m.ts, o.mine));
  }
  if (m.replyTo !== undefined && o.quote) main.append(quoteButton(m.replyTo, o.quote, actions));
  main.append(body(m, o.myName));
  if (m.reactions.length && !m.deleted) main.append(reactionList(m, o.myId, actions));
  row.append(main);
  if (!m.deleted) row.append(actionsButton(m, actions));
  return row;
}

export interface PendingActions {
  retry: (clientId: string) => void;
  discard: (clientId: string) => void;
}

function pendingStatus(p: Pending, actions: PendingActions): HTMLElement {
  if (p.status !== "failed") {
    const words = p.status === "sending" ? "Sending…" : "Waiting for connection…";
    return el("p", { class: "msg-status", text: words });
  }
  const retry = el("button", { class: "link-button", text: "Retry", attrs: { type: "button" } });
  retry.addEventListener("click", () => actions.retry(p.clientId));
  const discard = el("button", { class: "link-button", text: "Discard", attrs: { type: "button" } });
  discard.addEventListener("click", () => actions.discard(p.clientId));
  return el("p", { class: "msg-status failed", attrs: { role: "alert" } }, `Not sent: ${p.error ?? "unknown error"} `, retry, " ", discard);
}

export function pendingRow(p: Pending, me: User, grouped: boolean, actions: PendingActions): HTMLLIElement {
  const row = el("li", { class: `msg mine ${grouped ? "grouped" : "start"} ${p.status}`, attrs: { "data-client-id": p.clientId } });
  const main = el("div", { class: "msg-main" });
  if (grouped) row.append(el("span", { class: "side-time" }));
  else {
    row.append(avatar(me));
    main.append(head(me, null, true));
  }
  main.append(formattedText(p.text, null), pendingStatus(p, actions));
  row.append(main);
  return row;
}

/** A phrase as nodes, each name in its own <bdi> so a name's direction cannot leak. */
export function phraseNodes(phrase: Phrase): Array<Node | string> {
  return phrase.map((part) => (typeof part === "string" ? part : el("bdi", { text: part.name })));
}

export function noticeRow(phrase: Phrase): HTMLLIElement {
  return el("li", { class: "notice" }, el("span", {}, ...phraseNodes(phrase)));
}

/** A day's heading; a list item itself (an <ol> may only hold <li>s), so screen readers can jump by day. */
export function dayRow(label: string): HTMLLIElement {
  return el("li", { class: "day" }, el("h2", { class: "day-label", text: label }));
}
