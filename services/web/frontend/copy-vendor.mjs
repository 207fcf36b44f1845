// Copy the browser builds of our npm dependencies into Django's static files (no CDN links).
import { copyFileSync, mkdirSync } from "node:fs";

const out = "src/wheeldesk_web/static/dist";
mkdirSync(out, { recursive: true });
const files = {
  "node_modules/htmx.org/dist/htmx.min.js": "htmx.min.js",
  "node_modules/htmx-ext-sse/dist/sse.min.js": "sse.js",
  "node_modules/uplot/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
  "node_modules/uplot/dist/uPlot.min.css": "uPlot.min.css",
};
for (const [from, to] of Object.entries(files)) copyFileSync(from, `${out}/${to}`);
console.log(`copied ${Object.keys(files).length} vendor files to ${out}`);
