// Names that look like a name already in the room are taken; names with
// invisible characters are refused. See "Names and text" in docs/protocol.md.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertError, connect, roomWithObserver, uniqueRoom, useServer } from "./helpers.mjs";

const CYRILLIC_A = "\u0410";
const ZERO_WIDTH_JOINER = "\u200D";

describe("look-alike names", () => {
  const server = useServer();

  /** A room where Asha is present, and a newcomer who has not joined it. */
  async function roomWithAsha() {
    const room = uniqueRoom();
    const asha = await connect(server);
    await asha.join(room, "Asha");
    return { room, asha, newcomer: await connect(server) };
  }

  test("Asha with a Cyrillic А is refused with name_taken while Asha is in the room", async () => {
    const { room, newcomer } = await roomWithAsha();
    assertError(await newcomer.emit("join", { room, name: `${CYRILLIC_A}sha` }), "name_taken");
    assertError(await newcomer.emit("message", { room, text: "am I in?" }), "not_in_room");
  });

  test("fullwidth, mathematical and mixed-script copies of a present name are refused", async () => {
    const { room, newcomer } = await roomWithAsha();
    for (const name of ["\uFF21\uFF53\uFF48\uFF41", "\u{1D400}sha", "\u0430\u0455\u04BB\u0430", "As\u04BBa"]) {
      assertError(await newcomer.emit("join", { room, name }), "name_taken", `${JSON.stringify(name)}:`);
    }
  });

  test("a capital I for a small l is refused (AIice while Alice is there)", async () => {
    const room = uniqueRoom();
    const alice = await connect(server);
    await alice.join(room, "Alice");
    const impostor = await connect(server);
    assertError(await impostor.emit("join", { room, name: "AIice" }), "name_taken");
  });

  test("a name with a zero-width joiner is refused with invalid_name, in any room", async () => {
    const { room, newcomer } = await roomWithAsha();
    assertError(await newcomer.emit("join", { room, name: `A${ZERO_WIDTH_JOINER}sha` }), "invalid_name");
    assertError(await newcomer.emit("join", { room: uniqueRoom(), name: `Ravi${ZERO_WIDTH_JOINER}` }), "invalid_name");
  });

  test("zero-width spaces, soft hyphens, variation selectors and tag characters are refused", async () => {
    const client = await connect(server);
    for (const invisible of ["\u200B", "\u200C", "\u2060", "\u00AD", "\uFE0F", "\u{E0041}", "\uFEFF"]) {
      const ack = await client.emit("join", { room: uniqueRoom(), name: `Zo${invisible}e` });
      assertError(ack, "invalid_name", `U+${invisible.codePointAt(0).toString(16)}:`);
    }
  });

  test("a look-alike name keeps its own spelling for display when nobody it imitates is there", async () => {
    const { room, observer } = await roomWithObserver(server);
    const fullwidth = await connect(server);
    const ack = await fullwidth.join(room, "\uFF21\uFF53\uFF48\uFF41");
    assert.equal(ack.you.name, "\uFF21\uFF53\uFF48\uFF41");
    const joined = await observer.waitFor("presence", (p) => p.joined.some((u) => u.id === fullwidth.userId));
    assert.equal(joined.joined[0].name, "\uFF21\uFF53\uFF48\uFF41");
  });

  test("once Asha leaves, a look-alike of her name is free", async () => {
    const { room, asha, newcomer } = await roomWithAsha();
    await asha.emit("leave", { room });
    assert.equal((await newcomer.join(room, `${CYRILLIC_A}sha`)).you.name, `${CYRILLIC_A}sha`);
  });

  test("names that only look similar may share a room: Ana and Anna, José and Jose", async () => {
    const room = uniqueRoom();
    for (const name of ["Ana", "Anna", "José", "Jose", "Neil", "Nell", "Zoë", "Zoe"]) {
      const client = await connect(server);
      assert.equal((await client.join(room, name)).you.name, name);
    }
  });
});
