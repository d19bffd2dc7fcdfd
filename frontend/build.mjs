// Bundles the widget and the agent console into ../webapp/static/dist (served by the web app;
// nothing is loaded from a CDN at run time). Works offline once `npm ci` has run.
import { build } from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "webapp", "static", "dist");
mkdirSync(outdir, { recursive: true });

await build({
  entryPoints: {
    widget: join(here, "src", "widget.js"),
    agent: join(here, "src", "agent.js"),
    helpdesk: join(here, "src", "helpdesk.css"),
  },
  outdir,
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ["es2019"],
  format: "iife",
  legalComments: "none",
  logLevel: "info",
});
