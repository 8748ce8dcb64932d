// The browser and the server name the contract's events in one place each
// (web/src/protocol.ts and the Rust `realtime::events` module); this test
// fails when the two drift apart. It reads source text, no browser needed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, it } from "node:test";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** Event names from the Rust `pub mod events { ... }`: sent by clients and by the server. */
function rustEvents() {
  const source = readFileSync(resolve(ROOT, "src", "realtime", "mod.rs"), "utf8");
  const block = /pub mod events \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
  const consts = Object.fromEntries([...block.matchAll(/pub const (\w+): &str = "([^"]+)";/g)].map((m) => [m[1], m[2]]));
  const list = (name) => (new RegExp(`${name}: \\[&str; \\d+\\] =\\s*\\[([^\\]]*)\\]`).exec(block)?.[1] ?? "")
    .split(",").map((s) => consts[s.trim()]).filter(Boolean).sort();
  return { fromClient: list("FROM_CLIENT"), fromServer: list("FROM_SERVER") };
}

/** Event names from a TypeScript interface in web/src/protocol.ts. */
function tsEvents(interfaceName) {
  const source = readFileSync(resolve(ROOT, "web", "src", "protocol.ts"), "utf8");
  const block = new RegExp(`interface ${interfaceName} \\{([\\s\\S]*?)\\n\\}`).exec(source)?.[1] ?? "";
  return [...block.matchAll(/^ {2}(\w+): \(/gm)].map((m) => m[1]).sort();
}

describe("protocol", () => {
  it("the browser sends exactly the events the server handles", () => {
    const { fromClient } = rustEvents();
    assert.ok(fromClient.length > 0, "found the server's event list");
    assert.deepEqual(tsEvents("ClientToServerEvents"), fromClient);
  });

  it("the browser listens for exactly the events the server sends", () => {
    const { fromServer } = rustEvents();
    assert.ok(fromServer.length > 0, "found the server's event list");
    assert.deepEqual(tsEvents("ServerToClientEvents"), fromServer);
  });
});
