// Bundles the browser app into web/dist: app.js (minified, with a source
// map), the service worker sw.js, and the static files the server serves
// next to them. The worker's cache is named after a hash of the shell, so
// each deploy that changes the app is picked up by installed copies.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";

const WEB = import.meta.dirname;
const DIST = join(WEB, "dist");
const STATIC = [
  "index.html", "style.css", "favicon.svg", "manifest.webmanifest",
  "icons/icon-192.png", "icons/icon-512.png", "icons/icon-maskable-512.png", "icons/apple-touch-icon.png",
];
/** What the service worker keeps for offline use; "/" is index.html. */
const SHELL = ["/", "/app.js", ...STATIC.filter((f) => f !== "index.html").map((f) => `/${basename(f)}`)];

rmSync(DIST, { recursive: true, force: true });
mkdirSync(DIST, { recursive: true });

const common = { bundle: true, minify: true, target: ["es2022"], legalComments: "none", logLevel: "warning" };
await build({ ...common, entryPoints: [join(WEB, "src", "main.ts")], outfile: join(DIST, "app.js"), sourcemap: true, format: "iife" });
// Served flat: the server answers files at the root only.
for (const file of STATIC) copyFileSync(join(WEB, file), join(DIST, basename(file)));

const hash = createHash("sha256");
for (const path of SHELL) hash.update(readFileSync(join(DIST, path === "/" ? "index.html" : path.slice(1))));
const version = hash.digest("hex").slice(0, 16);
await build({
  ...common,
  entryPoints: [join(WEB, "sw", "sw.ts")],
  outfile: join(DIST, "sw.js"),
  format: "iife",
  define: { BUILD: JSON.stringify(version), SHELL: JSON.stringify(SHELL) },
});
console.log(`built ${DIST} (${version})`);
