/**
 * What a person does to messages, between the timeline, the composer and
 * the controller: the per-message menu (react, reply, edit, delete), the
 * reaction picker, the delete confirmation, jumping to a quoted message,
 * and saving edits. Refusals are said in words in one alert line above the
 * composer; successes are announced to screen readers. Focus always lands
 * somewhere sensible: back on the message's actions button (found afresh,
 * as its row may have been rebuilt), or in the composer.
 */
import type { Chat } from "../chat";
import { explainChangeError } from "../errors";
import type { MessageV2 } from "../protocol";
import { lastEditable, type AppState, type Store } from "../state";
import { plainText } from "../markdown";
import { snippet } from "../text";
import type { Announcer } from "./announcer";
import type { Composer } from "./composer";
import { ConfirmDelete } from "./confirmDelete";
import { byId } from "./dom";
import type { MessageActions } from "./message";
import { PopupMenu, type MenuItem } from "./menu";
import type { Timeline } from "./timeline";

/** The reaction picker's choices, with names for screen readers. */
const REACTIONS: Array<[string, string]> = [
  ["👍", "Thumbs up"], ["❤️", "Heart"], ["😂", "Laughing"], ["🎉", "Party"],
  ["😮", "Surprised"], ["😢", "Sad"], ["🙏", "Thank you"], ["👀", "Looking"],
];

/** The views this needs are built after it (they take its callbacks), hence getters. */
export interface MessageActionsDeps {
  chat: Chat;
  store: Store<AppState>;
  announcer: Announcer;
  composer: () => Composer;
  timeline: () => Timeline;
}

export class MessageActionsUI implements MessageActions {
  private readonly menu = new PopupMenu("message-menu");
  private readonly picker = new PopupMenu("reaction-picker");
  private readonly confirmDelete = new ConfirmDelete();
  private readonly alert = byId("action-error");

  constructor(private readonly d: MessageActionsDeps) {}

  /** Shows why something failed; an empty string clears it. */
  showError(text: string): void {
    this.alert.textContent = text;
  }

  /** A room switch: nothing open belongs to the new room. */
  reset(): void {
    this.menu.close(false);
    this.picker.close(false);
    this.showError("");
  }

  readonly openMenu = (m: MessageV2, anchor: HTMLButtonElement): void => {
    this.showError("");
    const items: MenuItem[] = [
      { text: "Add reaction", run: () => this.pick(m, anchor) },
      { text: "Reply", run: () => this.d.composer().startReply(m.id, m.user.name, snippet(plainText(m.text ?? ""))) },
    ];
    if (m.user.id === this.myId() && m.text !== undefined) {
      const text = m.text;
      items.push(
        { text: "Edit", run: () => this.d.composer().startEdit(m.id, text) },
        { text: "Delete", danger: true, run: () => this.remove(m) },
      );
    }
    this.menu.toggle({ anchor, label: `Message from ${m.user.name}`, items, returnFocus: this.backTo(m.id) });
  };

  readonly react = (m: MessageV2, emoji: string): void => void this.toggleReaction(m, emoji);

  readonly jump = (id: number): void => void this.reveal(id);

  /** Saves an edit from the composer; resolves to whether it was saved. */
  async saveEdit(id: number, text: string): Promise<boolean> {
    this.showError("");
    const error = await this.d.chat.edit(id, text);
    if (error) this.showError(explainChangeError(error, "edit"));
    else this.d.announcer.say("Message edited");
    return !error;
  }

  /** Up in an empty composer: edit the reader's newest message that is not deleted. */
  editLast(): void {
    const room = this.d.store.state.room;
    const m = room.you ? lastEditable(room, room.you.id) : undefined;
    if (m?.text !== undefined) this.d.composer().startEdit(m.id, m.text);
  }

  private myId(): string | null {
    return this.d.store.state.room.you?.id ?? null;
  }

  /** Focus back to a message's actions button, or the composer if the row has none now. */
  private backTo(id: number): () => void {
    return () => {
      const button = this.d.timeline().row(id)?.querySelector<HTMLElement>("[data-focus=actions]");
      if (button) button.focus();
      else this.d.composer().focus();
    };
  }

  private pick(m: MessageV2, anchor: HTMLButtonElement): void {
    const items = REACTIONS.map(([emoji, name]): MenuItem => ({
      text: emoji,
      label: name,
      run: () => {
        this.backTo(m.id)();
        this.react(m, emoji);
      },
    }));
    this.picker.toggle({ anchor, label: "Choose a reaction", items, columns: 4, returnFocus: this.backTo(m.id) });
  }

  private async toggleReaction(m: MessageV2, emoji: string): Promise<void> {
    this.showError("");
    const had = m.reactions.some((r) => r.emoji === emoji && r.users.some((u) => u.id === this.myId()));
    const error = await this.d.chat.react(m.id, emoji);
    if (error) this.showError(explainChangeError(error, "react"));
    else this.d.announcer.say(had ? `Took back ${emoji}` : `Reacted with ${emoji}`);
  }

  private remove(m: MessageV2): void {
    this.confirmDelete.ask(m, () => {
      // The row turns into a placeholder without actions: the composer is the sensible place.
      this.d.composer().focus();
      void this.d.chat.remove(m.id).then((error) => {
        if (error) this.showError(explainChangeError(error, "delete"));
        else this.d.announcer.say("Message deleted");
      });
    }, this.backTo(m.id));
  }

  private async reveal(id: number): Promise<void> {
    this.showError("");
    const found = await this.d.chat.reveal(id);
    // The store renders on a microtask; the row is there after it.
    await new Promise((done) => window.setTimeout(done, 0));
    if (!found || !this.d.timeline().highlight(id)) this.showError("That message could not be found; it may be from before this room's history.");
  }
}
