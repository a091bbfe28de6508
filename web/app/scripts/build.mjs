// Bundles src/main.tsx with esbuild into dist/assets/ (content-hashed names) and writes
// dist/index.html pointing at them. `--watch` rebuilds on change for development.
import * as esbuild from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const watch = process.argv.includes("--watch");

const writeIndex = {
  name: "index-html",
  setup(build) {
    build.onEnd((result) => {
      if (result.errors.length) return;
      const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
      const script = outputs.find((file) => file.endsWith(".js"));
      const style = outputs.find((file) => file.endsWith(".css"));
      const template = readFileSync(join(root, "index.html"), "utf8");
      const tags =
        `<link rel="stylesheet" href="/app/assets/${style}" />\n    ` +
        `<script type="module" src="/app/assets/${script}"></script>`;
      writeFileSync(join(dist, "index.html"), template.replace("<!--app-assets-->", tags));
      console.log(`built ${outputs.join(", ")}`);
    });
  },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const options = {
  entryPoints: [join(root, "src", "main.tsx")],
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: join(dist, "assets"),
  entryNames: "[name]-[hash]",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
  plugins: [writeIndex],
};
if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log("watching src/ (serve with `make run`; reload the page after a rebuild)");
} else {
  await esbuild.build(options);
}
