// Bundles the browser app into web/dist: app.js (minified, with a source
// map) plus the static files the server serves next to it.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const WEB = import.meta.dirname;
const DIST = join(WEB, "dist");
const STATIC = ["index.html", "style.css", "favicon.svg"];

rmSync(DIST, { recursive: true, force: true });
mkdirSync(DIST, { recursive: true });

await build({
  entryPoints: [join(WEB, "src", "main.ts")],
  outfile: join(DIST, "app.js"),
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  target: ["es2022"],
  legalComments: "none",
  logLevel: "warning",
});

for (const file of STATIC) copyFileSync(join(WEB, file), join(DIST, file));
console.log(`built ${DIST}`);
