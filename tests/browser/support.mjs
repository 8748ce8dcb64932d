// Shared helpers for the browser suite: a Chromium per file, people as
// browser contexts (each with its own localStorage, so its own identity),
// bots as plain socket.io clients, and a polling `eventually` assertion.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import { startServer as startBinary } from "../support/server.mjs";

const DIST = resolve(import.meta.dirname, "..", "..", "web", "dist");
/** axe-core, the accessibility auditor, as source to evaluate in a page. */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
/** The WCAG 2.1 A and AA rules. */
const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/** The real server, once the web app it serves has been built. */
export function startServer(options) {
  for (const file of ["index.html", "app.js", "style.css"]) {
    assert.ok(existsSync(resolve(DIST, file)), `web/dist/${file} is missing: run \`npm run build\` first`);
  }
  return startBinary(options);
}

/**
 * Starts a server (with `options`) and a Chromium before a suite's tests,
 * hands both to `ready`, and stops them after.
 */
export function withServerAndBrowser(options, ready) {
  if (typeof options === "function") [options, ready] = [undefined, options];
  let server;
  let browser;
  before(async () => {
    server = await startServer(options);
    browser = await launchBrowser();
    ready(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 360, height: 740 };

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
      "--no-first-run", "--disable-component-update", "--disable-sync",
    ],
  });
}

/** Retries `check` (which throws when unmet) until it passes or `timeout` ms pass. */
export async function eventually(check, { timeout = 5000, interval = 50 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens the app as a new person (fresh context) and, with `name`, gets
 * through the name dialog. Page errors are collected in `errors`, so a
 * test can assert that none happened.
 */
export async function openPerson(browser, baseUrl, options = {}) {
  const { name, path = "/", viewport = DESKTOP, colorScheme = "light", permissions = [], init, beforeGoto } = options;
  const context = await browser.newContext({ viewport, colorScheme, permissions });
  await context.addInitScript(recordCspViolations);
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.setDefaultTimeout(5000);
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  if (beforeGoto) await beforeGoto(page);
  await page.goto(new URL(path, baseUrl).href);
  if (name) await chooseName(page, name);
  return { context, page, errors };
}

/** Runs in the page: keeps every Content-Security-Policy violation in window.cspViolations. */
function recordCspViolations() {
  window.cspViolations = [];
  document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`));
}

export function cspViolations(page) {
  return page.evaluate(() => window.cspViolations);
}

export function nameDialog(page) {
  return page.getByRole("dialog", { name: "Welcome to Baat-Chit" });
}

/** Types `name` into the name dialog and waits until it is accepted. */
export async function chooseName(page, name) {
  const dialog = nameDialog(page);
  await dialog.getByLabel("Your name").fill(name);
  await dialog.getByRole("button", { name: "Join the chat" }).click();
  await dialog.waitFor({ state: "hidden" });
}

export function composer(page) {
  return page.getByRole("textbox", { name: "Message" });
}

/** Types a message and presses Enter, as a person would. */
export async function say(page, text) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}

/** The text of every message in the timeline, oldest first. */
export function messageTexts(page) {
  return page.locator("#messages .msg-text").allTextContents();
}

/** The timeline's notices ("Asha joined"). */
export function noticeTexts(page) {
  return page.locator("#messages .notice").allTextContents();
}

/** The names in the People list, as shown (the reader's own first). */
export function peopleNames(page) {
  return page.locator("#people-list .person-name").allTextContents();
}

export function onlineCount(page) {
  return page.locator("#room-count").textContent();
}

/** Waits until the timeline shows exactly `expected` (in order). */
export async function seeMessages(page, expected, options) {
  await eventually(async () => assert.deepEqual(await messageTexts(page), expected), options);
}

/**
 * A person who is not a browser: the official socket.io client, joined to
 * `room`. Used to post messages and make crowds quickly. With
 * `protocol: 2` it can also edit, delete, react and reply.
 */
export async function joinBot(url, name, { room = "general", token, protocol } = {}) {
  const auth = { ...(token ? { token } : {}), ...(protocol ? { protocol } : {}) };
  const socket = io(url, { transports: ["websocket"], reconnection: false, auth });
  const session = await new Promise((resolve, reject) => {
    socket.once("session", resolve);
    socket.once("connect_error", reject);
  });
  const joined = await socket.timeout(5000).emitWithAck("join", { room, name });
  assert.equal(joined.ok, true, `bot ${name} could not join: ${JSON.stringify(joined)}`);
  let n = 0;
  const request = async (event, payload) => {
    const ack = await socket.timeout(5000).emitWithAck(event, { room, ...payload, clientId: `${name}-${++n}-${Date.now()}` });
    assert.equal(ack.ok, true, `bot ${name} could not ${event}: ${JSON.stringify(ack)}`);
    return ack;
  };
  return {
    socket,
    session,
    user: joined.you,
    async say(text, { replyTo } = {}) {
      return (await request("message", replyTo === undefined ? { text } : { text, replyTo })).message;
    },
    async edit(id, text) {
      return (await request("edit", { id, text })).change;
    },
    async remove(id) {
      return (await request("delete", { id })).change;
    },
    async react(id, emoji) {
      return (await request("react", { id, emoji })).change;
    },
    typing(typing) {
      socket.emit("typing", { room, typing });
    },
    close() {
      socket.disconnect();
    },
  };
}

/** The row of the message whose text (or, once deleted, whose old text we knew) is `text`. */
export function messageRow(page, text) {
  return page.locator("#messages li.msg").filter({ has: page.locator(".msg-text", { hasText: new RegExp(`^${escapeRegExp(text)}$`) }) });
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Runs in the page: every visible element with its own text, whose colour
 * against its nearest opaque background is below `min` (WCAG contrast).
 */
export function lowContrastText(min) {
  const parse = (c) => (c.match(/[\d.]+/g) ?? []).map(Number);
  const lum = ([r, g, b]) => {
    const ch = [r, g, b].map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
  };
  const background = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || c[3] === 1) return c;
    }
    return [255, 255, 255];
  };
  const failures = [];
  for (const el of document.querySelectorAll("body *")) {
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!ownText || !box.width || !box.height || el.closest("[hidden], .visually-hidden, [aria-hidden=true]")) continue;
    if (el.closest("button:disabled, .msg.sending, .msg.waiting")) continue;
    const fg = lum(parse(getComputedStyle(el).color));
    const bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < min) failures.push(`${el.tagName.toLowerCase()}.${el.className} “${el.textContent.trim().slice(0, 20)}” ${ratio.toFixed(2)}`);
  }
  return failures;
}

/**
 * Runs axe-core's WCAG 2.1 A and AA rules on the page as it is now and
 * fails on any violation, naming the rule and the elements. axe is
 * evaluated through the DevTools protocol, which the page's CSP does not
 * govern, so the app's own strict CSP stays on.
 */
export async function assertAccessible(page, where) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (tags) => {
    const result = await window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      rule: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary.replace(/\s+/g, " ")}`),
    }));
  }, WCAG_TAGS);
  assert.deepEqual(violations, [], `axe finds WCAG 2.1 A/AA violations on ${where}:\n${JSON.stringify(violations, null, 2)}`);
}

/** Audits the page with axe in light and dark, leaving it in `colorScheme` (light). */
export async function assertAccessibleBothThemes(page, where, colorScheme = "light") {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await assertAccessible(page, `${where} (${scheme})`);
  }
  await page.emulateMedia({ colorScheme });
}
