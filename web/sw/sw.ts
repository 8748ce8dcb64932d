/**
 * The service worker: keeps the app shell (page, script, style, icons) of
 * this build in a cache named after the build, so the page opens without
 * the server, at `/` and at any `/r/<room>`. Everything else (Socket.IO,
 * /healthz, /metrics) goes to the network untouched. A new deploy changes
 * BUILD (web/build.mjs hashes the shell into it), so the browser installs
 * the new worker, which fills a new cache, takes over, and drops the old.
 * History and unsent messages are the page's, in IndexedDB (src/saved.ts).
 */
export {};
declare const self: ServiceWorkerGlobalScope;
/** A hash of this build's shell files, set by web/build.mjs. */
declare const BUILD: string;
/** The shell's paths, set by web/build.mjs. */
declare const SHELL: string[];

const PREFIX = "baat-chit-shell-";
const CACHE = PREFIX + BUILD;

/** The single page answers the app's own addresses: the root and /r/<room>. */
const isAppPage = (path: string): boolean => path === "/" || /^\/r\/[^/]+\/?$/.test(path);

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // Past the HTTP cache: the files of exactly this build.
      await cache.addAll(SHELL.map((path) => new Request(path, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  const path = request.mode === "navigate" && isAppPage(url.pathname) ? "/" : url.pathname;
  if (!SHELL.includes(path)) return;
  event.respondWith(fromShell(path, request));
});

/** The cached copy of this build's file; the network if it is somehow missing. */
async function fromShell(path: string, request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  return (await cache.match(path)) ?? fetch(request);
}
