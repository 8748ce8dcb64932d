// The live sidebar: every room's count follows people joining and leaving
// in other browsers within a second (the server pushes `counts`), and the
// open room's row never disagrees with its header for a second or more.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertAccessibleBothThemes, eventually, onlineCount, openPerson, withServerAndBrowser } from "./support.mjs";

/** The rooms list as "name count" lines, the current one marked. */
function roomList(page) {
  return page.getByRole("navigation", { name: "Rooms" }).getByRole("link").evaluateAll((links) =>
    links.map((a) => `${a.querySelector(".room-name").textContent} ${a.querySelector(".room-count").firstChild.textContent}${a.getAttribute("aria-current") ? " (current)" : ""}`));
}

/**
 * Runs in the page: samples the header's count and the open room's row
 * every 20 ms and keeps the longest time they disagreed, in ms.
 */
function recordAgreement() {
  window.agreement = { samples: 0, since: null, longest: 0 };
  window.setInterval(() => {
    const header = parseInt(document.getElementById("room-count").textContent, 10);
    const row = document.querySelector('#room-list a[aria-current="page"] .room-count');
    const side = row ? parseInt(row.firstChild.textContent, 10) : NaN;
    const a = window.agreement;
    const now = performance.now();
    a.samples++;
    if (header === side) a.since = null;
    else {
      a.since ??= now;
      a.longest = Math.max(a.longest, now - a.since);
    }
  }, 20);
}

/** Moves `page` to `room` through the sidebar's form, as a person would. */
async function goTo(page, room) {
  await page.getByLabel("Join or create a room").fill(room);
  await page.getByLabel("Join or create a room").press("Enter");
  await eventually(async () => assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), `#${room}`));
}

const WITHIN_A_SECOND = { timeout: 1000, interval: 25 };

describe("live sidebar", () => {
  let server;
  let browser;
  withServerAndBrowser({ args: ["--presence-grace", "1"] }, (s, b) => {
    [server, browser] = [s, b];
  });

  it("counts in the sidebar follow joins and leaves in other browsers within a second, and agree with the header", async () => {
    const asha = await openPerson(browser, server.url, { name: "Asha", path: "/r/lobby" });
    await eventually(async () => assert.deepEqual(await roomList(asha.page), ["lobby 1 (current)"]));
    await asha.page.evaluate(recordAgreement);

    // Someone enters another room: it appears, then counts up.
    const bilal = await openPerson(browser, server.url, { name: "Bilal", path: "/r/side" });
    await eventually(async () => assert.deepEqual(await roomList(asha.page), ["lobby 1 (current)", "side 1"]), WITHIN_A_SECOND);
    const chen = await openPerson(browser, server.url, { name: "Chen", path: "/r/side" });
    await eventually(async () => assert.deepEqual(await roomList(asha.page), ["side 2", "lobby 1 (current)"]), WITHIN_A_SECOND);

    // Someone moves into the open room: its row and the header go up together.
    await goTo(bilal.page, "lobby");
    await eventually(async () => assert.deepEqual(await roomList(asha.page), ["lobby 2 (current)", "side 1"]), WITHIN_A_SECOND);
    assert.equal(await onlineCount(asha.page), "2 online");
    await assertAccessibleBothThemes(asha.page, "the live sidebar");

    // A closed tab is gone once the presence grace period (1 s) ends; the room drops out of the list.
    await chen.context.close();
    await eventually(async () => assert.deepEqual(await roomList(asha.page), ["lobby 2 (current)"]), { timeout: 2000, interval: 25 });
    await bilal.context.close();
    await eventually(async () => assert.deepEqual(await roomList(asha.page), ["lobby 1 (current)"]), { timeout: 2000, interval: 25 });
    await eventually(async () => assert.equal(await onlineCount(asha.page), "1 online"));

    const agreement = await asha.page.evaluate(() => window.agreement);
    assert.ok(agreement.samples > 50, `the header and the row were compared (${agreement.samples} samples)`);
    assert.ok(agreement.longest < 1000, `the open room's row and header disagreed for ${Math.round(agreement.longest)} ms at most`);
    assert.deepEqual(asha.errors, []);
    await asha.context.close();
  });
});
