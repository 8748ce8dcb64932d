// Hostile text: markup, scripts, javascript: links and direction overrides
// in messages, names and room names reach the page as text and never run.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  cspViolations, eventually, joinBot, messageTexts, noticeTexts, openPerson, peopleNames, withServerAndBrowser,
} from "./support.mjs";

const ATTACKS = [
  `<img src=x onerror="window.pwned='img'">`,
  `<script>window.pwned='script'</script>`,
  `<svg onload="window.pwned='svg'"></svg>`,
  `javascript:window.pwned='link'`,
  `[click me](javascript:window.pwned='md') and <a href="javascript:window.pwned='a'">x</a>`,
  `https://example.com/"><img src=x onerror="window.pwned='attr'">`,
  `\u202Egnp.exe`,
  `&lt;b&gt;entities stay entities&lt;/b&gt;`,
];
const HOSTILE_NAME = "<img src=x onerror=alert(1)>";

describe("safety", () => {
  let server;
  let browser;
  withServerAndBrowser((s, b) => {
    [server, browser] = [s, b];
  });

  it("hostile messages and names are shown as text and never run", async () => {
    const { page, context, errors } = await openPerson(browser, server.url, { name: "Asha", path: "/r/xss" });
    const dialogs = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const mallory = await joinBot(server.url, HOSTILE_NAME, { room: "xss" });
    for (const text of ATTACKS) await mallory.say(text);
    mallory.typing(true);
    await eventually(async () => assert.deepEqual(await messageTexts(page), ATTACKS));
    assert.deepEqual(await peopleNames(page), ["Asha", HOSTILE_NAME]);
    assert.deepEqual(await noticeTexts(page), [`${HOSTILE_NAME} joined`]);
    await eventually(async () => assert.equal(await page.locator("#typing").textContent(), `${HOSTILE_NAME} is typing…`));

    const timeline = page.locator("#messages");
    assert.equal(await timeline.locator("img, script, svg, iframe, object").count(), 0);
    assert.equal(await page.locator("#people-list img, #typing img").count(), 0);
    const hrefs = await timeline.locator("a").evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    assert.ok(hrefs.every((href) => /^https?:\/\//.test(href)), `only http(s) links: ${hrefs}`);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    assert.deepEqual(await cspViolations(page), [], "the app itself works within the server's CSP");

    // The override stays inside its own message: it cannot flip the author or time.
    const override = timeline.locator(".msg-text", { hasText: "\u202E" });
    assert.equal(await override.evaluate((p) => getComputedStyle(p).unicodeBidi), "isolate");
    const author = timeline.locator(".author").first();
    assert.equal(await author.evaluate((b) => b.tagName), "BDI");
    mallory.close();
    await context.close();
  });

  it("a hostile room name in the address is shown as text", async () => {
    const room = `<img src=x onerror="window.pwned='room'">`;
    const { page, context } = await openPerson(browser, server.url, { name: "Bilal", path: `/r/${encodeURIComponent(room)}` });
    await eventually(async () => assert.equal(await page.locator("#room-name").textContent(), room));
    assert.equal(await page.locator("img").count(), 0);
    assert.equal(await page.title(), `#${room} · Baat-Chit`);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    await context.close();
  });
});
