// Direct messages: "Message privately" in the people list opens a private
// conversation, which appears live in the other person's sidebar with an
// unread count, opens like a room, and keeps its unread count across a
// reload. Nobody else sees or enters it. axe audits each screen.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  PHONE, assertAccessibleBothThemes, eventually, joinBot, messageTexts, openPerson, say, seeMessages, withServerAndBrowser,
} from "./support.mjs";

const heading = (page) => page.getByRole("heading", { level: 1 }).textContent();
const directLinks = (page) => page.getByRole("region", { name: "Direct messages" }).getByRole("link");
const linkNames = (page) => directLinks(page).evaluateAll((links) => links.map((a) => a.textContent));

/** Sends `event` as `bot` and returns its ack, which must be ok. */
async function ask(bot, event, payload) {
  const ack = await bot.socket.timeout(5000).emitWithAck(event, payload);
  assert.equal(ack.ok, true, `${event}: ${JSON.stringify(ack)}`);
  return ack;
}

/** Greta, a bot in `room` with Asha's page, opens a conversation with Asha and joins it. */
async function conversationWithAsha(asha, greta, room) {
  await asha.page.locator("#people-list").getByText("Greta").waitFor();
  await say(asha.page, "hello Greta");
  let ashaId;
  await eventually(async () => {
    ashaId = (await ask(greta, "history", { room })).messages.at(-1)?.user.id;
    assert.ok(ashaId);
  });
  const { conversation } = await ask(greta, "dm", { userId: ashaId });
  await ask(greta, "join", { room: conversation.room, name: "Greta" });
  return conversation;
}

describe("direct messages", () => {
  let server;
  let browser;
  withServerAndBrowser({ args: ["--rate-limit", "0", "--user-rate-limit", "0"] }, (s, b) => {
    [server, browser] = [s, b];
  });

  it("Message privately opens a conversation that appears in the other's sidebar with an unread count", async () => {
    const lobby = "/r/dm-lobby";
    const asha = await openPerson(browser, server.url, { name: "Asha", path: lobby });
    const bilal = await openPerson(browser, server.url, { name: "Bilal", path: lobby });
    const carol = await joinBot(server.url, "Carol", { room: "dm-lobby", protocol: 2 });
    await asha.page.locator("#people-list").getByText("Bilal").waitFor();
    assert.equal(await bilal.page.getByRole("region", { name: "Direct messages" }).isVisible(), false, "no conversations yet");

    await asha.page.getByRole("button", { name: "Message Bilal privately" }).click();
    await eventually(async () => assert.equal(await heading(asha.page), "@Bilal"));
    const room = decodeURIComponent(new URL(asha.page.url()).pathname.slice(3));
    assert.match(room, /^@[0-9a-f]{24}$/, `the conversation's room is in the address: ${room}`);
    await asha.page.getByText("This is the beginning of your private conversation with Bilal.").waitFor();
    assert.equal(await asha.page.getByRole("textbox", { name: "Message" }).getAttribute("placeholder"), "Message @Bilal");
    await say(asha.page, "psst, a secret");
    await seeMessages(asha.page, ["psst, a secret"]);
    await assertAccessibleBothThemes(asha.page, "a direct conversation");

    // Bilal hears of it live, with one unread message, and not in the public rooms.
    await eventually(async () => assert.deepEqual(await linkNames(bilal.page), ["AAsha1 unread"]));
    assert.deepEqual(await bilal.page.locator("#room-list .room-name").allTextContents(), ["dm-lobby"]);
    await assertAccessibleBothThemes(bilal.page, "the sidebar with an unread direct message");
    const rooms = await carol.socket.timeout(5000).emitWithAck("rooms", {});
    assert.deepEqual(rooms.rooms.map((r) => r.room), ["dm-lobby"], "a conversation is never a public room");
    const intruder = await carol.socket.timeout(5000).emitWithAck("join", { room, name: "Carol" });
    assert.equal(intruder.error?.code, "forbidden", "nobody else may enter");

    await directLinks(bilal.page).first().click();
    await eventually(async () => assert.equal(await heading(bilal.page), "@Asha"));
    await seeMessages(bilal.page, ["psst, a secret"]);
    await eventually(async () => assert.deepEqual(await linkNames(bilal.page), ["AAsha"]), "read once open");
    assert.equal(await directLinks(bilal.page).first().getAttribute("aria-current"), "page");
    await say(bilal.page, "got it");
    await seeMessages(asha.page, ["psst, a secret", "got it"]);

    // Back in the lobby, Asha counts what arrives in the conversation, and keeps the count across a reload.
    await asha.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: /dm-lobby/ }).click();
    await eventually(async () => assert.equal(await heading(asha.page), "#dm-lobby"));
    await say(bilal.page, "one more thing");
    await say(bilal.page, "and another");
    await eventually(async () => assert.deepEqual(await linkNames(asha.page), ["BBilal2 unread"]));
    await eventually(async () => assert.match(await asha.page.locator("#announcer").textContent(), /Direct message from Bilal: and another/));
    await asha.page.reload();
    await eventually(async () => assert.deepEqual(await linkNames(asha.page), ["BBilal2 unread"]));
    assert.deepEqual(await messageTexts(asha.page), [], "the lobby has no messages: the conversation's stay in it");
    await directLinks(asha.page).first().click();
    await seeMessages(asha.page, ["psst, a secret", "got it", "one more thing", "and another"]);
    await eventually(async () => assert.deepEqual(await linkNames(asha.page), ["BBilal"]));
    assert.deepEqual(asha.errors, []);
    assert.deepEqual(bilal.errors, []);
    carol.close();
    await asha.context.close();
    await bilal.context.close();
  });

  it("a conversation whose messages pour in while the page loads counts each of them once", async () => {
    const asha = await openPerson(browser, server.url, { name: "Asha", path: "/r/dm-burst" });
    const greta = await joinBot(server.url, "Greta", { room: "dm-burst", protocol: 2 });
    const conversation = await conversationWithAsha(asha, greta, "dm-burst");
    await eventually(async () => assert.deepEqual(await linkNames(asha.page), ["GGreta"]));
    // The page reloads while they arrive back to back: each count from the server (the
    // list, the join) overlaps the messages the page receives live. The title has the total.
    let total = 0;
    for (let round = 0; round < 3; round++) {
      const sending = (async () => {
        for (let i = 0; i < 300; i++) await ask(greta, "message", { room: conversation.room, text: `note ${round}.${i}` });
      })();
      await asha.page.waitForTimeout(50 + 100 * round);
      await asha.page.reload();
      await sending;
      total += 300;
      await eventually(async () => assert.equal(await asha.page.title(), `(${total}) #dm-burst · Baat-Chit`));
    }
    await asha.page.waitForTimeout(300);
    assert.equal(await asha.page.title(), `(${total}) #dm-burst · Baat-Chit`, "and no more");
    assert.deepEqual(await linkNames(asha.page), ["GGreta99+ unread"]);
    assert.deepEqual(asha.errors, []);
    greta.close();
    await asha.context.close();
  });

  it("a count that answers late keeps the messages that came live before it", async () => {
    // Between the page and the server: once told to, holds the answer to the page's next
    // `reads` while everything else passes, so live messages overtake the count.
    const route = { upgraded: false, hold: false, readsId: null, held: null, release: null };
    const asha = await openPerson(browser, server.url, {
      name: "Asha",
      path: "/r/dm-late",
      beforeGoto: async (p) => {
        await p.clock.install();
        await p.routeWebSocket(/\/socket\.io\//, (ws) => {
          const real = ws.connectToServer();
          route.release = () => ws.send(route.held);
          real.onMessage((frame) => {
            if (route.readsId !== null && String(frame).startsWith(`43${route.readsId}[`)) route.held = String(frame);
            else ws.send(frame);
          });
          ws.onMessage((frame) => {
            if (frame === "5") route.upgraded = true;
            const reads = /^42(\d+)\["reads",/.exec(String(frame));
            if (reads && route.hold && route.readsId === null) route.readsId = reads[1];
            real.send(frame);
          });
        });
      },
    });
    const greta = await joinBot(server.url, "Greta", { room: "dm-late", protocol: 2 });
    const conversation = await conversationWithAsha(asha, greta, "dm-late");
    await ask(greta, "message", { room: conversation.room, text: "one" });
    await eventually(async () => assert.deepEqual(await linkNames(asha.page), ["GGreta1 unread"]));
    // Asha reads it, so she has a marker there, and goes back to the lobby.
    await directLinks(asha.page).first().click();
    await seeMessages(asha.page, ["one"]);
    await eventually(async () => assert.deepEqual(await linkNames(asha.page), ["GGreta"]));
    await asha.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: /dm-late/ }).click();
    await eventually(async () => assert.equal(await heading(asha.page), "#dm-late"));
    await eventually(() => assert.ok(route.upgraded, "the page is on websocket"));

    // The page asks for every marker (as it does every little while); the answer is held.
    route.hold = true;
    await asha.page.clock.fastForward(15_000);
    await eventually(() => assert.ok(route.held, "the page asked for its markers"));
    const [{ reads }] = JSON.parse(route.held.slice(2 + route.readsId.length));
    assert.deepEqual(reads.find((r) => r.room === conversation.room)?.unread, 0, "the held count holds the conversation");
    await ask(greta, "message", { room: conversation.room, text: "two" });
    await ask(greta, "message", { room: conversation.room, text: "three" });
    await eventually(async () => assert.deepEqual(await linkNames(asha.page), ["GGreta2 unread"]));

    // The count (none unread, up to "one") arrives after them; "four" comes after it, on the same socket.
    route.release();
    await ask(greta, "message", { room: conversation.room, text: "four" });
    await eventually(async () => assert.deepEqual(await linkNames(asha.page), ["GGreta3 unread"]));
    assert.equal(await asha.page.title(), "(3) #dm-late · Baat-Chit");
    assert.deepEqual(asha.errors, []);
    greta.close();
    await asha.context.close();
  });

  it("on a phone, people and conversations work from the drawers", async () => {
    const dana = await openPerson(browser, server.url, { name: "Dana", path: "/r/dm-phone", viewport: PHONE });
    const ekow = await openPerson(browser, server.url, { name: "Ekow", path: "/r/dm-phone", viewport: PHONE });
    await dana.page.getByRole("button", { name: "People", exact: true }).click();
    await dana.page.getByRole("button", { name: "Message Ekow privately" }).click();
    await eventually(async () => assert.equal(await heading(dana.page), "@Ekow"));
    assert.equal(await dana.page.getByRole("complementary", { name: /People/ }).isVisible(), false, "the drawer closed");
    await say(dana.page, "hello from my phone");
    await ekow.page.getByRole("button", { name: "Rooms", exact: true }).click();
    await eventually(async () => assert.deepEqual(await linkNames(ekow.page), ["DDana1 unread"]));
    assert.ok(await ekow.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    await assertAccessibleBothThemes(ekow.page, "the rooms drawer with direct messages at 360 px");
    await directLinks(ekow.page).first().click();
    await seeMessages(ekow.page, ["hello from my phone"]);
    await assertAccessibleBothThemes(ekow.page, "a direct conversation at 360 px");
    await dana.context.close();
    await ekow.context.close();
  });
});
