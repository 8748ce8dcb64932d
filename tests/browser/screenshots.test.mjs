// The screenshots in docs/screenshots: a lively room, with an edit,
// reactions, a reply, a deleted message and an unread direct message, on a desktop (1280×800) and a
// phone (360×740), in light and dark, plus the message menu, the reaction
// picker and the delete dialog open, and the direct conversation; then
// formatted messages, unread counts with the "New" divider, search
// results, and (last) a room opened offline from the service worker with a
// message waiting, in the same four looks. Written by this test, which also
// checks every shot with axe (WCAG 2.1 A and AA) and that all visible text
// meets AA contrast.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import {
  DESKTOP, PHONE, assertAccessible, eventually, lowContrastText, joinBot, messageRow, messageTexts, onlineCount, openPerson,
  say, withServerAndBrowser,
} from "./support.mjs";

const SHOTS = resolve(import.meta.dirname, "..", "..", "docs", "screenshots");

describe("screenshots", () => {
  let server;
  let browser;
  withServerAndBrowser((s, b) => {
    [server, browser] = [s, b];
  });

  it("a conversation looks calm on desktop and phone, in light and dark", async () => {
    mkdirSync(SHOTS, { recursive: true });
    const v2 = { protocol: 2 };
    const bilal = await joinBot(server.url, "Bilal", v2);
    const chen = await joinBot(server.url, "Chen Wei", v2);
    const design = await Promise.all(["Farid", "Greta"].map((n) => joinBot(server.url, n, { room: "design" })));
    const random = await joinBot(server.url, "Hoang", { room: "random" });
    const notes = await bilal.say("Morning all! Release notes for 2.4 are up: https://example.com/releases/2.4");
    await chen.say("Nice. The reconnect fix is a big one for us.");
    const wifi = await chen.say("The office wifi dropped twice yesterday and nobody noticed.");
    await chen.edit(wifi.id, "The office wifi dropped twice yesterday and nobody missed a message.");

    const { page, context } = await openPerson(browser, server.url, { name: "Asha", viewport: DESKTOP });
    await say(page, "That was the plan. Thanks for testing it so thoroughly!");
    const dilnoza = await joinBot(server.url, "Dilnoza", v2);
    const question = await dilnoza.say("Hi everyone! @Asha, is the review still at 3?");
    const oops = await dilnoza.say("(wrong window, sorry)");
    await dilnoza.remove(oops.id);
    await eventually(async () => assert.equal((await messageTexts(page)).length, 5));
    const thanks = messageRow(page, "That was the plan. Thanks for testing it so thoroughly!");
    // Its row has the stored message's id once the send is answered (a pending row has none).
    let asha = 0;
    await eventually(async () => assert.ok((asha = Number(await thanks.getAttribute("data-id"))) > 0));
    await bilal.react(asha, "🎉");
    await dilnoza.react(asha, "🎉");
    await chen.react(asha, "🙏");
    await chen.react(notes.id, "👍");
    await messageRow(page, "Hi everyone! @Asha, is the review still at 3?").getByRole("button", { name: /^Actions/ }).click();
    await page.getByRole("menuitem", { name: "Reply" }).click();
    await say(page, "Yes, 3 pm in the small room.\nI'll bring the slides.");
    await messageRow(page, "Morning all! Release notes for 2.4 are up: https://example.com/releases/2.4").getByRole("button", { name: "👍 1" }).click();
    await eventually(async () => assert.equal(await thanks.locator(".reaction").count(), 2));
    await messageRow(page, "Yes, 3 pm in the small room.\nI'll bring the slides.").locator(".quote").waitFor();
    assert.equal(question.text.startsWith("Hi everyone"), true);
    // A direct message waiting in the sidebar.
    const greta = await joinBot(server.url, "Greta", { protocol: 2 });
    const ask = (event, payload) => greta.socket.timeout(5000).emitWithAck(event, payload);
    const { messages } = await ask("history", { room: "general" });
    const ashaId = messages.find((m) => m.text?.startsWith("That was the plan")).user.id;
    const { conversation } = await ask("dm", { userId: ashaId });
    await ask("join", { room: conversation.room, name: "Greta" });
    await ask("message", { room: conversation.room, text: "Could you send me the slides before the review?" });
    await ask("leave", { room: "general" });
    await eventually(async () => assert.equal(await page.locator("#dm-list .unread-badge").textContent(), "1 unread"));
    const emeka = await joinBot(server.url, "Emeka");
    await eventually(async () => assert.equal(await onlineCount(page), "5 online"));
    await page.evaluate(() => document.activeElement?.blur());

    const shoot = async (name, where) => {
      await page.screenshot({ path: join(SHOTS, `${name}.png`) });
      assert.deepEqual(await page.evaluate(lowContrastText, 4.5), [], `AA contrast on ${where}`);
      await assertAccessible(page, where);
    };
    for (const [viewport, device] of [[DESKTOP, "desktop"], [PHONE, "phone"]]) {
      await page.setViewportSize(viewport);
      for (const colorScheme of ["light", "dark"]) {
        emeka.typing(true);
        await eventually(async () => assert.equal(await page.locator("#typing").textContent(), "Emeka is typing…"));
        await page.emulateMedia({ colorScheme });
        await page.mouse.move(viewport.width - 1, viewport.height - 1);
        await shoot(`${device}-${colorScheme}`, `${device}, ${colorScheme}`);
      }
    }

    // The menu, the picker and the delete dialog, each in one of the four looks.
    const mine = messageRow(page, "Yes, 3 pm in the small room.\nI'll bring the slides.");
    const actions = mine.getByRole("button", { name: /^Actions/ });
    await page.setViewportSize(DESKTOP);
    await page.emulateMedia({ colorScheme: "light" });
    await actions.focus();
    await page.keyboard.press("Enter");
    await page.getByRole("menu").waitFor();
    await shoot("desktop-light-menu", "the message menu");
    await page.keyboard.press("Escape");
    await page.setViewportSize(PHONE);
    await page.emulateMedia({ colorScheme: "dark" });
    await actions.focus();
    await page.keyboard.press("Enter");
    await page.keyboard.press("Enter");
    await page.getByRole("menu", { name: "Choose a reaction" }).waitFor();
    await shoot("phone-dark-picker", "the reaction picker on a phone");
    await page.keyboard.press("Escape");
    await page.setViewportSize(DESKTOP);
    await actions.focus();
    await page.keyboard.press("Enter");
    await page.keyboard.press("End");
    await page.keyboard.press("Enter");
    await page.getByRole("dialog", { name: "Delete this message?" }).waitFor();
    await shoot("desktop-dark-delete", "the delete dialog");
    await page.keyboard.press("Escape");

    // The direct conversation, opened from the sidebar.
    await page.emulateMedia({ colorScheme: "light" });
    await page.getByRole("region", { name: "Direct messages" }).getByRole("link", { name: /Greta/ }).click();
    await eventually(async () => assert.deepEqual(await messageTexts(page), ["Could you send me the slides before the review?"]));
    await say(page, "Sure, sending them over now.");
    await eventually(async () => assert.equal(await page.locator("#messages .msg[data-id]").count(), 2));
    await page.evaluate(() => document.activeElement?.blur());
    await shoot("desktop-light-dm", "a direct conversation");
    await page.setViewportSize(PHONE);
    await page.emulateMedia({ colorScheme: "dark" });
    await shoot("phone-dark-dm", "a direct conversation on a phone");
    for (const bot of [bilal, chen, ...design, random, dilnoza, greta, emeka]) bot.close();
    await context.close();
  });

  it("unread counts, the New divider and search results look calm too", async () => {
    const v2 = { protocol: 2 };
    const omar = await joinBot(server.url, "Omar", { room: "planning", ...v2 });
    const priya = await joinBot(server.url, "Priya", { room: "planning", ...v2 });
    const ravi = await joinBot(server.url, "Ravi", { room: "launch", ...v2 });
    await omar.say("Agenda for Thursday: budget, hiring, and the design review.");
    await priya.say("I'll bring last quarter's numbers.");
    await ravi.say("Launch checklist is in the shared folder.");
    const { page, context } = await openPerson(browser, server.url, { name: "Leila", path: "/r/launch", viewport: DESKTOP });
    await eventually(async () => assert.equal((await messageTexts(page)).length, 1));
    const go = async (room) => {
      await page.getByLabel("Join or create a room").fill(room);
      await page.getByLabel("Join or create a room").press("Enter");
      await eventually(async () => assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), `#${room}`));
    };
    await go("planning");
    await eventually(async () => assert.equal((await messageTexts(page)).length, 2));
    await say(page, "Sounds good, see you there.");
    await go("lobby");
    // While Leila is away: new messages in both rooms, and a direct message.
    await omar.say("Quick change: the review moves to 3 pm.");
    await priya.say("Works for me. Should we invite the new designers to the review?");
    await omar.say("Yes, and let's keep it to 45 minutes.");
    await ravi.say("Press release draft is ready for review.");
    await ravi.say("Launch moved to Monday 09:00.");
    // Leila's page may still be joining #lobby: take her from the join's list or her presence.
    const leilaJoins = new Promise((resolve) => ravi.socket.on("presence", (p) => {
      const found = p.room === "lobby" && p.joined.find((u) => u.name === "Leila");
      if (found) resolve(found);
    }));
    const { users } = await ravi.socket.timeout(5000).emitWithAck("join", { room: "lobby", name: "Ravi" });
    const leila = users.find((u) => u.name === "Leila") ?? (await leilaJoins);
    const { conversation } = await ravi.socket.timeout(5000).emitWithAck("dm", { userId: leila.id });
    await ravi.socket.timeout(5000).emitWithAck("join", { room: conversation.room, name: "Ravi" });
    await ravi.socket.timeout(5000).emitWithAck("message", { room: conversation.room, text: "Could you review the press release before Friday?" });
    await ravi.socket.timeout(5000).emitWithAck("leave", { room: "lobby" });
    await page.reload();
    await eventually(async () => assert.equal(await page.title(), "(6) #lobby · Baat-Chit"));
    await page.locator(`#room-list a[href="/r/planning"]`).click();
    await page.getByRole("heading", { name: "New messages" }).waitFor();
    await eventually(async () => assert.equal(await page.title(), "(3) #planning · Baat-Chit"));
    await page.evaluate(() => document.activeElement?.blur());

    const shoot = async (name, where) => {
      await page.mouse.move(1, 1);
      await page.screenshot({ path: join(SHOTS, `${name}.png`) });
      assert.deepEqual(await page.evaluate(lowContrastText, 4.5), [], `AA contrast on ${where}`);
      await assertAccessible(page, where);
    };
    for (const colorScheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme });
      await shoot(`desktop-${colorScheme}-unread`, `unread counts and the New divider, ${colorScheme}`);
    }
    await page.setViewportSize(PHONE);
    await page.emulateMedia({ colorScheme: "light" });
    await shoot("phone-light-unread", "the New divider on a phone");
    await page.emulateMedia({ colorScheme: "dark" });
    await page.getByRole("button", { name: "Rooms", exact: true }).click();
    await page.getByRole("navigation", { name: "Rooms" }).getByText("launch").waitFor();
    await shoot("phone-dark-unread", "unread counts in the rooms drawer on a phone");
    await page.keyboard.press("Escape");

    // Search: every room and Leila's own conversation.
    await page.setViewportSize(DESKTOP);
    await page.emulateMedia({ colorScheme: "light" });
    await page.keyboard.press("Control+K");
    await page.keyboard.type("review");
    const status = page.getByRole("dialog", { name: "Search messages" }).getByRole("status");
    // Five here, and one more from the first scene when both run on this server.
    await eventually(async () => assert.match(await status.textContent(), /^[56] messages match “review”\.$/));
    for (const [viewport, device] of [[DESKTOP, "desktop"], [PHONE, "phone"]]) {
      await page.setViewportSize(viewport);
      for (const colorScheme of ["light", "dark"]) {
        await page.emulateMedia({ colorScheme });
        await shoot(`${device}-${colorScheme}-search`, `search results, ${device}, ${colorScheme}`);
      }
    }
    for (const bot of [omar, priya, ravi]) bot.close();
    await context.close();
  });

  // Last: it stops the server, to show the room opened offline.
  it("formatted messages, and the room opened offline, look calm on desktop and phone, in light and dark", async () => {
    const v2 = { room: "dev", protocol: 2 };
    const bilal = await joinBot(server.url, "Bilal", v2);
    const chen = await joinBot(server.url, "Chen Wei", v2);
    await bilal.say("**Release 2.5** is out :tada:\n- reconnects keep your place\n- messages written offline go out later\n- ~~flaky~~ steady tests");
    await chen.say("> Do code blocks still fit on a phone?\n\nThey scroll sideways by themselves:\n```\nconst socket = io({ auth: { token }, reconnectionDelayMax: 3000 });\nsocket.emit(\"message\", { room: \"dev\", text: \"hi\", clientId });\n```");
    const { page, context } = await openPerson(browser, server.url, { name: "Asha", path: "/r/dev", viewport: DESKTOP });
    await say(page, "Run `make test` before you merge, and see [the protocol](https://example.com/protocol) for *since*.");
    await bilal.say("1. pull\n2. `npm run build`\n3. _enjoy_ :rocket: @Asha");
    await eventually(async () => assert.equal(await page.locator("#messages .msg[data-id]").count(), 4));
    await page.evaluate(() => document.activeElement?.blur());

    /** Shoots `target` as desktop and phone, light and dark, each checked for contrast and by axe. */
    const fourLooks = async (target, name, where) => {
      for (const [viewport, device] of [[DESKTOP, "desktop"], [PHONE, "phone"]]) {
        await target.setViewportSize(viewport);
        for (const colorScheme of ["light", "dark"]) {
          await target.emulateMedia({ colorScheme });
          await target.mouse.move(viewport.width - 1, viewport.height - 1);
          await target.screenshot({ path: join(SHOTS, `${device}-${colorScheme}-${name}.png`) });
          assert.deepEqual(await target.evaluate(lowContrastText, 4.5), [], `AA contrast on ${where}, ${device}, ${colorScheme}`);
          await assertAccessible(target, `${where}, ${device}, ${colorScheme}`);
        }
      }
    };
    await fourLooks(page, "formatting", "formatted messages");

    // Saved on this device, the server goes away, a message waits, and the tab is reopened.
    const savedCount = () => page.evaluate(() => new Promise((resolve) => {
      const open = indexedDB.open("baat-chit");
      open.onsuccess = () => {
        const get = open.result.transaction("rooms").objectStore("rooms").get("dev");
        get.onsuccess = () => resolve(get.result?.messages.length ?? 0);
      };
    }));
    await eventually(async () => assert.equal(await savedCount(), 4));
    await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state);
    await server.stop();
    await page.getByRole("status").filter({ hasText: "You are offline" }).waitFor();
    await say(page, "Pushing the fix as soon as I am back online :rocket:");
    await page.getByText("Waiting for connection…").waitFor();
    // Shown at once, kept a moment later: closing the tab in between would lose the race, not test the app.
    const keptToSend = () => page.evaluate(() => new Promise((resolve) => {
      const open = indexedDB.open("baat-chit");
      open.onsuccess = () => {
        const count = open.result.transaction("outbox").objectStore("outbox").count();
        count.onsuccess = () => resolve(count.result);
      };
    }));
    await eventually(async () => assert.equal(await keptToSend(), 1));
    const url = page.url();
    await page.close();
    const reopened = await context.newPage();
    await reopened.setViewportSize(DESKTOP);
    await reopened.goto(url);
    await reopened.getByRole("status").filter({ hasText: "You are offline" }).waitFor();
    await reopened.getByText("Waiting for connection…").waitFor();
    await eventually(async () => assert.equal(await reopened.locator("#messages .msg").count(), 5));
    await reopened.evaluate(() => document.activeElement?.blur());
    await fourLooks(reopened, "offline", "the room opened offline");
    bilal.close();
    chen.close();
    await context.close();
  });
});
