/** markdown-it-emoji ships no types; these are the parts the app uses. */
declare module "markdown-it-emoji" {
  import type { PluginWithOptions } from "markdown-it";

  export interface EmojiOptions {
    /** Extra or replacement shortcodes: name → emoji. */
    defs?: Record<string, string>;
    /** Allowed shortcodes; empty means all. */
    enabled?: string[];
    /** Emoticons such as ":)" → shortcode name; empty turns them off. */
    shortcuts?: Record<string, string | string[]>;
  }

  export const full: PluginWithOptions<EmojiOptions>;
  export const light: PluginWithOptions<EmojiOptions>;
  export const bare: PluginWithOptions<EmojiOptions>;
}
