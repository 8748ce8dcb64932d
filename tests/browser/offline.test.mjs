// Installable and offline: a manifest and a service worker; a page opened
// while the server is down shows the history seen before and says it is
// offline; a message written offline survives closing the tab and is
// delivered exactly once when the server is back, even with two tabs open.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  assertAccessible, composer, cspViolations, eventually, joinBot, launchBrowser, messageTexts, openPerson, say, startServer,
} from "./support.mjs";

const ARGS = ["--rate-limit", "0", "--user-rate-limit", "0"];
/** The Web Lock under which a tab sends the room's outbox (web/src/outbox.ts). */
const LOCK = "baat-chit-outbox:trip";

/** Runs in the page: what IndexedDB holds for `room` (saved messages' texts, outbox texts). */
function savedFor(room) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("baat-chit");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction(["rooms", "outbox"]);
      const roomReq = tx.objectStore("rooms").get(room);
      const outReq = tx.objectStore("outbox").index("room").getAll(room);
      tx.oncomplete = () => {
        resolve({ messages: (roomReq.result?.messages ?? []).map((m) => m.text), outbox: outReq.result.map((e) => e.text) });
        open.result.close();
      };
    };
  });
}

/** Every Socket.IO packet `page` sends, by polling or WebSocket. */
function recordSent(page) {
  const sent = [];
  page.on("request", (r) => r.url().includes("/socket.io/") && r.method() === "POST" && sent.push(r.postData() ?? ""));
  page.on("websocket", (ws) => ws.on("framesent", (f) => sent.push(String(f.payload))));
  return sent;
}

describe("offline", () => {
  let server;
  let browser;
  before(async () => {
    server = await startServer({ args: ARGS });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  it("the app is installable: a valid manifest with icons, and a service worker", async () => {
    const { page, context } = await openPerson(browser, server.url, { name: "Ines" });
    const href = await page.locator('link[rel="manifest"]').getAttribute("href");
    const response = await page.request.get(new URL(href, server.url).href);
    assert.equal(response.headers()["content-type"], "application/manifest+json");
    const manifest = await response.json();
    assert.equal(manifest.name, "Baat-Chit");
    assert.equal(manifest.start_url, "/");
    assert.equal(manifest.display, "standalone");
    const sizes = manifest.icons.map((i) => i.sizes);
    assert.ok(sizes.includes("192x192") && sizes.includes("512x512"), `icons: ${sizes}`);
    assert.ok(manifest.icons.some((i) => i.purpose === "maskable"));
    for (const icon of manifest.icons) {
      const got = await page.request.get(new URL(icon.src, server.url).href);
      assert.equal(got.status(), 200, icon.src);
      assert.equal(got.headers()["content-type"], icon.type, icon.src);
    }
    const worker = await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL);
    assert.equal(worker, new URL("/sw.js", server.url).href);
    const sw = await page.request.get(worker);
    assert.equal(sw.headers()["content-type"], "text/javascript");
    assert.match(sw.headers()["cache-control"], /no-cache/);
    await context.close();
  });

  it("a room saved on an earlier visit opens from where it was, and after a long absence at the first unread message with the newest below", async () => {
    const asha = await openPerson(browser, server.url, { name: "Asha", path: "/r/back" });
    const nia = await joinBot(server.url, "Nia", { room: "back" });
    await nia.say("first visit");
    await eventually(async () => assert.deepEqual((await asha.page.evaluate(savedFor, "back")).messages, ["first visit"]));
    await asha.page.close();

    // A short absence: the re-join asks only for what is newer (`since`).
    await nia.say("while away");
    let page = await asha.context.newPage();
    await page.goto(new URL("/r/back", server.url).href);
    await eventually(async () => assert.deepEqual(await messageTexts(page), ["first visit", "while away"]));
    await eventually(async () => assert.deepEqual((await page.evaluate(savedFor, "back")).messages, ["first visit", "while away"]));
    await page.close();

    // A long one: more than a catch-up reads (500), so the saved copy is dropped and the
    // room opens afresh: at the first unread message (the server's read marker), with
    // the newest page below it and a gap between them to fill.
    const many = Array.from({ length: 520 }, (_, i) => `later ${i + 1}`);
    for (const text of many) await nia.say(text);
    page = await asha.context.newPage();
    await page.goto(new URL("/r/back", server.url).href);
    await eventually(async () => assert.deepEqual((await messageTexts(page)).slice(-50), many.slice(-50)));
    await page.getByRole("heading", { name: "New messages" }).waitFor();
    const after = await page.locator("#messages li.new-divider + li.msg .msg-text").textContent();
    assert.equal(after, "later 1");
    const texts = await messageTexts(page);
    assert.equal(new Set(texts).size, texts.length, "no message twice");
    nia.close();
    await asha.context.close();
  });

  it("written while the server is down, closed, reopened offline with history, then delivered exactly once", async () => {
    const asha = await openPerson(browser, server.url, { name: "Asha", path: "/r/trip" });
    const nia = await joinBot(server.url, "Nia", { room: "trip" });
    await nia.say("seen before the outage");
    await eventually(async () => assert.deepEqual(await messageTexts(asha.page), ["seen before the outage"]));
    await asha.page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state);
    await eventually(async () => assert.deepEqual((await asha.page.evaluate(savedFor, "trip")).messages, ["seen before the outage"]));

    await server.stop();
    nia.close();
    await asha.page.getByRole("status").filter({ hasText: "You are offline" }).waitFor();
    await say(asha.page, "written **offline**");
    await asha.page.getByText("Waiting for connection…").waitFor();
    await eventually(async () => assert.deepEqual((await asha.page.evaluate(savedFor, "trip")).outbox, ["written **offline**"]));
    await asha.page.close();

    // Reopened while the server is still down: the service worker serves the page, in two tabs.
    const tabs = [];
    for (let i = 0; i < 2; i++) {
      const page = await asha.context.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      const sent = recordSent(page);
      const response = await page.goto(new URL("/r/trip", server.url).href);
      assert.ok(response.fromServiceWorker(), "the page comes from the service worker");
      tabs.push({ page, errors, sent });
    }
    for (const { page } of tabs) {
      await page.getByRole("status").filter({ hasText: "You are offline" }).waitFor();
      await eventually(async () => assert.deepEqual(await messageTexts(page), ["seen before the outage", "written offline"]));
      await page.getByText("Waiting for connection…").waitFor();
      assert.equal(await page.locator("#room-name").textContent(), "trip");
      assert.equal(await composer(page).isEnabled(), true);
    }
    await assertAccessible(tabs[0].page, "the room opened offline");

    // Hold the room's outbox lock, so both tabs are back and want to send at the same time.
    await tabs[0].page.evaluate((name) => new Promise((granted) => {
      void navigator.locks.request(name, () => {
        granted();
        return new Promise((release) => (window.releaseOutbox = release));
      });
    }), LOCK);
    server = await startServer({ dir: server.dir, listen: `127.0.0.1:${server.port}`, args: ARGS });
    const back = await joinBot(server.url, "Nia", { room: "trip" });
    const heard = [];
    back.socket.on("message", (m) => heard.push(m.text));
    const sends = () => tabs.flatMap((t) => t.sent).filter((frame) => frame.includes('"message"') && frame.includes("written **offline**"));
    const waiting = () => tabs[0].page.evaluate(async (name) => (await navigator.locks.query()).pending.filter((l) => l.name === name).length, LOCK);
    await eventually(async () => assert.equal(await waiting(), 2, "both tabs wait for the lock"), { timeout: 10_000 });
    assert.deepEqual(sends(), []);
    await tabs[0].page.evaluate(() => window.releaseOutbox());
    for (const { page } of tabs) {
      await page.getByRole("status").waitFor({ state: "hidden", timeout: 10_000 });
      await eventually(async () => assert.deepEqual(await messageTexts(page), ["seen before the outage", "written **offline**".replace(/\*\*/g, "")]), { timeout: 8000 });
      await eventually(async () => assert.equal(await page.locator("#messages .msg-status").count(), 0, "nothing left pending"));
    }
    await eventually(() => assert.deepEqual(heard, ["written **offline**"]));
    const history = await back.socket.timeout(5000).emitWithAck("history", { room: "trip" });
    assert.deepEqual(history.messages.map((m) => m.text), ["seen before the outage", "written **offline**"]);
    assert.equal(sends().length, 1, `one tab sent it, once: ${sends()}`);
    assert.deepEqual((await tabs[0].page.evaluate(savedFor, "trip")).outbox, [], "the outbox is empty");
    for (const { page, errors } of tabs) {
      assert.deepEqual(errors, []);
      assert.deepEqual(await cspViolations(page), []);
    }
    back.close();
    await asha.context.close();
  });
});
