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

  it("hostile edits, reactions and quotes are shown as text and never run", async () => {
    const { page, context, errors } = await openPerson(browser, server.url, { name: "Chen", path: "/r/xss-v2" });
    const dialogs = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const mallory = await joinBot(server.url, HOSTILE_NAME, { room: "xss-v2", protocol: 2 });
    const sent = [];
    for (const text of ATTACKS) sent.push(await mallory.say(`draft ${sent.length}`));
    // Each draft is edited into an attack; each attack is quoted by a reply and reacted to.
    for (const [i, text] of ATTACKS.entries()) await mallory.edit(sent[i].id, text);
    for (const [i, text] of ATTACKS.entries()) await mallory.say(`re: ${text}`, { replyTo: sent[i].id });
    for (const m of sent) await mallory.react(m.id, "🎉");
    const replies = ATTACKS.map((text) => `re: ${text}`);
    await eventually(async () => assert.deepEqual(await messageTexts(page), [...ATTACKS, ...replies]));
    const quotes = await page.locator("#messages .quote .quote-text").allTextContents();
    // A quote is the original's first 80 characters.
    const cut = (text) => (Array.from(text).length > 80 ? `${Array.from(text).slice(0, 79).join("")}…` : text);
    assert.deepEqual(quotes, ATTACKS.map(cut));
    assert.equal(await page.locator("#messages .edited").count(), ATTACKS.length);
    const row = page.locator("#messages li.msg").first();
    await row.getByRole("button", { name: "🎉 1" }).focus();
    assert.equal(await row.getByRole("tooltip").textContent(), `Reacted by ${HOSTILE_NAME}`);
    await row.getByRole("button", { name: `Actions for ${HOSTILE_NAME}’s message` }).click();
    await page.getByRole("menuitem", { name: "Reply" }).click();
    assert.match(await page.locator("#composer-context").textContent(), new RegExp(`Replying to ${HOSTILE_NAME.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));

    assert.equal(await page.locator("#messages img, #messages script, #messages svg, #messages iframe, #composer-context img").count(), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    assert.deepEqual(await cspViolations(page), [], "no CSP violation");
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
