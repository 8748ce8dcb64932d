// Search: Ctrl+K opens a dialog that finds a message from 500 messages
// back, with the matching words marked, and opens its room at that
// message among the ones around it, while new messages keep arriving.
// Nobody finds another person's conversation; a message's markup stays
// text in the results.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  PHONE, assertAccessibleBothThemes, eventually, joinBot, messageRow, messageTexts, openPerson, withServerAndBrowser,
} from "./support.mjs";

const numbered = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);
const dialog = (page) => page.getByRole("dialog", { name: "Search messages" });
const results = (page) => dialog(page).getByRole("list", { name: "Search results" }).getByRole("button");

/** Opens search with the keyboard and types `q`; resolves once the status line answers. */
async function search(page, q) {
  await page.keyboard.press("Control+K");
  await dialog(page).waitFor();
  await page.keyboard.type(q);
  await eventually(async () => assert.match(await dialog(page).getByRole("status").textContent(), new RegExp(`“${q}”`)));
}

/** Whether `locator` is inside the timeline's visible area. */
const inView = (locator) => locator.evaluate((node) => {
  const view = document.getElementById("timeline").getBoundingClientRect();
  const box = node.getBoundingClientRect();
  return box.top >= view.top && box.bottom <= view.bottom;
});

describe("search", () => {
  let server;
  let browser;
  withServerAndBrowser({ args: ["--rate-limit", "0", "--user-rate-limit", "0"] }, (s, b) => {
    [server, browser] = [s, b];
  });

  it("finds a message 500 messages back and opens its room there, in context, while new messages keep arriving", async () => {
    const ines = await joinBot(server.url, "Ines", { room: "archive" });
    for (const text of numbered("before", 3)) await ines.say(text);
    await ines.say("The quokka census is done: 42 counted");
    for (const text of numbered("filler", 500)) await ines.say(text);
    const asha = await openPerson(browser, server.url, { name: "Asha", path: "/r/lobby" });

    await search(asha.page, "quokka");
    assert.equal(await dialog(asha.page).getByRole("status").textContent(), "1 message matches “quokka”.");
    const hit = results(asha.page).first();
    assert.deepEqual(await hit.locator("mark").allTextContents(), ["quokka"]);
    assert.match(await hit.textContent(), /Ines#archive.*The quokka census is done: 42 counted$/);
    await assertAccessibleBothThemes(asha.page, "search results");

    // Down from the field to the result, Enter to open it: #archive, at that message.
    await asha.page.keyboard.press("ArrowDown");
    assert.equal(await hit.evaluate((b) => b === document.activeElement), true);
    await asha.page.keyboard.press("Enter");
    await dialog(asha.page).waitFor({ state: "hidden" });
    await eventually(async () => assert.equal(await asha.page.getByRole("heading", { level: 1 }).textContent(), "#archive"));
    assert.equal(new URL(asha.page.url()).pathname, "/r/archive");
    const found = messageRow(asha.page, "The quokka census is done: 42 counted");
    await eventually(async () => assert.match(await found.getAttribute("class"), /highlight/));
    assert.ok(await inView(found), "the message is in view");
    assert.equal(await found.evaluate((row) => row === document.activeElement), true, "focus is on the message");
    const texts = await messageTexts(asha.page);
    for (const near of ["before 1", "before 3", "filler 1", "filler 20"]) assert.ok(texts.includes(near), `${near} is shown around it`);
    assert.ok(texts.includes("filler 500"), "the newest messages are there too, below a gap");
    assert.ok(!texts.includes("filler 200"), "the gap is not loaded until it is reached");
    await assertAccessibleBothThemes(asha.page, "a search result opened in its room");

    // New messages still arrive, below; the view stays at the result.
    await ines.say("live after the search");
    await eventually(async () => assert.equal((await messageTexts(asha.page)).at(-1), "live after the search"));
    assert.ok(await inView(found), "the view did not jump away");
    await asha.page.getByRole("button", { name: "New messages" }).click();
    await eventually(async () => assert.ok(await inView(messageRow(asha.page, "live after the search"))));

    // Scrolling up to the gap fills it, page by page, in order.
    const gap = asha.page.locator("#messages li.gap");
    assert.equal(await gap.getByRole("button").textContent(), "Load the messages in between");
    await eventually(async () => {
      if (await gap.count()) await gap.scrollIntoViewIfNeeded();
      assert.equal(await gap.count(), 0);
    }, { timeout: 10_000 });
    const all = await messageTexts(asha.page);
    const fillers = all.filter((t) => t.startsWith("filler"));
    assert.deepEqual(fillers, numbered("filler", 500), "every message once, in order");
    assert.deepEqual(asha.errors, []);
    ines.close();
    await asha.context.close();
  });

  it("never shows another person's conversation, and shows a message's markup as text", async () => {
    const bilal = await joinBot(server.url, "Bilal", { room: "pines", protocol: 2 });
    const asha = await openPerson(browser, server.url, { name: "Asha", path: "/r/pines" });
    const carol = await openPerson(browser, server.url, { name: "Carol", path: "/r/pines", viewport: PHONE, colorScheme: "dark" });
    await bilal.say("<b>pineapple</b> pizza on friday <img src=x onerror=alert(1)>");
    const ask = (event, payload) => bilal.socket.timeout(5000).emitWithAck(event, payload);
    const { users } = await ask("join", { room: "pines", name: "Bilal" });
    const ashaId = users.find((u) => u.name === "Asha").id;
    const { conversation } = await ask("dm", { userId: ashaId });
    await ask("join", { room: conversation.room, name: "Bilal" });
    await ask("message", { room: conversation.room, text: "the pineapple plan is secret" });

    // Carol finds the public message only, on a phone.
    await search(carol.page, "pineapple");
    assert.equal(await dialog(carol.page).getByRole("status").textContent(), "1 message matches “pineapple”.");
    assert.match(await results(carol.page).first().textContent(), /#pines/);
    assert.doesNotMatch(await dialog(carol.page).textContent(), /secret/);
    assert.equal(await dialog(carol.page).locator("img, b").count(), 0, "markup in a message is text");
    assert.match(await results(carol.page).first().textContent(), /<b>pineapple<\/b> pizza on friday <img src=x onerror=alert\(1\)>/);
    await assertAccessibleBothThemes(carol.page, "search results on a phone", "dark");
    await carol.page.keyboard.press("Escape");
    await dialog(carol.page).waitFor({ state: "hidden" });

    // Asha finds both, the conversation's named after Bilal.
    await search(asha.page, "pineapple");
    assert.equal(await dialog(asha.page).getByRole("status").textContent(), "2 messages match “pineapple”.");
    const rooms = await results(asha.page).locator(".hit-room").allTextContents();
    assert.deepEqual(rooms.sort(), ["#pines", "@Bilal"]);
    await results(asha.page).filter({ hasText: "secret" }).click();
    await eventually(async () => assert.equal(await asha.page.getByRole("heading", { level: 1 }).textContent(), "@Bilal"));
    await eventually(async () => assert.deepEqual(await messageTexts(asha.page), ["the pineapple plan is secret"]));

    // A query with nothing to look for is explained.
    await asha.page.keyboard.press("Control+K");
    await asha.page.keyboard.type("-- !!");
    await eventually(async () => assert.equal(
      await dialog(asha.page).getByRole("status").textContent(),
      "Type a word to look for: punctuation and words with a minus alone find nothing.",
    ));
    assert.equal(await results(asha.page).count(), 0);
    assert.deepEqual(asha.errors, []);
    assert.deepEqual(carol.errors, []);
    bilal.close();
    await asha.context.close();
    await carol.context.close();
  });
});
