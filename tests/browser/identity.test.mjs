// Who you are: the name dialog, its inline errors, and coming back as the
// same person after a reload or in a second tab without anyone noticing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  PHONE, assertAccessibleBothThemes, chooseName, composer, eventually, launchBrowser, nameDialog, noticeTexts, onlineCount,
  openPerson, peopleNames, say, seeMessages, sleep, startServer,
} from "./support.mjs";

/** Records the payload of every `join` the page sends, over websocket or polling. */
function recordJoins(page) {
  const joins = [];
  const record = (payload) => {
    for (const packet of String(payload).split("\x1e")) {
      const found = /^42\d*\["join",(.*)\]$/s.exec(packet);
      if (found) joins.push(JSON.parse(found[1]));
    }
  };
  page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => record(payload)));
  page.on("request", (request) => {
    if (request.method() === "POST" && request.url().includes("/socket.io/")) record(request.postData() ?? "");
  });
  return joins;
}

describe("identity", () => {
  let server;
  let browser;
  before(async () => {
    // A short grace period keeps "no flap after a reload" quick to check.
    server = await startServer({ args: ["--presence-grace", "2"] });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  it("a first visit asks for a name in a modal dialog and then shows the room", async () => {
    const { page, context, errors } = await openPerson(browser, server.url);
    const dialog = nameDialog(page);
    await dialog.waitFor();
    assert.equal(await dialog.evaluate((d) => d.matches(":modal")), true);
    await assertAccessibleBothThemes(page, "the name dialog");
    await page.setViewportSize(PHONE);
    await assertAccessibleBothThemes(page, "the name dialog at 360 px");
    await page.keyboard.press("Escape");
    assert.equal(await dialog.isVisible(), true, "Escape must not dismiss the dialog without a name");
    await chooseName(page, "Asha");
    await eventually(async () => assert.equal(await onlineCount(page), "1 online"));
    assert.deepEqual(await peopleNames(page), ["Asha"]);
    await assertAccessibleBothThemes(page, "an empty room at 360 px");
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("a taken name is refused inline, whatever its case, and another is accepted", async () => {
    const asha = await openPerson(browser, server.url, { name: "Chandni" });
    const other = await openPerson(browser, server.url);
    const dialog = nameDialog(other.page);
    await dialog.getByLabel("Your name").fill("chandni");
    await dialog.getByRole("button", { name: "Join the chat" }).click();
    await eventually(async () => assert.match(await dialog.locator("#name-error").textContent(), /already goes by that name/));
    await assertAccessibleBothThemes(other.page, "the name dialog with an error");
    assert.equal(await dialog.isVisible(), true);
    assert.equal(await dialog.getByLabel("Your name").getAttribute("aria-invalid"), "true");
    await chooseName(other.page, "Dev");
    await eventually(async () => assert.deepEqual(await peopleNames(other.page), ["Dev", "Chandni"]));
    await asha.context.close();
    await other.context.close();
  });

  it("an empty or blank name is refused inline, without sending a join", async () => {
    let joins;
    const { page, context } = await openPerson(browser, server.url, {
      beforeGoto: (p) => {
        joins = recordJoins(p);
      },
    });
    const dialog = nameDialog(page);
    for (const blank of ["", "   "]) {
      await dialog.getByLabel("Your name").fill(blank);
      await dialog.getByRole("button", { name: "Join the chat" }).click();
      await eventually(async () => assert.match(await dialog.locator("#name-error").textContent(), /type a name/i));
      assert.equal(await dialog.isVisible(), true);
    }
    await chooseName(page, "Hana");
    // Hana's join is seen, so a join sent for a blank name before it would have been too.
    await eventually(() => assert.deepEqual(joins.map((join) => join.name), ["Hana"]));
    await context.close();
  });

  it("a reload comes back as the same person and nobody sees them leave or join", async () => {
    const farah = await openPerson(browser, server.url, { name: "Farah", path: "/r/reload" });
    const gul = await openPerson(browser, server.url, { name: "Gul", path: "/r/reload" });
    await eventually(async () => assert.equal(await onlineCount(farah.page), "2 online"));
    await say(farah.page, "before the reload");
    await seeMessages(gul.page, ["before the reload"]);
    const noticesBefore = await noticeTexts(gul.page);

    await farah.page.reload();
    await eventually(async () => assert.equal(await onlineCount(farah.page), "2 online"));
    assert.equal(await nameDialog(farah.page).isVisible(), false, "no name dialog after a reload");
    await seeMessages(farah.page, ["before the reload"]);
    await say(farah.page, "after the reload");
    await seeMessages(gul.page, ["before the reload", "after the reload"]);
    // Longer than the server's grace period: a flap would have shown by now.
    await sleep(2500);
    assert.deepEqual(await noticeTexts(gul.page), noticesBefore);
    assert.deepEqual(await peopleNames(gul.page), ["Gul", "Farah"]);
    assert.equal(await onlineCount(gul.page), "2 online");
    const authors = await gul.page.locator("#messages .author").allTextContents();
    assert.deepEqual(authors, ["Farah"], "both messages are grouped under one author: the same user id");
    await farah.context.close();
    await gul.context.close();
  });

  it("a second tab goes straight in as the same person and counts once", async () => {
    const hina = await openPerson(browser, server.url, { name: "Hina", path: "/r/tabs" });
    const ian = await openPerson(browser, server.url, { name: "Ian", path: "/r/tabs" });
    const secondTab = await hina.context.newPage();
    await secondTab.goto(new URL("/r/tabs", server.url).href);
    await eventually(async () => assert.deepEqual(await peopleNames(secondTab), ["Hina", "Ian"]));
    assert.equal(await nameDialog(secondTab).isVisible(), false);
    await composer(secondTab).waitFor();
    await say(secondTab, "from my second tab");
    await seeMessages(hina.page, ["from my second tab"]);
    await seeMessages(ian.page, ["from my second tab"]);
    assert.equal(await onlineCount(ian.page), "2 online");
    assert.deepEqual(await noticeTexts(ian.page), []);
    assert.equal(await hina.page.locator("#messages .msg.mine").count(), 1, "the first tab sees it as its own");
    await hina.context.close();
    await ian.context.close();
  });
});
