// Layout and access: a 360 px phone without sideways scrolling, drawers
// for rooms and people, and keyboard-only use.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  PHONE, assertAccessibleBothThemes, eventually, joinBot, messageTexts, onlineCount, openPerson, withServerAndBrowser,
} from "./support.mjs";

const noSidewaysScroll = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

describe("layout", () => {
  let server;
  let browser;
  withServerAndBrowser((s, b) => {
    [server, browser] = [s, b];
  });

  it("at 360 px wide nothing scrolls sideways, and people and rooms open from buttons", async () => {
    const { page, context } = await openPerson(browser, server.url, { name: "Asha", path: "/r/narrow", viewport: PHONE });
    const long = await joinBot(server.url, "A-very-long-name-without-spaces!", { room: "narrow" });
    await long.say("x".repeat(400));
    await long.say(`see https://example.com/${"very-long-path-segment/".repeat(12)}`);
    await eventually(async () => assert.equal((await messageTexts(page)).length, 2));
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 360);
    assert.ok(await noSidewaysScroll(page));

    const people = page.getByRole("complementary", { name: /People/ });
    assert.equal(await people.isVisible(), false, "the names list is collapsed on a phone");
    const peopleButton = page.getByRole("button", { name: "People", exact: true });
    await peopleButton.click();
    assert.equal(await peopleButton.getAttribute("aria-expanded"), "true");
    await people.getByText("A-very-long-name-without-spaces!").waitFor();
    assert.ok(await noSidewaysScroll(page));
    await assertAccessibleBothThemes(page, "the people drawer at 360 px");
    await page.keyboard.press("Escape");
    assert.equal(await people.isVisible(), false);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "people-toggle", "focus returns to the button");
    await peopleButton.click();
    await people.getByRole("button", { name: "Close people" }).click();
    assert.equal(await people.isVisible(), false);

    await page.getByRole("button", { name: "Rooms", exact: true }).click();
    const rooms = page.getByRole("navigation", { name: "Rooms" });
    await rooms.getByLabel("Join or create a room").waitFor();
    await assertAccessibleBothThemes(page, "the rooms drawer at 360 px");
    await rooms.getByLabel("Join or create a room").fill("elsewhere");
    await rooms.getByLabel("Join or create a room").press("Enter");
    await eventually(async () => assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "#elsewhere"));
    assert.equal(await rooms.isVisible(), false, "the drawer closes after choosing a room");
    long.close();
    await context.close();
  });

  it("the chat can be used with the keyboard alone", async () => {
    const { page, context } = await openPerson(browser, server.url, { path: "/r/keys" });
    await page.keyboard.type("Keya");
    await page.keyboard.press("Enter");
    await eventually(async () => assert.equal(await onlineCount(page), "1 online"));
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.labels?.[0]?.textContent), "Message");
    await page.keyboard.type("typed without a mouse");
    await page.keyboard.press("Enter");
    await eventually(async () => assert.deepEqual(await messageTexts(page), ["typed without a mouse"]));
    await assertAccessibleBothThemes(page, "the chat on a desktop");

    // Tab around the whole page: every control is reached, each with a visible focus style.
    const stops = [];
    for (let i = 0; i < 20 && stops.at(-1)?.name !== "Message"; i++) {
      await page.keyboard.press("Tab");
      stops.push(await page.evaluate(() => {
        const el = document.activeElement;
        const name = el.labels?.[0]?.textContent ?? el.getAttribute("aria-label") ?? el.textContent.trim().split("\n")[0];
        const ring = el.id === "composer-input" ? getComputedStyle(el.form).boxShadow : getComputedStyle(el).outlineStyle;
        return { name, visible: el === document.body || (ring !== "none" && ring !== "") };
      }));
    }
    const names = stops.map((s) => s.name);
    for (const control of ["Skip to the message box", "Join or create a room", "Go", "Copy link", "Message"]) {
      assert.ok(names.includes(control), `Tab reaches “${control}”: ${JSON.stringify(names)}`);
    }
    assert.ok(names.some((n) => n.startsWith("#keys")), "Tab reaches the room link");
    assert.deepEqual(stops.filter((s) => !s.visible), [], "every focused control shows it");

    await page.getByRole("link", { name: "Skip to the message box" }).focus();
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "composer-input");
    await context.close();
  });
});
