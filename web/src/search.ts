/**
 * Searching (protocol version 2): one search at a time, the newest wins
 * (an answer to an older query is dropped), and a `rate_limited` answer
 * is retried once the server says it may be. The server decides what the
 * reader may find: public rooms and the reader's own conversations.
 */
import { explainSearchError } from "./errors";
import type { SearchHit } from "./protocol";
import type { ChatClient } from "./socket";

/** Results per request. */
const LIMIT = 20;

export type SearchOutcome =
  | { ok: true; q: string; hits: SearchHit[]; hasMore: boolean }
  | { ok: false; q: string; message: string };

export class Searcher {
  private latest = 0;

  constructor(private readonly client: ChatClient) {}

  /** Forgets any search in flight. */
  cancel(): void {
    this.latest++;
  }

  /**
   * Searches for `q` (with `before`, among messages older than that id);
   * resolves to the outcome, or null when a newer search started meanwhile.
   */
  async run(q: string, before?: number): Promise<SearchOutcome | null> {
    const id = ++this.latest;
    for (;;) {
      const ack = await this.client.search(q, before === undefined ? { limit: LIMIT } : { limit: LIMIT, before });
      if (id !== this.latest) return null;
      if (ack.ok) return { ok: true, q, hits: ack.results, hasMore: ack.hasMore };
      if (ack.error.code !== "rate_limited") return { ok: false, q, message: explainSearchError(ack.error) };
      await new Promise((done) => window.setTimeout(done, ack.error.retryAfterMs ?? 500));
      if (id !== this.latest) return null;
    }
  }
}
