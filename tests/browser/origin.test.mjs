// Cross-site connections as a real browser makes them: a page on another
// site runs the official client against Baat-Chit in its visitor's browser.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchBrowser, startServer } from "./support.mjs";

const CLIENT = readFileSync(
  resolve(import.meta.dirname, "..", "..", "node_modules", "socket.io-client", "dist", "socket.io.min.js"),
);

/** Another web site: an empty page and the official client's browser bundle. */
async function startSite() {
  const site = createServer((req, res) => {
    if (req.url === "/socket.io.min.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(CLIENT);
    } else {
      res.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><script src="/socket.io.min.js"></script>`);
    }
  });
  await new Promise((done) => site.listen(0, "127.0.0.1", done));
  return { site, url: `http://127.0.0.1:${site.address().port}` };
}

/** In the page: connects the official client to `target`; "connected" or the error. */
function connectFrom(page, target, transports) {
  return page.evaluate(([url, transports]) => new Promise((done) => {
    const socket = io(url, { transports, reconnection: false, timeout: 3000 });
    socket.on("session", () => {
      socket.close();
      done("connected");
    });
    socket.on("connect_error", (error) => done(`connect_error: ${error.message}`));
  }), [target, transports]);
}

describe("a page on another site", () => {
  let friend;
  let stranger;
  let server;
  let browser;
  before(async () => {
    [friend, stranger] = [await startSite(), await startSite()];
    server = await startServer({ args: ["--allowed-origin", friend.url] });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
    friend?.site.close();
    stranger?.site.close();
  });

  async function pageOn(site) {
    const page = await (await browser.newContext()).newPage();
    await page.goto(site.url);
    return page;
  }

  it("cannot connect its visitor to Baat-Chit, by polling or by websocket", async () => {
    const page = await pageOn(stranger);
    for (const transports of [["polling", "websocket"], ["websocket"]]) {
      assert.match(await connectFrom(page, server.url, transports), /^connect_error/, transports.join());
    }
    await page.context().close();
  });

  it("connects when its origin is allowed, by polling and by websocket", async () => {
    const page = await pageOn(friend);
    for (const transports of [["polling", "websocket"], ["polling"], ["websocket"]]) {
      assert.equal(await connectFrom(page, server.url, transports), "connected", transports.join());
    }
    await page.context().close();
  });
});
