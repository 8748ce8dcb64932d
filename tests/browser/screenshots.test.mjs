// The screenshots in docs/screenshots: a lively room on a desktop (1280×800)
// and a phone (360×740), in light and dark, written by this test, which
// also checks that all visible text meets WCAG AA contrast.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import {
  DESKTOP, PHONE, eventually, lowContrastText, joinBot, messageTexts, onlineCount, openPerson, say, withServerAndBrowser,
} from "./support.mjs";

const SHOTS = resolve(import.meta.dirname, "..", "..", "docs", "screenshots");

describe("screenshots", () => {
  let server;
  let browser;
  withServerAndBrowser((s, b) => {
    [server, browser] = [s, b];
  });

  it("a conversation looks calm on desktop and phone, in light and dark", async () => {
    mkdirSync(SHOTS, { recursive: true });
    const bilal = await joinBot(server.url, "Bilal");
    const chen = await joinBot(server.url, "Chen Wei");
    const design = await Promise.all(["Farid", "Greta"].map((n) => joinBot(server.url, n, { room: "design" })));
    const random = await joinBot(server.url, "Hoang", { room: "random" });
    await bilal.say("Morning all! Release notes for 2.4 are up: https://example.com/releases/2.4");
    await chen.say("Nice. The reconnect fix is a big one for us.");
    await chen.say("The office wifi dropped twice yesterday and nobody missed a message.");

    const { page, context } = await openPerson(browser, server.url, { name: "Asha", viewport: DESKTOP });
    await say(page, "That was the plan. Thanks for testing it so thoroughly!");
    const dilnoza = await joinBot(server.url, "Dilnoza");
    await dilnoza.say("Hi everyone! @Asha, is the review still at 3?");
    await eventually(async () => assert.equal((await messageTexts(page)).length, 5));
    await say(page, "Yes, 3 pm in the small room.\nI'll bring the slides.");
    const emeka = await joinBot(server.url, "Emeka");
    await eventually(async () => assert.equal(await onlineCount(page), "5 online"));
    await page.evaluate(() => document.activeElement?.blur());

    for (const [viewport, device] of [[DESKTOP, "desktop"], [PHONE, "phone"]]) {
      await page.setViewportSize(viewport);
      for (const colorScheme of ["light", "dark"]) {
        emeka.typing(true);
        await eventually(async () => assert.equal(await page.locator("#typing").textContent(), "Emeka is typing…"));
        await page.emulateMedia({ colorScheme });
        await page.mouse.move(viewport.width - 1, viewport.height - 1);
        await page.screenshot({ path: join(SHOTS, `${device}-${colorScheme}.png`) });
        assert.deepEqual(await page.evaluate(lowContrastText, 4.5), [], `AA contrast on ${device}, ${colorScheme}`);
      }
    }
    for (const bot of [bilal, chen, ...design, random, dilnoza, emeka]) bot.close();
    await context.close();
  });
});
