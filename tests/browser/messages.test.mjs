// Talking: messages both ways, pending → sent, failed → retry with the same
// clientId, grouping, mentions, links, the composer's keys and counter.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  composer, eventually, joinBot, messageTexts, openPerson, say, seeMessages, withServerAndBrowser,
} from "./support.mjs";

describe("messages", () => {
  let server;
  let browser;
  withServerAndBrowser((s, b) => {
    [server, browser] = [s, b];
  });

  it("messages go both ways with author and time, and one author's run is grouped", async () => {
    const path = "/r/both-ways";
    const asha = await openPerson(browser, server.url, { name: "Asha", path });
    const bilal = await openPerson(browser, server.url, { name: "Bilal", path });
    await say(asha.page, "Hi Bilal");
    await say(asha.page, "Are you there?");
    await seeMessages(bilal.page, ["Hi Bilal", "Are you there?"]);
    await say(bilal.page, "Yes, here");
    await seeMessages(asha.page, ["Hi Bilal", "Are you there?", "Yes, here"]);
    for (const page of [asha.page, bilal.page]) {
      assert.deepEqual(await page.locator("#messages .author").allTextContents(), ["Asha", "Bilal"]);
      assert.equal(await page.locator("#messages .msg.grouped").count(), 1);
      assert.match(await page.locator("#messages .msg-time").first().textContent(), /\d{1,2}[:.]\d{2}/);
      assert.deepEqual(await page.locator("#messages .day").allTextContents(), ["Today"]);
    }
    assert.match(await bilal.page.locator("#announcer").textContent(), /Asha: Are you there\?/, "new messages are announced");
    assert.deepEqual(asha.errors, []);
    await asha.context.close();
    await bilal.context.close();
  });

  it("a sent message shows as pending until the server acknowledges it", async () => {
    const { page, context } = await openPerson(browser, server.url, { name: "Chen", path: "/r/pending" });
    await page.evaluate(() => {
      window.seenRows = [];
      new MutationObserver((records) => {
        for (const record of records) {
          for (const node of record.addedNodes) {
            window.seenRows.push({ status: node.querySelector?.(".msg-status")?.textContent ?? null, sent: node.hasAttribute?.("data-id") });
          }
        }
      }).observe(document.getElementById("messages"), { childList: true });
    });
    await say(page, "is this on?");
    await page.locator("#messages .msg[data-id]").waitFor();
    const seen = await page.evaluate(() => window.seenRows);
    assert.deepEqual(seen.filter((r) => r.status !== null || r.sent), [
      { status: "Sending…", sent: false },
      { status: null, sent: true },
    ]);
    assert.equal(await page.locator("#messages .msg-status").count(), 0);
    await context.close();
  });

  it("a refused message shows as failed, and Retry sends it with the same clientId", async () => {
    let refuse = true;
    let upgraded = false;
    const clientIds = [];
    const { page, context } = await openPerson(browser, server.url, {
      name: "Dana",
      path: "/r/retry",
      // Stand between the page and the server, answering the first send with an error.
      beforeGoto: (p) => p.routeWebSocket(/\/socket\.io\//, (ws) => {
        const real = ws.connectToServer();
        real.onMessage((frame) => ws.send(frame));
        ws.onMessage((frame) => {
          if (frame === "5") upgraded = true;
          const send = /^42(\d+)\["message",(.*)\]$/s.exec(String(frame));
          if (send) clientIds.push(JSON.parse(send[2]).clientId);
          if (send && refuse) return ws.send(`43${send[1]}[{"ok":false,"error":{"code":"unavailable","message":"down"}}]`);
          real.send(frame);
        });
      }),
    });
    const watcher = await openPerson(browser, server.url, { name: "Ekow", path: "/r/retry" });
    await eventually(() => assert.ok(upgraded, "the page is on websocket"));
    await say(page, "try me");
    const failed = page.locator("#messages .msg.failed");
    await failed.waitFor();
    assert.match(await failed.textContent(), /Not sent: the server cannot store messages right now/);
    refuse = false;
    await failed.getByRole("button", { name: "Retry" }).click();
    await page.locator("#messages .msg[data-id]").waitFor();
    assert.equal(await page.locator("#messages .msg.failed").count(), 0);
    assert.equal(clientIds.length, 2, "one send and one retry");
    const [sent, retried] = clientIds;
    assert.equal(typeof sent, "string", `the send carries no clientId: ${sent}`);
    assert.ok(sent.length >= 1 && sent.length <= 64, `clientId "${sent}" is not 1 to 64 characters`);
    assert.equal(retried, sent, "the retry has another clientId");
    await seeMessages(watcher.page, ["try me"]);
    await context.close();
    await watcher.context.close();
  });

  it("a message delivered twice (say, live and again by a re-join) is shown once", async () => {
    let upgraded = false;
    const { page, context } = await openPerson(browser, server.url, {
      name: "Ezra",
      path: "/r/twice",
      beforeGoto: (p) => p.routeWebSocket(/\/socket\.io\//, (ws) => {
        const real = ws.connectToServer();
        ws.onMessage((frame) => {
          if (frame === "5") upgraded = true;
          real.send(frame);
        });
        real.onMessage((frame) => {
          ws.send(frame);
          if (String(frame).startsWith('42["message"')) ws.send(frame);
        });
      }),
    });
    const bot = await joinBot(server.url, "Zoya", { room: "twice" });
    await eventually(() => assert.ok(upgraded, "the page is on websocket"));
    await bot.say("only once, please");
    await bot.say("and once more");
    await seeMessages(page, ["only once, please", "and once more"]);
    bot.close();
    await context.close();
  });

  it("Enter sends, Shift+Enter starts a new line, and a counter warns near 2,000 characters", async () => {
    const { page, context } = await openPerson(browser, server.url, { name: "Femi", path: "/r/composer" });
    const box = composer(page);
    await box.pressSequentially("line one");
    await box.press("Shift+Enter");
    await box.pressSequentially("line two");
    assert.deepEqual(await messageTexts(page), []);
    await box.press("Enter");
    await seeMessages(page, ["line one\nline two"]);
    assert.equal(await box.inputValue(), "");

    const counter = page.locator("#char-count");
    assert.equal(await counter.isVisible(), false);
    await box.fill("x".repeat(1900));
    assert.equal(await counter.textContent(), "100 left");
    await box.fill("x".repeat(2001));
    assert.equal(await counter.textContent(), "1 too many");
    assert.equal(await page.getByRole("button", { name: "Send" }).isDisabled(), true);
    await box.press("Enter");
    assert.equal(await box.inputValue(), "x".repeat(2001), "an over-long message is not sent");
    await box.fill("x".repeat(2000));
    await box.press("Enter");
    await eventually(async () => assert.equal((await messageTexts(page)).length, 2));
    await context.close();
  });

  it("a mention of my name is highlighted, and links open safely in a new tab", async () => {
    const path = "/r/mentions";
    const gita = await openPerson(browser, server.url, { name: "Gita", path });
    const hamid = await joinBot(server.url, "Hamid", { room: "mentions" });
    await hamid.say("hey @gita, read https://example.com/a?b=1 (and http://example.org).");
    await hamid.say("Gitanjali is not you");
    await eventually(async () => assert.equal((await messageTexts(gita.page)).length, 2));
    const rows = gita.page.locator("#messages .msg");
    assert.deepEqual(await rows.nth(0).locator("mark.mention").allTextContents(), ["@gita"]);
    assert.match(await rows.nth(0).getAttribute("class"), /\bmentioned\b/);
    assert.equal(await rows.nth(1).locator("mark").count(), 0);
    const links = rows.nth(0).getByRole("link");
    assert.deepEqual(await links.allTextContents(), ["https://example.com/a?b=1", "http://example.org"]);
    for (const link of await links.all()) {
      assert.equal(await link.getAttribute("target"), "_blank");
      assert.equal(await link.getAttribute("rel"), "noopener noreferrer nofollow");
    }
    assert.equal(await links.first().getAttribute("href"), "https://example.com/a?b=1");
    hamid.close();
    await gita.context.close();
  });
});
