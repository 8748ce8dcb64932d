/**
 * The formatting people may use in messages: a small Markdown subset
 * (bold, italic, strike, inline code, code blocks, quotes, lists, links)
 * and emoji shortcodes such as `:tada:`. Parsing is markdown-it's, with
 * every rule off but these and raw HTML off; messages are stored exactly
 * as typed and only parsed here, for display. ui/formatted.ts turns the
 * tokens into DOM nodes.
 */
import MarkdownIt, { type Token } from "markdown-it";
import { full as emoji } from "markdown-it-emoji";

/** The only link schemes that become links; anything else stays text. */
const LINK_SCHEMES = new Set(["http:", "https:", "mailto:"]);

/** The URL as an href if it parses and uses an allowed scheme, else null. */
export function safeLinkHref(candidate: string): string | null {
  try {
    const url = new URL(candidate);
    return LINK_SCHEMES.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

const md = new MarkdownIt("zero", { html: false, breaks: true, linkify: true, typographer: false })
  .enable(["blockquote", "code", "fence", "list"])
  .enable(["emphasis", "strikethrough", "backticks", "escape", "link", "autolink", "linkify", "newline"])
  // Emoticons such as ":)" or "8)" turning into pictures surprises people typing times or code.
  .use(emoji, { shortcuts: {} });
// Only what an `a` may point at survives parsing (javascript:, data:, file: stay text).
md.validateLink = (url) => safeLinkHref(url) !== null;
// Bare URLs become links only with a scheme; "example.com" and addresses stay text.
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });

/** The block tokens of `text`, each inline run's pieces in its `children`. */
export function parse(text: string): Token[] {
  return md.parse(text, {});
}

/** One inline run's text, without its markup. */
function inlineText(children: Token[] | null): string {
  let out = "";
  for (const t of children ?? []) {
    if (t.type === "softbreak" || t.type === "hardbreak") out += "\n";
    else if (t.type === "text" || t.type === "code_inline" || t.type === "emoji") out += t.content;
  }
  return out;
}

/**
 * What a message says without its formatting, for places that show or
 * speak plain text: a reply's quote, the screen reader, notifications.
 * Blocks are separated by new lines.
 */
export function plainText(text: string): string {
  const lines: string[] = [];
  for (const t of parse(text)) {
    if (t.type === "inline") lines.push(inlineText(t.children));
    else if (t.type === "fence" || t.type === "code_block") lines.push(t.content.replace(/\n$/, ""));
  }
  return lines.join("\n");
}
