// Renders the app's PNG icons from web/favicon.svg (rounded, transparent
// corners) and web/icons/maskable.svg (full bleed, for launchers that cut
// their own shape) with Chromium. Run once after changing either SVG:
// `node web/icons/render.mjs`; the PNGs are committed.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const HERE = import.meta.dirname;
const ICONS = [
  { svg: join(HERE, "..", "favicon.svg"), size: 192, out: "icon-192.png" },
  { svg: join(HERE, "..", "favicon.svg"), size: 512, out: "icon-512.png" },
  { svg: join(HERE, "maskable.svg"), size: 512, out: "icon-maskable-512.png" },
  { svg: join(HERE, "maskable.svg"), size: 180, out: "apple-touch-icon.png" },
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
for (const { svg, size, out } of ICONS) {
  const page = await browser.newPage({ viewport: { width: size, height: size } });
  const src = `data:image/svg+xml;base64,${readFileSync(svg).toString("base64")}`;
  await page.setContent(`<body style="margin:0"><img src="${src}" width="${size}" height="${size}" style="display:block"></body>`);
  await page.locator("img").evaluate((img) => img.decode());
  writeFileSync(join(HERE, out), await page.screenshot({ omitBackground: true }));
  await page.close();
}
await browser.close();
