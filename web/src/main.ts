/**
 * Wiring: builds the store, the socket client, the controller and the UI
 * pieces, connects them, and keeps the URL (/r/<room>) in step with the
 * room. Everything with behaviour lives in the modules it imports.
 */
import { Chat, type ChatView } from "./chat";
import { identity } from "./identity";
import { DEFAULT_ROOM } from "./protocol";
import { Directs } from "./directs";
import { explainDirectError } from "./errors";
import { keepRooms } from "./keeper";
import { Reads } from "./reads";
import { RoomCounts } from "./roomCounts";
import { roomFromPath, roomPath, roomProblem } from "./route";
import { Searcher } from "./search";
import { ChatClient } from "./socket";
import { emptyRoom, roomLabel, Store, type AppState, type RoomState } from "./state";
import { Announcer } from "./ui/announcer";
import { Banner } from "./ui/banner";
import { Composer } from "./ui/composer";
import { DirectsPanel } from "./ui/directs";
import { Drawer } from "./ui/drawer";
import { Header } from "./ui/header";
import { NameDialog } from "./ui/nameDialog";
import { MessageActionsUI } from "./ui/messageActions";
import { MentionNotifier } from "./ui/notify";
import { PeoplePanel } from "./ui/people";
import { RoomsPanel } from "./ui/rooms";
import { SearchDialog } from "./ui/search";
import { Timeline } from "./ui/timeline";
import { TypingLine } from "./ui/typing";

function main(): void {
  const store = new Store<AppState>({ connection: "connecting", userId: null, room: emptyRoom(""), rooms: [], directs: [], reads: new Map() });
  const client = new ChatClient(identity.token());
  const announcer = new Announcer();
  const notifier = new MentionNotifier();
  const roomsDrawer = new Drawer("rooms-panel", "rooms-toggle");
  const peopleDrawer = new Drawer("people-panel", "people-toggle");

  let dialog: NameDialog | null = null;
  const view: ChatView = {
    askName: (room, error, name) => dialog?.open(room, error, name),
    entered: (room) => {
      // Show the canonical (lower-case) name in the address bar.
      if (location.pathname.startsWith("/r/") && roomFromPath(location.pathname) !== room) {
        history.replaceState(null, "", roomPath(room));
      }
      // The first time the reader has a name on this connection, the direct conversations load.
      void directs.refresh();
    },
    announce: (text) => announcer.say(text),
    mentioned: (m) => notifier.mention(m),
  };
  // Messages in the open room are read as they arrive while the reader looks at the newest ones.
  const reads = new Reads(client, store, {
    reading: (room) => room === store.state.room.name && document.visibilityState === "visible" && timeline.isFollowing(),
  });
  new RoomCounts(client, store);
  const chat = new Chat(client, store, view, reads);
  const directs = new Directs(client, store, reads, { announce: (text) => announcer.say(text) });
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
  const actions: MessageActionsUI = new MessageActionsUI({ chat, store, announcer, composer: () => composer, timeline: () => timeline });
  const timeline: Timeline = new Timeline({
    loadOlder: () => void chat.loadOlder(),
    fillGap: (side) => void chat.fillGap(side),
    seen: (seq) => store.state.room.joined && reads.seen(store.state.room.name, seq),
    retry: (id) => chat.outbox.retry(id),
    discard: (id) => chat.outbox.discard(id),
    openMenu: actions.openMenu,
    react: actions.react,
    jump: actions.jump,
  });
  const composer: Composer = new Composer({
    send: (text, replyTo) => {
      actions.showError("");
      timeline.stickToBottom();
      chat.send(text, replyTo);
    },
    saveEdit: (id, text) => actions.saveEdit(id, text),
    editLast: () => actions.editLast(),
    announce: (text) => announcer.say(text),
    typing: (active) => chat.typing(active),
  });

  const people = new PeoplePanel(async (user) => {
    actions.showError("");
    const opened = await directs.open(user.id);
    if ("error" in opened) return actions.showError(explainDirectError(opened.error, user.name));
    peopleDrawer.close(false);
    go(opened.room, true);
  });
  const directsPanel = new DirectsPanel((room) => go(room, true));
  new SearchDialog({
    searcher: new Searcher(client),
    label: (room) => {
      const label = roomLabel(store.state, room);
      return `${label.sigil}${label.title}`;
    },
    open: ({ message }) => {
      chat.openAt(message.room, message.seq, message.id);
      go(message.room, true);
    },
  });

  render(store, { header: new Header(), banner: new Banner(), timeline, people, typing: new TypingLine(), rooms, composer, actions, directsPanel });

  window.addEventListener("popstate", () => go(roomFromPath(location.pathname), false));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    // Back to the page: what is in view now is read, and other rooms' counts may have moved.
    timeline.reportSeen();
    void reads.refresh();
  });
  window.setInterval(() => chat.tick(Date.now()), 1000);
  keepRooms(store);
  // Installable and opening offline (sw/sw.ts); without it the app simply needs the server.
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => undefined);

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
  actions: MessageActionsUI;
  directsPanel: DirectsPanel;
}

/** Every state change re-renders each view; each view skips work that did not change. */
function render(store: Store<AppState>, v: Views): void {
  let shown: RoomState | null = null;
  store.subscribe((s) => {
    if (s.room !== shown) {
      shown = s.room;
      v.composer.cancel();
      v.actions.reset();
      v.timeline.reset();
    }
    const label = roomLabel(s);
    v.composer.setPlaceholder(`${label.sigil}${label.title}`);
    v.header.render(s);
    v.banner.render(s.connection);
    v.timeline.render(s.room, label);
    v.people.render(s.room);
    v.typing.render(s.room);
    v.rooms.render(s.rooms, s.room.name, s.room.count, s.reads);
    v.directsPanel.render(s.directs, s.room.name, s.reads);
  });
}

main();
