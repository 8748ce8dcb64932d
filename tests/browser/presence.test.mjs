// Who is here: the live count, the People list on every page, join and
// leave notices (bursts summarised on one line), and "is typing…".
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  composer, eventually, joinBot, noticeTexts, onlineCount, openPerson, peopleNames, say, withServerAndBrowser,
} from "./support.mjs";

describe("presence", () => {
  let server;
  let browser;
  withServerAndBrowser({ args: ["--presence-grace", "1"] }, (s, b) => {
    [server, browser] = [s, b];
  });

  it("every page shows the same count and names, updating as people come and go", async () => {
    const path = "/r/live";
    const asha = await openPerson(browser, server.url, { name: "Asha", path });
    const bilal = await openPerson(browser, server.url, { name: "Bilal", path });
    const chen = await openPerson(browser, server.url, { name: "Chen", path });
    const pages = [asha.page, bilal.page, chen.page];
    for (const page of pages) await eventually(async () => assert.equal(await onlineCount(page), "3 online"));
    assert.deepEqual(await peopleNames(asha.page), ["Asha", "Bilal", "Chen"]);
    assert.deepEqual(await peopleNames(bilal.page), ["Bilal", "Asha", "Chen"]);
    assert.deepEqual(await peopleNames(chen.page), ["Chen", "Asha", "Bilal"]);
    assert.equal(await chen.page.locator("#people-list .person.you .person-name").textContent(), "Chen");
    assert.equal(await chen.page.locator("#people-list .you-tag").textContent(), "you");

    // Going to another room leaves at once: no grace period for a deliberate leave.
    await chen.page.getByLabel("Join or create a room").fill("elsewhere");
    await chen.page.getByLabel("Join or create a room").press("Enter");
    for (const page of [asha.page, bilal.page]) {
      await eventually(async () => assert.equal(await onlineCount(page), "2 online"), { timeout: 900 });
      assert.deepEqual(await peopleNames(page), page === asha.page ? ["Asha", "Bilal"] : ["Bilal", "Asha"]);
    }
    assert.deepEqual((await noticeTexts(asha.page)).slice(-1), ["Chen left"]);

    // Closing a tab is a dropped connection: gone once the grace period ends.
    await bilal.context.close();
    await eventually(async () => assert.equal(await onlineCount(asha.page), "1 online"), { timeout: 4000 });
    assert.deepEqual(await peopleNames(asha.page), ["Asha"]);
    // Within a few seconds of Chen, so the two may share one line.
    assert.match((await noticeTexts(asha.page)).at(-1), /^(Chen and )?Bilal left$/);
    await asha.context.close();
    await chen.context.close();
  });

  it("arrivals are announced in the timeline, and a burst is summarised on one line", async () => {
    const dana = await openPerson(browser, server.url, { name: "Dana", path: "/r/burst" });
    const first = await joinBot(server.url, "Ekow", { room: "burst" });
    await eventually(async () => assert.deepEqual(await noticeTexts(dana.page), ["Ekow joined"]));
    await say(dana.page, "hello Ekow");
    const crowd = await Promise.all(["Femi", "Gita", "Hamid", "Ines"].map((n) => joinBot(server.url, n, { room: "burst" })));
    await eventually(async () => assert.equal(await onlineCount(dana.page), "6 online"));
    const notices = await noticeTexts(dana.page);
    assert.equal(notices.length, 2, `one line for the burst, got ${JSON.stringify(notices)}`);
    assert.match(notices[1], /^(Femi|Gita|Hamid|Ines), (Femi|Gita|Hamid|Ines) and 2 others joined$/);
    const live = await dana.page.locator("#announcer").textContent();
    assert.match(live, /joined/, "notices are announced to screen readers");
    for (const bot of [first, ...crowd]) bot.close();
    await eventually(async () => assert.equal(await onlineCount(dana.page), "1 online"));
    assert.match((await noticeTexts(dana.page)).at(-1), /left$/);
    await dana.context.close();
  });

  it("typing shows as “Name is typing…” and stops when the message arrives", async () => {
    const path = "/r/typing";
    const asha = await openPerson(browser, server.url, { name: "Asha", path });
    const bilal = await openPerson(browser, server.url, { name: "Bilal", path });
    const typing = asha.page.locator("#typing");
    await composer(bilal.page).pressSequentially("I am wri");
    await eventually(async () => assert.equal(await typing.textContent(), "Bilal is typing…"));
    await composer(bilal.page).press("Enter");
    await eventually(async () => assert.equal(await typing.textContent(), ""));
    await composer(bilal.page).pressSequentially("more");
    await eventually(async () => assert.equal(await typing.textContent(), "Bilal is typing…"));
    await composer(bilal.page).fill("");
    await composer(bilal.page).press("Backspace");
    await composer(bilal.page).blur();
    await eventually(async () => assert.equal(await typing.textContent(), ""));
    await asha.context.close();
    await bilal.context.close();
  });
});
