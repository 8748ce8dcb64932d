// Rooms: the list of active rooms with counts, joining or creating one by
// name, one room at a time, and a shareable /r/<room> address.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  eventually, joinBot, messageTexts, onlineCount, openPerson, peopleNames, say, seeMessages, withServerAndBrowser,
} from "./support.mjs";

/** The rooms list as "name count" lines, and which one is current. */
async function roomList(page) {
  return page.getByRole("navigation", { name: "Rooms" }).getByRole("link").evaluateAll((links) =>
    links.map((a) => `${a.querySelector(".room-name").textContent} ${a.querySelector(".room-count").firstChild.textContent}${a.getAttribute("aria-current") ? " (current)" : ""}`));
}

describe("rooms", () => {
  let server;
  let browser;
  withServerAndBrowser((s, b) => {
    [server, browser] = [s, b];
  });

  it("the default room is general, and the list shows active rooms with their counts", async () => {
    const bots = await Promise.all(["Ola", "Pia"].map((n) => joinBot(server.url, n, { room: "busy" })));
    const { page, context } = await openPerson(browser, server.url, { name: "Quinn" });
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "#general");
    await eventually(async () => assert.deepEqual(await roomList(page), ["busy 2", "general 1 (current)"]));
    bots.forEach((b) => b.close());
    await context.close();
  });

  it("joining a room by name moves there, updates the address, and leaves the old room", async () => {
    const rhea = await openPerson(browser, server.url, { name: "Rhea", path: "/r/lobby" });
    const sami = await openPerson(browser, server.url, { name: "Sami", path: "/r/lobby" });
    await eventually(async () => assert.equal(await onlineCount(sami.page), "2 online"));
    await say(rhea.page, "in the lobby");

    const field = rhea.page.getByLabel("Join or create a room");
    await field.fill("Garden Party");
    await field.press("Enter");
    await eventually(async () => assert.equal(await rhea.page.getByRole("heading", { level: 1 }).textContent(), "#garden party"));
    assert.equal(new URL(rhea.page.url()).pathname, "/r/garden%20party");
    await eventually(async () => assert.equal(await onlineCount(rhea.page), "1 online"));
    assert.deepEqual(await messageTexts(rhea.page), []);
    assert.deepEqual(await peopleNames(rhea.page), ["Rhea"]);
    await eventually(async () => assert.equal(await onlineCount(sami.page), "1 online"));
    await eventually(async () => assert.ok((await roomList(sami.page)).includes("garden party 1")));

    await say(rhea.page, "in the garden");
    await sami.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: /garden party/ }).click();
    await seeMessages(sami.page, ["in the garden"]);
    assert.equal(new URL(sami.page.url()).pathname, "/r/garden%20party");
    await eventually(async () => assert.equal(await onlineCount(rhea.page), "2 online"));

    await rhea.page.goBack();
    await eventually(async () => assert.equal(await rhea.page.getByRole("heading", { level: 1 }).textContent(), "#lobby"));
    await seeMessages(rhea.page, ["in the lobby"]);
    await eventually(async () => assert.equal(await onlineCount(sami.page), "1 online"));
    await rhea.page.goForward();
    await seeMessages(rhea.page, ["in the garden"]);
    await eventually(async () => assert.equal(await onlineCount(sami.page), "2 online"));
    await rhea.context.close();
    await sami.context.close();
  });

  it("a room's address opens that room, and the copy-link button copies it", async () => {
    const { page, context } = await openPerson(browser, server.url, {
      name: "Tara", path: "/r/Book-Club", permissions: ["clipboard-read", "clipboard-write"],
    });
    await eventually(async () => assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "#book-club"));
    assert.equal(new URL(page.url()).pathname, "/r/book-club", "the address shows the canonical name");
    await page.getByRole("button", { name: "Copy link" }).click();
    await eventually(async () => assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${server.url}/r/book-club`));
    await context.close();
  });

  it("a blank room name is refused inline, and a long one is cut at 48 characters", async () => {
    const { page, context } = await openPerson(browser, server.url, { name: "Uma" });
    const field = page.getByLabel("Join or create a room");
    await field.fill("x".repeat(60));
    assert.equal((await field.inputValue()).length, 48);
    await field.fill("   ");
    await field.press("Enter");
    assert.match(await page.locator("#room-error").textContent(), /room name/);
    assert.equal(await field.getAttribute("aria-invalid"), "true");
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "#general");
    await context.close();
  });
});
