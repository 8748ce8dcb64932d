// Conversations (protocol version 2): editing with the Up arrow, deleting
// after a confirmation, reactions by keyboard, replies whose quote leads
// back to the original (loading older pages), and the error codes said in
// words. axe audits each screen on the way, in light and dark.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  PHONE, assertAccessibleBothThemes, composer, eventually, joinBot, messageRow, messageTexts, openPerson, say,
  seeMessages, withServerAndBrowser,
} from "./support.mjs";

const focusedText = (page) => page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.textContent);
const announced = (page) => page.locator("#announcer").textContent();
const noSidewaysScroll = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

/** Opens a message's menu with the keyboard: focus its actions button, press Enter. */
async function openMenuByKeyboard(page, row) {
  await row.getByRole("button", { name: /^Actions for/ }).focus();
  await page.keyboard.press("Enter");
  const menu = page.getByRole("menu", { name: /^Message from/ });
  await menu.waitFor();
  return menu;
}

describe("conversations", () => {
  let server;
  let browser;
  withServerAndBrowser({ args: ["--rate-limit", "0", "--user-rate-limit", "0"] }, (s, b) => {
    [server, browser] = [s, b];
  });

  it("Up in an empty box edits my last message; everyone sees the new text marked edited; Escape cancels", async () => {
    const path = "/r/edits";
    const asha = await openPerson(browser, server.url, { name: "Asha", path });
    const bilal = await openPerson(browser, server.url, { name: "Bilal", path });
    await say(asha.page, "first");
    await say(asha.page, "helo wrold");
    await seeMessages(bilal.page, ["first", "helo wrold"]);

    const box = composer(asha.page);
    await box.press("ArrowUp");
    assert.equal(await box.inputValue(), "helo wrold");
    assert.equal(await asha.page.locator("#composer-context").textContent().then((t) => t.trim().startsWith("Editing your message")), true);
    assert.equal(await asha.page.getByRole("button", { name: "Save" }).isVisible(), true);
    await assertAccessibleBothThemes(asha.page, "the composer while editing");
    await box.fill("hello world");
    await box.press("Enter");
    for (const page of [asha.page, bilal.page]) {
      await seeMessages(page, ["first", "hello world"]);
      await messageRow(page, "hello world").locator(".edited", { hasText: "(edited)" }).waitFor();
    }
    assert.equal(await messageRow(bilal.page, "first").locator(".edited").count(), 0);
    assert.equal(await box.inputValue(), "");
    assert.equal(await asha.page.locator("#composer-context").isVisible(), false);
    await eventually(async () => assert.match(await announced(asha.page), /Message edited/));
    await eventually(async () => assert.match(await announced(bilal.page), /Asha edited a message: hello world/));

    await box.press("ArrowUp");
    await box.fill("never saved");
    await box.press("Escape");
    assert.equal(await box.inputValue(), "");
    assert.equal(await asha.page.locator("#composer-context").isVisible(), false);
    await say(asha.page, "third");
    await seeMessages(bilal.page, ["first", "hello world", "third"]);
    assert.deepEqual(asha.errors, []);
    await asha.context.close();
    await bilal.context.close();
  });

  it("delete asks first; Escape keeps the message, Delete leaves a placeholder for everyone", async () => {
    const path = "/r/deletes";
    const chen = await openPerson(browser, server.url, { name: "Chen", path });
    const dana = await openPerson(browser, server.url, { name: "Dana", path });
    await say(chen.page, "keep me");
    await say(chen.page, "oops, wrong room");
    await seeMessages(dana.page, ["keep me", "oops, wrong room"]);

    const row = messageRow(chen.page, "oops, wrong room");
    let menu = await openMenuByKeyboard(chen.page, row);
    assert.deepEqual(await menu.getByRole("menuitem").allTextContents(), ["Add reaction", "Reply", "Edit", "Delete"]);
    assert.equal(await focusedText(chen.page), "Add reaction", "opening the menu focuses its first item");
    await assertAccessibleBothThemes(chen.page, "the message menu");
    await chen.page.keyboard.press("End");
    assert.equal(await focusedText(chen.page), "Delete");
    await chen.page.keyboard.press("Enter");
    const dialog = chen.page.getByRole("dialog", { name: "Delete this message?" });
    await dialog.waitFor();
    assert.equal(await dialog.locator("blockquote").textContent(), "oops, wrong room");
    assert.equal(await focusedText(chen.page), "Cancel", "Cancel has the focus, so a stray Enter deletes nothing");
    await assertAccessibleBothThemes(chen.page, "the delete dialog");
    await chen.page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await eventually(async () => assert.match(await focusedText(chen.page), /^Actions for Chen/, "focus returns to the message's actions button"));
    assert.deepEqual(await messageTexts(dana.page), ["keep me", "oops, wrong room"]);

    menu = await openMenuByKeyboard(chen.page, row);
    await menu.getByRole("menuitem", { name: "Delete" }).click();
    await dialog.getByRole("button", { name: "Delete" }).click();
    for (const page of [chen.page, dana.page]) {
      await seeMessages(page, ["keep me"]);
      await page.locator("#messages .msg.deleted .msg-deleted", { hasText: "message deleted" }).waitFor();
    }
    assert.equal(await dana.page.locator("#messages .msg.deleted").getByRole("button").count(), 0, "nothing to do with a deleted message");
    await eventually(async () => assert.match(await announced(dana.page), /Chen deleted a message/));
    await dana.page.getByRole("button", { name: /^Actions for Chen/ }).click();
    assert.deepEqual(await dana.page.getByRole("menuitem").allTextContents(), ["Add reaction", "Reply"], "only the author may edit or delete");
    await chen.context.close();
    await dana.context.close();
  });

  it("reactions work by keyboard alone: picker, toggle, and who reacted on focus", async () => {
    const path = "/r/reactions";
    const femi = await openPerson(browser, server.url, { name: "Femi", path });
    const gita = await joinBot(server.url, "Gita", { room: "reactions", protocol: 2 });
    const sent = await gita.say("lunch at noon?");
    await seeMessages(femi.page, ["lunch at noon?"]);
    const row = messageRow(femi.page, "lunch at noon?");

    await openMenuByKeyboard(femi.page, row);
    await femi.page.keyboard.press("Enter");
    const picker = femi.page.getByRole("menu", { name: "Choose a reaction" });
    await picker.waitFor();
    assert.equal(await focusedText(femi.page), "Thumbs up");
    await assertAccessibleBothThemes(femi.page, "the reaction picker");
    await femi.page.keyboard.press("ArrowRight");
    assert.equal(await focusedText(femi.page), "Heart");
    await femi.page.keyboard.press("ArrowDown");
    assert.equal(await focusedText(femi.page), "Sad", "Down moves a row (four to a row)");
    await femi.page.keyboard.press("ArrowUp");
    await femi.page.keyboard.press("Enter");
    await picker.waitFor({ state: "hidden" });
    const heart = row.getByRole("button", { name: "❤️ 1" });
    await heart.waitFor();
    assert.equal(await heart.getAttribute("aria-pressed"), "true", "my own reaction is marked");
    assert.match(await focusedText(femi.page), /^Actions for Gita/, "focus goes back to the message");

    const change = await gita.react(sent.id, "❤️");
    assert.equal(change.message.reactions[0].count, 2);
    const both = row.getByRole("button", { name: "❤️ 2" });
    await both.waitFor();
    await both.focus();
    const tip = row.getByRole("tooltip");
    await eventually(async () => assert.equal(await tip.isVisible(), true, "who reacted shows on focus"));
    assert.equal(await tip.textContent(), "Reacted by you and Gita");
    assert.equal(await both.evaluate((b) => document.getElementById(b.getAttribute("aria-describedby")).textContent), "Reacted by you and Gita");
    await assertAccessibleBothThemes(femi.page, "a reaction's tooltip");

    await femi.page.keyboard.press("Enter");
    const one = row.getByRole("button", { name: "❤️ 1" });
    await one.waitFor();
    assert.equal(await one.getAttribute("aria-pressed"), "false", "pressing my reaction again takes it back");
    assert.equal(await focusedText(femi.page), "❤️ 1", "focus stays on the reaction as the row updates");
    await femi.page.mouse.move(0, 0);
    await eventually(async () => assert.equal(await tip.isVisible(), true, "still shown while focused"));
    await femi.page.evaluate(() => document.activeElement.blur());
    await one.hover();
    await eventually(async () => assert.equal(await tip.isVisible(), true, "and on hover"));
    assert.equal(await tip.textContent(), "Reacted by Gita");
    gita.close();
    await femi.context.close();
  });

  it("a reply quotes its original; the quote goes there, loading older pages, and highlights it", async () => {
    const room = "replies";
    const hamid = await joinBot(server.url, "Hamid", { room, protocol: 2 });
    const original = await hamid.say("the plan: ship on Friday");
    for (let i = 1; i <= 120; i++) await hamid.say(`filler ${i}`);
    await hamid.say("sounds good", { replyTo: original.id });
    const ines = await openPerson(browser, server.url, { name: "Ines", path: `/r/${room}` });
    await eventually(async () => assert.equal((await messageTexts(ines.page)).at(-1), "sounds good"));
    assert.equal((await messageTexts(ines.page)).length, 50, "the original is not loaded yet");

    const reply = messageRow(ines.page, "sounds good");
    const quote = reply.getByRole("button", { name: /earlier message/ });
    await quote.focus();
    await ines.page.keyboard.press("Enter");
    const target = messageRow(ines.page, "the plan: ship on Friday");
    await eventually(async () => assert.match(await target.getAttribute("class"), /\bhighlight\b/), { timeout: 8000 });
    assert.equal(await target.evaluate((row) => row === document.activeElement), true, "focus moves to the original");
    const inView = await target.evaluate((row) => {
      const r = row.getBoundingClientRect();
      const t = document.getElementById("timeline").getBoundingClientRect();
      return r.top >= t.top && r.bottom <= t.bottom;
    });
    assert.ok(inView, "the original is scrolled into view");
    assert.equal(await reply.locator(".quote").textContent(), "Reply to Hamid: the plan: ship on Friday (go to it)");

    // Replying from the menu: the quote shows above the box and on the sent message.
    await openMenuByKeyboard(ines.page, messageRow(ines.page, "filler 120"));
    await ines.page.keyboard.press("ArrowDown");
    await ines.page.keyboard.press("Enter");
    assert.match(await ines.page.locator("#composer-context").textContent(), /Replying to Hamid: filler 120/);
    assert.equal(await ines.page.evaluate(() => document.activeElement?.id), "composer-input");
    const heard = new Promise((resolve) => hamid.socket.once("message", resolve));
    await say(ines.page, "agreed");
    const sent = await heard;
    const page = await hamid.socket.timeout(5000).emitWithAck("history", { room, limit: 3 });
    assert.equal(sent.replyTo, page.messages.find((m) => m.text === "filler 120").id);
    await messageRow(ines.page, "agreed").locator(".quote", { hasText: "filler 120" }).waitFor();
    assert.equal(await ines.page.locator("#composer-context").isVisible(), false);

    // The original deleted: the quote says so.
    await hamid.remove(original.id);
    await eventually(async () => assert.equal(await reply.locator(".quote").textContent(), "Reply to Hamid: deleted message (go to it)"));
    hamid.close();
    await ines.context.close();
  });

  it("refusals are said in words: someone else's message, a deleted one, too many reactions", async () => {
    const room = "refusals";
    const jamal = await openPerson(browser, server.url, { name: "Jamal", path: `/r/${room}` });
    const kofi = await joinBot(server.url, "Kofi", { room, protocol: 2 });
    const mine = await new Promise((resolve) => {
      kofi.socket.once("message", resolve);
      void say(jamal.page, "going, going");
    });
    const crowded = await kofi.say("react to me");
    const emoji = ["😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😊", "😇", "🙂", "🙃", "😉", "😌", "😍", "🥰", "😘", "😗", "😙", "😚", "😋"];
    for (const e of emoji) await kofi.react(crowded.id, e);
    await seeMessages(jamal.page, ["going, going", "react to me"]);
    const alert = jamal.page.getByRole("alert");

    await openMenuByKeyboard(jamal.page, messageRow(jamal.page, "react to me"));
    await jamal.page.keyboard.press("Enter");
    await jamal.page.keyboard.press("Enter");
    await eventually(async () => assert.equal(await alert.textContent(), "Reaction not changed: a message can have at most 20 different reactions."));

    // Deleted elsewhere while the edit was open.
    await composer(jamal.page).press("ArrowUp");
    const other = await joinBot(server.url, "Jamal-tab", { room, protocol: 2, token: await jamal.page.evaluate(() => localStorage.getItem("baat-chit.token")) });
    await other.remove(mine.id);
    await composer(jamal.page).fill("gone?");
    await composer(jamal.page).press("Enter");
    await eventually(async () => assert.equal(await alert.textContent(), "Not edited: that message no longer exists; it may have been deleted."));
    assert.equal(await composer(jamal.page).inputValue(), "gone?", "the text is kept so nothing typed is lost");
    await composer(jamal.page).press("Escape");
    other.close();
    kofi.close();
    await jamal.context.close();
  });

  it("every refusal code of an edit or reaction is said in words", async () => {
    let upgraded = false;
    const inject = [];
    const { page, context } = await openPerson(browser, server.url, {
      name: "Nadia",
      path: "/r/codes",
      // Between the page and the server: answers the next edits and reactions with the queued errors.
      beforeGoto: (p) => p.routeWebSocket(/\/socket\.io\//, (ws) => {
        const real = ws.connectToServer();
        real.onMessage((frame) => ws.send(frame));
        ws.onMessage((frame) => {
          if (frame === "5") upgraded = true;
          const change = /^42(\d+)\["(edit|react)",/.exec(String(frame));
          if (change && inject.length) {
            const error = inject.shift();
            return ws.send(`43${change[1]}[${JSON.stringify({ ok: false, error: { message: "server words", ...error } })}]`);
          }
          real.send(frame);
        });
      }),
    });
    await eventually(() => assert.ok(upgraded, "the page is on websocket"));
    await say(page, "mine");
    await page.locator("#messages .msg[data-id]").waitFor();
    const alert = page.getByRole("alert");
    const box = composer(page);
    const react = async () => {
      await openMenuByKeyboard(page, messageRow(page, "mine"));
      await page.keyboard.press("Enter");
      await page.keyboard.press("Enter");
    };
    const cases = [
      [{ code: "forbidden" }, () => box.press("ArrowUp").then(() => box.fill("changed")).then(() => box.press("Enter")),
        "Not edited: only the person who wrote a message can edit it."],
      [{ code: "too_large" }, () => box.press("Enter"), "Not edited: a message is at most 2000 characters."],
      [{ code: "not_found" }, react, "Reaction not changed: that message no longer exists; it may have been deleted."],
      [{ code: "invalid_reaction" }, react, "Reaction not changed: a reaction is a single emoji."],
      [{ code: "too_large" }, react, "Reaction not changed: a message can have at most 20 different reactions."],
      [{ code: "rate_limited", retryAfterMs: 2500 }, react, "Reaction not changed: sending too fast; try again in 3 s."],
      [{ code: "forbidden" }, react, "Reaction not changed: you are not allowed to do that here."],
    ];
    for (const [error, act, words] of cases) {
      inject.push(error);
      await act();
      await eventually(async () => assert.equal(await alert.textContent(), words));
    }
    assert.equal(await box.inputValue(), "changed", "a refused edit keeps its text");
    await box.press("Escape");
    assert.deepEqual(await messageTexts(page), ["mine"]);
    await context.close();
  });

  it("at 360 px the menu, picker and dialog fit without sideways scrolling", async () => {
    const path = "/r/narrow-conv";
    const lina = await openPerson(browser, server.url, { name: "Lina", path, viewport: PHONE });
    const mira = await joinBot(server.url, "Mira", { room: "narrow-conv", protocol: 2 });
    const long = await mira.say("a message long enough to wrap over several lines on a phone screen, with a reaction");
    await mira.react(long.id, "🎉");
    await mira.say("a reply", { replyTo: long.id });
    await say(lina.page, "mine, to delete");
    await eventually(async () => assert.equal((await messageTexts(lina.page)).length, 3));
    await assertAccessibleBothThemes(lina.page, "the chat at 360 px");
    const menu = await openMenuByKeyboard(lina.page, messageRow(lina.page, "mine, to delete"));
    const box = await menu.boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 360, `the menu is inside the screen: ${JSON.stringify(box)}`);
    assert.ok(await noSidewaysScroll(lina.page));
    await assertAccessibleBothThemes(lina.page, "the message menu at 360 px");
    await lina.page.keyboard.press("Enter");
    const picker = lina.page.getByRole("menu", { name: "Choose a reaction" });
    await picker.waitFor();
    const pickerBox = await picker.boundingBox();
    assert.ok(pickerBox.x >= 0 && pickerBox.x + pickerBox.width <= 360, `the picker is inside the screen: ${JSON.stringify(pickerBox)}`);
    await assertAccessibleBothThemes(lina.page, "the reaction picker at 360 px");
    await lina.page.keyboard.press("Escape");
    await picker.waitFor({ state: "hidden" });
    await openMenuByKeyboard(lina.page, messageRow(lina.page, "mine, to delete"));
    await lina.page.keyboard.press("End");
    await lina.page.keyboard.press("Enter");
    await lina.page.getByRole("dialog", { name: "Delete this message?" }).waitFor();
    assert.ok(await noSidewaysScroll(lina.page));
    await assertAccessibleBothThemes(lina.page, "the delete dialog at 360 px");
    await lina.page.keyboard.press("Escape");
    mira.close();
    await lina.context.close();
  });
});
