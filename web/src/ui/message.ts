/**
 * Builders for the timeline's rows: messages (grouped or not), pending and
 * failed sends, join/leave notices and day separators. User text goes in
 * through `el` (text nodes) only; links are built with createElement.
 */
import type { Message, User } from "../protocol";
import type { Pending } from "../state";
import { formatFull, formatShortTime, formatTime, hueOf, initial, tokenize, type Phrase } from "../text";
import { el } from "./dom";

export function avatar(user: User, extra = ""): HTMLSpanElement {
  return el("span", { class: `avatar hue-${hueOf(user.id)} ${extra}`.trim(), text: initial(user.name), attrs: { "aria-hidden": "true" } });
}

/** The message text with safe links and the reader's own name highlighted. */
export function messageText(text: string, myName: string | null): HTMLParagraphElement {
  const p = el("p", { class: "msg-text", attrs: { dir: "auto" } });
  for (const piece of tokenize(text, myName)) {
    if (piece.kind === "text") p.append(document.createTextNode(piece.text));
    else if (piece.kind === "mention") p.append(el("mark", { class: "mention", text: piece.text }));
    else p.append(el("a", { text: piece.text, attrs: { href: piece.href, target: "_blank", rel: "noopener noreferrer" } }));
  }
  return p;
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

export interface RowOptions {
  /** Continues the previous row's group: no avatar or author line. */
  grouped: boolean;
  mine: boolean;
  myName: string | null;
  mentioned: boolean;
}

export function messageRow(m: Message, o: RowOptions): HTMLLIElement {
  const classes = ["msg", o.grouped ? "grouped" : "start", o.mine ? "mine" : "", o.mentioned ? "mentioned" : ""];
  const row = el("li", { class: classes.join(" ").trim(), attrs: { "data-seq": String(m.seq), "data-id": String(m.id) } });
  const main = el("div", { class: "msg-main" });
  if (o.grouped) {
    // Screen readers read rows one by one; without this a grouped row has no author.
    main.append(el("span", { class: "visually-hidden", text: `${m.user.name}: ` }));
    row.append(timeEl(m.ts, "side-time", formatShortTime(m.ts)));
  } else {
    row.append(avatar(m.user));
    main.append(head(m.user, m.ts, o.mine));
  }
  main.append(messageText(m.text, o.myName));
  row.append(main);
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
  main.append(messageText(p.text, null), pendingStatus(p, actions));
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

export function dayRow(label: string): HTMLLIElement {
  return el("li", { class: "day", attrs: { role: "separator", "aria-label": label } }, el("span", { text: label }));
}
