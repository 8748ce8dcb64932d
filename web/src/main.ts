/**
 * Wiring: builds the store, the socket client, the controller and the UI
 * pieces, connects them, and keeps the URL (/r/<room>) in step with the
 * room. Everything with behaviour lives in the modules it imports.
 */
import { Chat, type ChatView } from "./chat";
import { explainChangeError } from "./errors";
import { identity } from "./identity";
import { DEFAULT_ROOM, type MessageV2 } from "./protocol";
import { roomFromPath, roomPath, roomProblem } from "./route";
import { ChatClient } from "./socket";
import { emptyRoom, lastEditable, Store, type AppState, type RoomState } from "./state";
import { snippet } from "./text";
import { Announcer } from "./ui/announcer";
import { Banner } from "./ui/banner";
import { Composer } from "./ui/composer";
import { ConfirmDelete } from "./ui/confirmDelete";
import { byId } from "./ui/dom";
import { Drawer } from "./ui/drawer";
import { Header } from "./ui/header";
import { NameDialog } from "./ui/nameDialog";
import { PopupMenu, type MenuItem } from "./ui/menu";
import { MentionNotifier } from "./ui/notify";
import { PeoplePanel } from "./ui/people";
import { RoomsPanel } from "./ui/rooms";
import { Timeline } from "./ui/timeline";
import { TypingLine } from "./ui/typing";

const ROOMS_REFRESH_MS = 10_000;

/** The reaction picker's choices, with names for screen readers. */
const REACTIONS: Array<[string, string]> = [
  ["👍", "Thumbs up"], ["❤️", "Heart"], ["😂", "Laughing"], ["🎉", "Party"],
  ["😮", "Surprised"], ["😢", "Sad"], ["🙏", "Thank you"], ["👀", "Looking"],
];

function main(): void {
  const store = new Store<AppState>({ connection: "connecting", userId: null, room: emptyRoom(""), rooms: [], unread: 0 });
  const client = new ChatClient(identity.token());
  const announcer = new Announcer();
  const notifier = new MentionNotifier();
  const roomsDrawer = new Drawer("rooms-panel", "rooms-toggle");
  new Drawer("people-panel", "people-toggle");

  let dialog: NameDialog | null = null;
  const view: ChatView = {
    askName: (room, error, name) => dialog?.open(room, error, name),
    entered: (room) => {
      // Show the canonical (lower-case) name in the address bar.
      if (location.pathname.startsWith("/r/") && roomFromPath(location.pathname) !== room) {
        history.replaceState(null, "", roomPath(room));
      }
    },
    announce: (text) => announcer.say(text),
    mentioned: (m) => notifier.mention(m),
  };
  const chat = new Chat(client, store, view);
  dialog = new NameDialog((name) => chat.submitName(name), () => composer.focus());

  const go = (room: string, push: boolean): boolean => {
    const problem = roomProblem(room);
    rooms.showError(problem ?? "");
    if (problem) return false;
    roomsDrawer.close(false);
    const next = room.trim().toLowerCase();
    if (push && next !== chat.room) history.pushState(null, "", roomPath(next));
    chat.switchRoom(next);
    composer.focus();
    return true;
  };

  const rooms = new RoomsPanel((room) => go(room, true));
  const menu = new PopupMenu("message-menu");
  const picker = new PopupMenu("reaction-picker");
  const confirmDelete = new ConfirmDelete();
  const actionError = byId("action-error");
  const showError = (text: string): void => {
    actionError.textContent = text;
  };
  const myId = (): string | null => store.state.room.you?.id ?? null;
  /** Back to a message's actions button (its row may have been rebuilt), or the composer. */
  const backTo = (id: number) => (): void => {
    const button = timeline.row(id)?.querySelector<HTMLElement>("[data-focus=actions]");
    if (button) button.focus();
    else composer.focus();
  };

  const react = async (m: MessageV2, emoji: string): Promise<void> => {
    showError("");
    const had = m.reactions.some((r) => r.emoji === emoji && r.users.some((u) => u.id === myId()));
    const error = await chat.react(m.id, emoji);
    if (error) showError(explainChangeError(error, "react"));
    else announcer.say(had ? `Took back ${emoji}` : `Reacted with ${emoji}`);
  };
  const pick = (m: MessageV2, anchor: HTMLButtonElement): void => {
    const items = REACTIONS.map(([emoji, name]): MenuItem => ({
      text: emoji, label: name, run: () => {
        backTo(m.id)();
        void react(m, emoji);
      },
    }));
    picker.toggle({ anchor, label: "Choose a reaction", items, columns: 4, returnFocus: backTo(m.id) });
  };
  const remove = (m: MessageV2): void => {
    confirmDelete.ask(m, () => {
      composer.focus();
      void chat.remove(m.id).then((error) => {
        if (error) showError(explainChangeError(error, "delete"));
        else announcer.say("Message deleted");
      });
    }, backTo(m.id));
  };
  const openMenu = (m: MessageV2, anchor: HTMLButtonElement): void => {
    showError("");
    const items: MenuItem[] = [
      { text: "Add reaction", run: () => pick(m, anchor) },
      { text: "Reply", run: () => composer.startReply(m.id, m.user.name, snippet(m.text ?? "")) },
    ];
    if (m.user.id === myId() && m.text !== undefined) {
      const text = m.text;
      items.push({ text: "Edit", run: () => composer.startEdit(m.id, text) }, { text: "Delete", danger: true, run: () => remove(m) });
    }
    menu.toggle({ anchor, label: `Message from ${m.user.name}`, items, returnFocus: backTo(m.id) });
  };
  const jump = async (id: number): Promise<void> => {
    showError("");
    const found = await chat.reveal(id);
    // The store renders on a microtask; the row is there after it.
    await new Promise((done) => window.setTimeout(done, 0));
    if (!found || !timeline.highlight(id)) showError("That message could not be found.");
  };

  const timeline = new Timeline({
    loadOlder: () => void chat.loadOlder(),
    retry: (id) => chat.outbox.retry(id),
    discard: (id) => chat.outbox.discard(id),
    openMenu,
    react: (m, emoji) => void react(m, emoji),
    jump: (id) => void jump(id),
  });
  const composer = new Composer({
    send: (text, replyTo) => {
      showError("");
      timeline.stickToBottom();
      chat.send(text, replyTo);
    },
    saveEdit: async (id, text) => {
      showError("");
      const error = await chat.edit(id, text);
      if (error) showError(explainChangeError(error, "edit"));
      else announcer.say("Message edited");
      return !error;
    },
    editLast: () => {
      const room = store.state.room;
      const m = room.you ? lastEditable(room, room.you.id) : undefined;
      if (m?.text !== undefined) composer.startEdit(m.id, m.text);
    },
    announce: (text) => announcer.say(text),
    typing: (active) => chat.typing(active),
  });

  render(store, { header: new Header(), banner: new Banner(), timeline, people: new PeoplePanel(), typing: new TypingLine(), rooms, composer });

  window.addEventListener("popstate", () => go(roomFromPath(location.pathname), false));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") store.update((s) => (s.unread = 0));
  });
  window.setInterval(() => chat.tick(Date.now()), 1000);
  window.setInterval(() => void chat.refreshRooms(), ROOMS_REFRESH_MS);

  const start = roomFromPath(location.pathname);
  go(roomProblem(start) ? DEFAULT_ROOM : start, false);
}

interface Views {
  header: Header;
  banner: Banner;
  timeline: Timeline;
  people: PeoplePanel;
  typing: TypingLine;
  rooms: RoomsPanel;
  composer: Composer;
}

/** Every state change re-renders each view; each view skips work that did not change. */
function render(store: Store<AppState>, v: Views): void {
  let shown: RoomState | null = null;
  store.subscribe((s) => {
    if (s.room !== shown) {
      shown = s.room;
      v.composer.cancel();
      v.timeline.reset();
      v.composer.setPlaceholder(s.room.name);
    }
    v.header.render(s);
    v.banner.render(s.connection);
    v.timeline.render(s.room);
    v.people.render(s.room);
    v.typing.render(s.room);
    v.rooms.render(s.rooms, s.room.name, s.room.count);
  });
}

main();
