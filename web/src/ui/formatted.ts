/**
 * A message's formatted text as DOM nodes. markdown-it's tokens are walked
 * and only an allow-list of them becomes elements (p, strong, em, s, code,
 * pre, blockquote, ul, ol, li, a, mark); every piece of user text goes in as a
 * text node, so no HTML is ever parsed. DOMPurify then sanitises the result
 * in place with the same allow-list, as a second line of defence should a
 * future rule slip something through.
 */
import DOMPurify from "dompurify";
import type { Token } from "markdown-it";
import { parse, safeLinkHref } from "../markdown";
import { splitMentions } from "../text";
import { el } from "./dom";

/** Elements an open/close token pair may create, by markdown-it's tag. */
const CONTAINERS = new Set(["p", "blockquote", "ul", "ol", "li", "strong", "em", "s", "a"]);

const PURIFY = {
  IN_PLACE: true,
  ALLOWED_TAGS: [...CONTAINERS, "div", "code", "pre", "mark"],
  ALLOWED_ATTR: ["href", "target", "rel", "start", "class", "dir", "tabindex"],
  ALLOWED_URI_REGEXP: /^(?:https?|mailto):/i,
  // Not URLs: DOMPurify would otherwise hold their values to the regexp above.
  ADD_URI_SAFE_ATTR: ["target", "rel", "start", "dir", "tabindex"],
  ALLOW_DATA_ATTR: false,
};

/** Where the walk appends: the stack of open elements, innermost last. */
class Builder {
  private readonly stack: HTMLElement[];

  constructor(
    root: HTMLElement,
    private readonly myName: string | null,
  ) {
    this.stack = [root];
  }

  private get top(): HTMLElement {
    return this.stack[this.stack.length - 1]!;
  }

  private open(t: Token): void {
    const node = document.createElement(CONTAINERS.has(t.tag) ? t.tag : "span");
    if (t.tag === "a") {
      const href = safeLinkHref(t.attrGet("href") ?? "");
      if (href) node.setAttribute("href", href);
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
    const start = t.tag === "ol" ? Number(t.attrGet("start") ?? 1) : 1;
    if (Number.isSafeInteger(start) && start !== 1) node.setAttribute("start", String(start));
    this.top.append(node);
    this.stack.push(node);
  }

  private close(): void {
    if (this.stack.length > 1) this.stack.pop();
  }

  /** Text, with the reader's name marked unless it is part of a link. */
  private text(content: string): void {
    const inLink = this.stack.some((n) => n.tagName === "A");
    for (const piece of inLink ? [{ kind: "text", text: content }] : splitMentions(content, this.myName)) {
      this.top.append(piece.kind === "mention" ? el("mark", { class: "mention", text: piece.text }) : document.createTextNode(piece.text));
    }
  }

  /** A code block keeps its white space and scrolls sideways by itself (keyboard too). */
  private codeBlock(content: string): void {
    const code = el("code", { text: content.replace(/\n$/, "") });
    this.top.append(el("pre", { class: "code-block", attrs: { tabindex: "0", dir: "ltr" } }, code));
  }

  add(tokens: Token[]): void {
    for (const t of tokens) {
      if (t.hidden) continue; // the paragraphs of a tight list
      if (t.nesting === 1) this.open(t);
      else if (t.nesting === -1) this.close();
      else if (t.type === "inline") this.add(t.children ?? []);
      else if (t.type === "fence" || t.type === "code_block") this.codeBlock(t.content);
      else if (t.type === "code_inline") this.top.append(el("code", { text: t.content }));
      // A new line stays a "\n" (shown by white-space: pre-wrap), so the text reads as typed.
      else if (t.type === "softbreak" || t.type === "hardbreak") this.top.append("\n");
      else this.text(t.content); // text, emoji, and anything unforeseen: as text
    }
  }
}

/** `text` rendered as a `div.msg-text`, with the reader's name (if any) highlighted. */
export function formattedText(text: string, myName: string | null): HTMLDivElement {
  const root = el("div", { class: "msg-text", attrs: { dir: "auto" } });
  new Builder(root, myName).add(parse(text));
  DOMPurify.sanitize(root, PURIFY);
  return root;
}
