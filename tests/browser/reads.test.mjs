// Read markers kept by the server: unread counts in the sidebar and the
// title, cleared live in the reader's other tabs when one tab reads, and
// the "New" divider at the first unread message after a reload.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { io } from "socket.io-client";
import {
  PHONE, assertAccessibleBothThemes, eventually, joinBot, messageTexts, openPerson, withServerAndBrowser,
} from "./support.mjs";

/** Lets a test hide and show each tab of a context (every tab looks visible to a headless browser). */
function visibilityControls() {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", { get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(Document.prototype, "hidden", { get: () => hidden });
  window.setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
}

const numbered = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);
const heading = (page) => page.getByRole("heading", { level: 1 }).textContent();
/** The sidebar's links (rooms and conversations) as their text: "news2 unread1 online". */
const sidebar = (page) => page.getByRole("navigation", { name: "Rooms" }).getByRole("link").allTextContents();
const setHidden = (page, hidden) => page.evaluate((h) => window.setHidden(h), hidden);

/** Moves `page` to `room` through the sidebar's form. */
async function goTo(page, room) {
  await page.getByLabel("Join or create a room").fill(room);
  await page.getByLabel("Join or create a room").press("Enter");
  await eventually(async () => assert.equal(await heading(page), `#${room}`));
}

/** Runs in the page: the text of the lowest message in view (at least 40 px of it, or all of a shorter one). */
function lowestInView() {
  const view = document.getElementById("timeline").getBoundingClientRect();
  const rows = [...document.querySelectorAll("#messages li.msg")];
  const seen = rows.filter((r) => {
    const box = r.getBoundingClientRect();
    return box.top + Math.min(box.height, 40) <= view.bottom && box.bottom > view.top;
  });
  return seen.at(-1)?.querySelector(".msg-text")?.textContent ?? null;
}

/** The reader's markers as the server keeps them, asked for with the page's own identity token. */
async function serverMarkers(page, url) {
  const token = await page.evaluate(() => localStorage.getItem("baat-chit.token"));
  const socket = io(url, { transports: ["websocket"], reconnection: false, auth: { token, protocol: 2 } });
  try {
    await new Promise((resolve, reject) => {
      socket.once("session", resolve);
      socket.once("connect_error", reject);
    });
    const ack = await socket.timeout(5000).emitWithAck("reads", {});
    return new Map(ack.reads.map((r) => [r.room, r]));
  } finally {
    socket.disconnect();
  }
}

describe("read markers", () => {
  let server;
  let browser;
  withServerAndBrowser({ args: ["--rate-limit", "0", "--user-rate-limit", "0"] }, (s, b) => {
    [server, browser] = [s, b];
  });

  it("reading a conversation in one tab clears its unread count in the other tab, and the title counts every unread message", async () => {
    const asha = await openPerson(browser, server.url, { name: "Asha", path: "/r/tabs", init: visibilityControls });
    const tabB = await asha.context.newPage();
    await tabB.goto(`${server.url}/r/tabs`);
    const bilal = await openPerson(browser, server.url, { name: "Bilal", path: "/r/tabs" });
    await bilal.page.getByRole("button", { name: "Message Asha privately" }).click();
    await eventually(async () => assert.equal(await heading(bilal.page), "@Asha"));
    for (const text of ["are you free?", "at 3, maybe?"]) {
      await bilal.page.getByRole("textbox", { name: "Message" }).fill(text);
      await bilal.page.getByRole("textbox", { name: "Message" }).press("Enter");
    }
    // Bilal left #tabs for the conversation; Asha is in it from two tabs, and counts once.
    for (const page of [asha.page, tabB]) {
      await eventually(async () => assert.deepEqual(await sidebar(page), ["#tabs1 online", "BBilal2 unread"]));
      await eventually(async () => assert.equal(await page.title(), "(2) #tabs · Baat-Chit"));
    }

    // Tab A opens the conversation: both messages are read there, and tab B hears of it.
    await asha.page.getByRole("link", { name: /Bilal/ }).click();
    await eventually(async () => assert.deepEqual(await messageTexts(asha.page), ["are you free?", "at 3, maybe?"]));
    await eventually(async () => assert.deepEqual(await sidebar(tabB), ["#tabs1 online", "BBilal"]), { timeout: 2000 });
    await eventually(async () => assert.equal(await tabB.title(), "#tabs · Baat-Chit"));
    assert.equal(await asha.page.title(), "@Bilal · Baat-Chit");

    // A public room, tab A in it but hidden, tab B elsewhere: what arrives stays unread.
    await goTo(asha.page, "tabs");
    await goTo(tabB, "elsewhere");
    await setHidden(asha.page, true);
    const nuno = await joinBot(server.url, "Nuno", { room: "tabs" });
    for (const text of ["one", "two", "three"]) await nuno.say(text);
    await eventually(async () => assert.equal(await asha.page.title(), "(3) #tabs · Baat-Chit"));
    // Tab B is not in #tabs: it sees the count when it is looked at again.
    await setHidden(tabB, true);
    await setHidden(tabB, false);
    await eventually(async () => assert.ok((await sidebar(tabB)).includes("#tabs3 unread2 online")));
    assert.equal(await tabB.title(), "(3) #elsewhere · Baat-Chit");
    await assertAccessibleBothThemes(tabB, "unread counts in the sidebar");

    // Tab A is looked at again: it reads, and tab B's count clears live.
    await setHidden(asha.page, false);
    await eventually(async () => assert.equal(await asha.page.title(), "#tabs · Baat-Chit"));
    await eventually(async () => assert.ok((await sidebar(tabB)).includes("#tabs2 online")), { timeout: 2000 });
    await eventually(async () => assert.equal(await tabB.title(), "#elsewhere · Baat-Chit"));
    assert.deepEqual(asha.errors, []);
    nuno.close();
    await asha.context.close();
    await bilal.context.close();
  });

  it("after a reload the unread count and the New divider come from the server, at the first unread message", async () => {
    const ola = await joinBot(server.url, "Ola", { room: "news" });
    for (const text of numbered("old", 5)) await ola.say(text);
    const kiran = await openPerson(browser, server.url, { name: "Kiran", path: "/r/news" });
    await eventually(async () => assert.deepEqual(await messageTexts(kiran.page), numbered("old", 5)));
    assert.equal(await kiran.page.getByRole("heading", { name: "New messages" }).count(), 0, "a first visit has no divider");
    const oldLast = (await ola.say("old 6")).seq;
    await eventually(async () => assert.equal((await serverMarkers(kiran.page, server.url)).get("news")?.readSeq, oldLast));

    // Away in another room, 60 messages arrive in #news: more than the 50 a join brings.
    await goTo(kiran.page, "news-away");
    const later = [];
    for (const text of numbered("later", 60)) later.push(await ola.say(text));
    await kiran.page.reload();
    await eventually(async () => assert.ok((await sidebar(kiran.page)).includes("#news60 unread1 online")));
    assert.equal(await kiran.page.title(), "(60) #news-away · Baat-Chit");

    // Opening #news starts at the divider, above "later 1", with the old messages above it.
    await kiran.page.locator(`#room-list a[href="/r/news"]`).click();
    const divider = kiran.page.getByRole("heading", { name: "New messages" });
    await divider.waitFor();
    const after = (page) => page.locator("#messages li.new-divider + li.msg .msg-text").textContent();
    assert.equal(await after(kiran.page), "later 1");
    assert.ok((await messageTexts(kiran.page)).includes("old 6"), "the messages before the first unread one are loaded too");
    await eventually(async () => assert.ok(await divider.evaluate((d) => {
      const t = document.getElementById("timeline").getBoundingClientRect();
      const r = d.getBoundingClientRect();
      return r.top >= t.top && r.bottom <= t.bottom;
    }), "the view opens at the divider"));
    await assertAccessibleBothThemes(kiran.page, "the New divider");

    // Only what is in view is read; a reload puts the divider at the first message not yet seen.
    const lowest = await kiran.page.evaluate(lowestInView);
    const seen = later.find((m) => m.text === lowest);
    assert.ok(seen && seen !== later[59], `some, not all, are in view (down to ${lowest})`);
    await eventually(async () => assert.equal((await serverMarkers(kiran.page, server.url)).get("news")?.readSeq, seen.seq));
    const firstUnread = later[later.indexOf(seen) + 1];
    await kiran.page.reload();
    await divider.waitFor();
    assert.equal(await after(kiran.page), firstUnread.text);
    assert.deepEqual(kiran.errors, []);
    ola.close();
    await kiran.context.close();
  });

  it("on a phone, the rooms drawer shows the unread counts", async () => {
    const pia = await joinBot(server.url, "Pia", { room: "phone-news" });
    await pia.say("hello");
    const dana = await openPerson(browser, server.url, { name: "Dana", path: "/r/phone-news", viewport: PHONE });
    await eventually(async () => assert.deepEqual(await messageTexts(dana.page), ["hello"]));
    await eventually(async () => assert.ok((await serverMarkers(dana.page, server.url)).get("phone-news")));
    await dana.page.getByRole("button", { name: "Rooms", exact: true }).click();
    await goTo(dana.page, "phone-away");
    await pia.say("are you there?");
    await dana.page.reload();
    await eventually(async () => assert.equal(await dana.page.title(), "(1) #phone-away · Baat-Chit"));
    await dana.page.getByRole("button", { name: "Rooms", exact: true }).click();
    await eventually(async () => assert.ok((await sidebar(dana.page)).includes("#phone-news1 unread1 online")));
    await assertAccessibleBothThemes(dana.page, "unread counts in the rooms drawer on a phone");
    pia.close();
    await dana.context.close();
  });
});
