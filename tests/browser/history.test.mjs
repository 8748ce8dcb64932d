// Reading back: the latest messages on entry, older pages on scrolling up,
// a "new messages" pill instead of a yanked view, and the tab title and
// desktop notification while the reader is away.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventually, joinBot, messageTexts, openPerson, withServerAndBrowser } from "./support.mjs";

const numbered = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => `message ${from + i}`);

/** Lets a test hide and show the tab, and records desktop notifications. */
function awayControls() {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", { get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(Document.prototype, "hidden", { get: () => hidden });
  window.setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
  window.notifications = [];
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) {
      super(title, options);
      window.notifications.push({ title, body: options?.body });
    }
  };
}

describe("history", () => {
  let server;
  let browser;
  withServerAndBrowser({ args: ["--rate-limit", "1000", "--user-rate-limit", "0"] }, (s, b) => {
    [server, browser] = [s, b];
  });

  it("entering shows the latest 50, and scrolling up loads all older ones in order", async () => {
    const bot = await joinBot(server.url, "Ines", { room: "archive" });
    for (const text of numbered(1, 120)) await bot.say(text);
    const { page, context } = await openPerson(browser, server.url, { name: "Jamal", path: "/r/archive" });
    await eventually(async () => assert.deepEqual(await messageTexts(page), numbered(71, 120)));
    const timeline = page.getByRole("region", { name: "Messages" });
    const atBottom = await timeline.evaluate((t) => t.scrollHeight - t.scrollTop - t.clientHeight < 50);
    assert.ok(atBottom, "entering shows the newest message");

    // Measured in the page in one go: rows are rebuilt as they join a group.
    const topOf71 = (scrollToTop) => page.evaluate((scroll) => {
      if (scroll) document.getElementById("timeline").scrollTop = 0;
      const text = [...document.querySelectorAll("#messages .msg-text")].find((p) => p.textContent === "message 71");
      return text.getBoundingClientRect().top;
    }, scrollToTop);
    const before = await topOf71(true);
    await eventually(async () => assert.equal((await messageTexts(page)).length, 100));
    const shift = Math.abs((await topOf71(false)) - before);
    assert.ok(shift < 30, `the view stays on message 71 instead of jumping (moved ${shift}px)`);
    await timeline.evaluate((t) => (t.scrollTop = 0));
    await eventually(async () => assert.deepEqual(await messageTexts(page), numbered(1, 120)));
    assert.equal(await page.getByRole("button", { name: "Load older messages" }).isVisible(), false);
    bot.close();
    await context.close();
  });

  it("scrolled up, a new message does not move the view; a pill takes you down", async () => {
    const bot = await joinBot(server.url, "Kofi", { room: "pill" });
    for (const text of numbered(1, 40)) await bot.say(text);
    const { page, context } = await openPerson(browser, server.url, { name: "Lina", path: "/r/pill" });
    await eventually(async () => assert.equal((await messageTexts(page)).length, 40));
    const timeline = page.getByRole("region", { name: "Messages" });
    await timeline.evaluate((t) => (t.scrollTop = 100));
    const pill = page.getByRole("button", { name: "New messages" });
    assert.equal(await pill.isVisible(), false);
    await bot.say("fresh news");
    await pill.waitFor();
    assert.equal(await timeline.evaluate((t) => t.scrollTop), 100);
    await pill.click();
    await eventually(async () => assert.ok(await timeline.evaluate((t) => t.scrollHeight - t.scrollTop - t.clientHeight < 50)));
    await pill.waitFor({ state: "hidden" });

    await bot.say("while reading the latest");
    await eventually(async () => assert.equal((await messageTexts(page)).at(-1), "while reading the latest"));
    assert.ok(await timeline.evaluate((t) => t.scrollHeight - t.scrollTop - t.clientHeight < 50), "at the bottom, the view follows");
    assert.equal(await pill.isVisible(), false);
    bot.close();
    await context.close();
  });

  it("while the tab is hidden the title counts unread messages and a mention notifies, if enabled", async () => {
    const { page, context } = await openPerson(browser, server.url, {
      name: "Mira", path: "/r/away", init: awayControls, permissions: ["notifications"],
    });
    const bot = await joinBot(server.url, "Nuno", { room: "away" });
    await eventually(async () => assert.equal(await page.title(), "#away · Baat-Chit"));
    const notify = page.getByRole("button", { name: "Notify mentions" });
    await notify.click();
    await eventually(async () => assert.equal(await notify.getAttribute("aria-pressed"), "true"));

    await page.evaluate(() => window.setHidden(true));
    await bot.say("are you around?");
    await bot.say("@Mira ping");
    await eventually(async () => assert.equal(await page.title(), "(2) #away · Baat-Chit"));
    assert.deepEqual(await page.evaluate(() => window.notifications), [
      { title: "Nuno mentioned you in #away", body: "@Mira ping" },
    ]);
    await page.evaluate(() => window.setHidden(false));
    await eventually(async () => assert.equal(await page.title(), "#away · Baat-Chit"));
    bot.close();
    await context.close();
  });
});
