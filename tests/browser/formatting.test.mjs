// Formatting: a small Markdown subset and emoji shortcodes, rendered on
// display only (the stored text is what was typed), with raw HTML, scripts
// and javascript: links inert under the server's strict CSP.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  PHONE, assertAccessibleBothThemes, composer, cspViolations, eventually, joinBot, openPerson, say, withServerAndBrowser,
} from "./support.mjs";

const noSidewaysScroll = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

/** The last message row's formatted text, as markup, for checking its structure. */
const lastHtml = (page) => page.locator("#messages li.msg .msg-text").last().innerHTML();

describe("formatting", () => {
  let server;
  let browser;
  withServerAndBrowser((s, b) => {
    [server, browser] = [s, b];
  });

  it("each Markdown construct and emoji shortcode renders, and the stored text is what was typed", async () => {
    const { page, context, errors } = await openPerson(browser, server.url, { name: "Asha", path: "/r/md" });
    const nia = await joinBot(server.url, "Nia", { room: "md", protocol: 2 });
    const heard = [];
    nia.socket.on("message", (m) => heard.push(m.text));
    const cases = [
      ["**bold** and __also bold__", "<p><strong>bold</strong> and <strong>also bold</strong></p>"],
      ["*italic* and _also_", "<p><em>italic</em> and <em>also</em></p>"],
      ["~~gone~~", "<p><s>gone</s></p>"],
      ["use `npm test` now", "<p>use <code>npm test</code> now</p>"],
      ["```\nfn main() {\n    println!(\"hi\");\n}\n```", `<pre class="code-block" tabindex="0" dir="ltr"><code>fn main() {\n    println!("hi");\n}</code></pre>`],
      ["> quoted\n> twice", "<blockquote><p>quoted\ntwice</p></blockquote>"],
      ["- one\n- two", "<ul><li>one</li><li>two</li></ul>"],
      ["1. first\n2. second", "<ol><li>first</li><li>second</li></ol>"],
      ["3. three\n4. four", `<ol start="3"><li>three</li><li>four</li></ol>`],
      ["[docs](https://example.com/docs) and https://example.org", `<p><a href="https://example.com/docs" target="_blank" rel="noopener noreferrer nofollow">docs</a> and <a href="https://example.org/" target="_blank" rel="noopener noreferrer nofollow">https://example.org</a></p>`],
      ["[mail](mailto:asha@example.com)", `<p><a href="mailto:asha@example.com" target="_blank" rel="noopener noreferrer nofollow">mail</a></p>`],
      ["shipped :tada: :rocket:", "<p>shipped 🎉 🚀</p>"],
      ["first line\nsecond line", "<p>first line\nsecond line</p>"],
      ["hey @Asha, *look*", `<p>hey <mark class="mention">@Asha</mark>, <em>look</em></p>`],
    ];
    for (const [typed, html] of cases) {
      await composer(page).fill(typed);
      await composer(page).press("Enter");
      await eventually(async () => assert.equal(await lastHtml(page), html));
      await eventually(() => assert.equal(heard.at(-1), typed, "the server stores the text as typed"));
    }
    // Nia's message mentioning Asha is highlighted for Asha, formatting and all.
    await nia.say("thanks **@Asha**");
    await eventually(async () => assert.equal(await lastHtml(page), `<p>thanks <strong><mark class="mention">@Asha</mark></strong></p>`));
    await assertAccessibleBothThemes(page, "formatted messages");

    // Editing shows the raw text in the composer.
    await composer(page).press("ArrowUp");
    await composer(page).press("Escape");
    const mine = page.locator("#messages li.msg.mine").last();
    await mine.hover();
    await mine.getByRole("button", { name: /Actions for/ }).click();
    await page.getByRole("menuitem", { name: "Edit" }).click();
    assert.equal(await composer(page).inputValue(), "hey @Asha, *look*");
    await composer(page).press("Escape");

    // A reply's quote shows the original as plain text.
    const reply = await nia.say("ok", { replyTo: (await nia.socket.timeout(5000).emitWithAck("history", { room: "md" })).messages.find((m) => m.text.startsWith("**bold**")).id });
    assert.ok(reply.id);
    await eventually(async () => assert.equal(await page.locator("#messages .quote .quote-text").last().textContent(), "bold and also bold"));
    assert.deepEqual(errors, []);
    assert.deepEqual(await cspViolations(page), []);
    nia.close();
    await context.close();
  });

  it("HTML, scripts, images and javascript: links in Markdown stay inert text, with no CSP violation", async () => {
    const { page, context, errors } = await openPerson(browser, server.url, { name: "Chen", path: "/r/md-xss" });
    const dialogs = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const mallory = await joinBot(server.url, "Mallory", { room: "md-xss" });
    const attacks = [
      "**<script>window.pwned='script'</script>**",
      "*<img src=x onerror=\"window.pwned='img'\">*",
      "[click](javascript:window.pwned='link')",
      "[click](JaVaScRiPt:window.pwned='case')",
      "[click](data:text/html,<script>window.pwned='data'</script>)",
      "<javascript:window.pwned='autolink'>",
      "![img](https://example.com/x.png)",
      "> <iframe src=\"javascript:window.pwned='frame'\"></iframe>",
      "```\n<script>window.pwned='code'</script>\n```",
      "[x](https://example.com/\"onmouseover=\"window.pwned='attr')",
      "<b style=\"color:red\">raw html</b>",
    ];
    for (const text of attacks) await mallory.say(text);
    await eventually(async () => assert.equal(await page.locator("#messages li.msg").count(), attacks.length));
    const timeline = page.locator("#messages");
    assert.equal(await timeline.locator("script, img, iframe, svg, object, embed, b, [style], [onerror], [onmouseover]").count(), 0);
    const hrefs = await timeline.locator("a").evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    assert.ok(hrefs.every((href) => /^(https?:\/\/|mailto:)/.test(href)), `only http(s) and mailto links: ${hrefs}`);
    const texts = await timeline.locator(".msg-text").allTextContents();
    assert.ok(texts[0].includes("<script>"), "the script tag is shown as text");
    assert.ok(texts[2].includes("javascript:"), "the javascript: link is shown as text");
    await timeline.locator("a").first().hover().catch(() => {});
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    assert.deepEqual(await cspViolations(page), [], "no CSP violation");
    mallory.close();
    await context.close();
  });

  it("a long code block scrolls inside itself at 360 px, never the page", async () => {
    const { page, context } = await openPerson(browser, server.url, { name: "Dev", path: "/r/md-narrow", viewport: PHONE });
    const long = `\`\`\`\n${"const answer = compute(".repeat(12)}42${")".repeat(12)};\n  indented   spaces kept\n\`\`\``;
    await say(page, long);
    // The stored message's row (the pending copy is replaced by it).
    const block = page.locator("#messages li.msg[data-id] pre.code-block");
    await block.waitFor();
    const box = await block.evaluate((pre) => ({ scroll: pre.scrollWidth, client: pre.clientWidth, right: pre.getBoundingClientRect().right }));
    assert.ok(box.scroll > box.client, `the block has more than it shows: ${JSON.stringify(box)}`);
    assert.ok(box.right <= 360, `the block fits the screen: ${box.right}`);
    assert.ok(await noSidewaysScroll(page));
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 360);
    await block.evaluate((pre) => (pre.scrollLeft = 10_000));
    assert.ok((await block.evaluate((pre) => pre.scrollLeft)) > 0, "it scrolls sideways by itself");
    assert.ok(await noSidewaysScroll(page));
    assert.match(await block.textContent(), /\n {2}indented {3}spaces kept$/);
    await assertAccessibleBothThemes(page, "a long code block at 360 px");
    await context.close();
  });
});
