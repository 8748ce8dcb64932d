// Losing the server: a banner while disconnected, and on reconnect the page
// re-joins with `since`, so messages sent meanwhile appear exactly once and
// a message written offline is delivered once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { composer, eventually, joinBot, launchBrowser, openPerson, say, seeMessages, startServer } from "./support.mjs";

describe("reconnect", () => {
  let server;
  let browser;
  before(async () => {
    server = await startServer({ args: ["--rate-limit", "1000", "--user-rate-limit", "0"] });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  it("a server restart shows the banner, then fills the gap with nothing missing or doubled", async () => {
    const asha = await openPerson(browser, server.url, { name: "Asha" });
    const nia = await joinBot(server.url, "Nia");
    await nia.say("before the outage");
    await seeMessages(asha.page, ["before the outage"]);
    const banner = asha.page.getByRole("status").filter({ hasText: "Reconnecting" });
    assert.equal(await banner.isVisible(), false);

    await server.stop();
    nia.close();
    await banner.waitFor();
    // Keep the page away until the gap exists, whatever its reconnect timer says.
    await asha.context.setOffline(true);
    server = await startServer({ dir: server.dir, listen: `127.0.0.1:${server.port}`, args: ["--rate-limit", "1000", "--user-rate-limit", "0"] });
    const back = await joinBot(server.url, "Nia", { token: nia.session.token });
    assert.equal(back.user.id, nia.user.id, "the token survives the restart");
    // More than one page of history (50), so only a re-join with `since` can fill it.
    const gap = Array.from({ length: 60 }, (_, i) => `during the outage ${i + 1}`);
    for (const text of gap) await back.say(text);
    await say(asha.page, "written while offline");
    await asha.page.getByText("Waiting for connection…").waitFor();
    assert.equal(await banner.isVisible(), true);

    const heard = [];
    back.socket.on("message", (m) => heard.push(m.text));
    await asha.context.setOffline(false);
    await banner.waitFor({ state: "hidden", timeout: 8000 });
    const expected = ["before the outage", ...gap, "written while offline"];
    await seeMessages(asha.page, expected);
    // The offline message shows as soon as the gap is filled, while its resend's ack may still be on the way.
    await eventually(async () => assert.equal(await asha.page.locator("#messages .msg-status").count(), 0, "nothing left pending"));
    await eventually(() => assert.deepEqual(heard, ["written while offline"]));
    const seqs = await asha.page.locator("#messages .msg").evaluateAll((rows) => rows.map((r) => Number(r.dataset.seq)));
    assert.deepEqual(seqs, expected.map((_, i) => i + 1));

    await say(asha.page, "all good again");
    await eventually(() => assert.deepEqual(heard, ["written while offline", "all good again"]));
    assert.equal(await composer(asha.page).isEnabled(), true);
    assert.deepEqual(asha.errors, []);
    back.close();
    await asha.context.close();
  });

  it("edits, deletes and reactions made while away are caught up on reconnecting, older messages' too", async () => {
    const args = ["--rate-limit", "1000", "--user-rate-limit", "0"];
    const room = "away-changes";
    const asha = await openPerson(browser, server.url, { name: "Asha", path: `/r/${room}` });
    const nia = await joinBot(server.url, "Nia", { room, protocol: 2 });
    const [one, two, three] = [await nia.say("one"), await nia.say("two"), await nia.say("three")];
    // Seen live before the outage: the re-join must start after this change's seq, not the last message's.
    await nia.react(three.id, "👀");
    await seeMessages(asha.page, ["one", "two", "three"]);
    const row = (id) => asha.page.locator(`#messages li[data-id="${id}"]`);
    await row(three.id).getByRole("button", { name: "👀 1" }).waitFor();

    await server.stop();
    nia.close();
    await asha.page.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor();
    await asha.context.setOffline(true);
    server = await startServer({ dir: server.dir, listen: `127.0.0.1:${server.port}`, args });
    const back = await joinBot(server.url, "Nia", { room, protocol: 2, token: nia.session.token });
    await back.edit(one.id, "one, edited");
    await back.remove(two.id);
    await back.react(three.id, "👀");
    await back.react(three.id, "🎉");
    await back.react(one.id, "👍");
    await back.say("four");
    await asha.context.setOffline(false);

    await seeMessages(asha.page, ["one, edited", "three", "four"], { timeout: 10000 });
    await row(one.id).locator(".edited").waitFor();
    await row(two.id).locator(".msg-deleted", { hasText: "message deleted" }).waitFor();
    await eventually(async () => assert.deepEqual(await row(three.id).locator(".reaction").evaluateAll((bs) => bs.map((b) => b.getAttribute("aria-label"))), ["🎉 1"]));
    assert.deepEqual(await row(one.id).locator(".reaction").evaluateAll((bs) => bs.map((b) => b.getAttribute("aria-label"))), ["👍 1"]);
    assert.deepEqual(asha.errors, []);
    back.close();
    await asha.context.close();
  });

  it("a message whose ack is lost with the connection appears once after reconnecting", async () => {
    let dropAck = null;
    let upgraded = false;
    const { page, context } = await openPerson(browser, server.url, {
      name: "Dana",
      path: "/r/lost-ack",
      // Pass the send through, then lose its ack and the connection, as a flaky network would.
      beforeGoto: (p) => p.routeWebSocket(/\/socket\.io\//, (ws) => {
        const real = ws.connectToServer();
        ws.onMessage((frame) => {
          if (frame === "5") upgraded = true;
          const send = /^42(\d+)\["message"/.exec(String(frame));
          if (send && dropAck === null) dropAck = `43${send[1]}[`;
          real.send(frame);
        });
        real.onMessage((frame) => {
          if (dropAck && String(frame).startsWith(dropAck)) {
            dropAck = "done";
            real.close();
            return ws.close();
          }
          ws.send(frame);
        });
      }),
    });
    const ekow = await joinBot(server.url, "Ekow", { room: "lost-ack" });
    await eventually(async () => assert.equal(await page.locator("#room-count").textContent(), "2 online"));
    await eventually(() => assert.ok(upgraded, "the page is on websocket"));
    await say(page, "did this arrive?");
    await eventually(() => assert.equal(dropAck, "done"), { timeout: 8000 });
    await seeMessages(page, ["did this arrive?"], { timeout: 8000 });
    await page.locator("#messages .msg[data-id]").waitFor();
    await say(page, "and this one");
    await seeMessages(page, ["did this arrive?", "and this one"]);
    ekow.close();
    await context.close();
  });

  it("a page that loses the server without going offline comes back by itself", async () => {
    const bilal = await openPerson(browser, server.url, { name: "Bilal", path: "/r/comeback" });
    await say(bilal.page, "one");
    // "one" is stored before the outage: wait for its ack (a sent row has an id).
    await bilal.page.locator("[data-id]", { hasText: "one" }).waitFor();
    const banner = bilal.page.getByRole("status").filter({ hasText: "Reconnecting" });
    await server.kill();
    await banner.waitFor();
    server = await startServer({ dir: server.dir, listen: `127.0.0.1:${server.port}` });
    const chen = await joinBot(server.url, "Chen", { room: "comeback" });
    await chen.say("two");
    await banner.waitFor({ state: "hidden", timeout: 8000 });
    await seeMessages(bilal.page, ["one", "two"]);
    chen.close();
    await bilal.context.close();
  });
});
