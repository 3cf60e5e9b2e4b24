// Builds the console into dist/: src/main.tsx (with Preact and the SDK's TypeScript source) bundled
// by esbuild into dist/assets/app-<hash>.js and .css, the server's favicon as dist/assets/favicon-<hash>.svg,
// and dist/index.html naming them. Hashed names are served as immutable; index.html is written last
// (through a rename), so a reader sees either the previous build or the whole new one. Two builds
// running at once write identical files. Assets no longer named by index.html are removed.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const assets = path.join(dist, 'assets');
mkdirSync(assets, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.tsx' },
  bundle: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox115', 'safari16.4'],
  minify: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'none',
  entryNames: '[name]-[hash]',
  outdir: assets,
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const js = outputs.find(([, o]) => o.entryPoint === 'src/main.tsx');
if (!js) throw new Error('esbuild produced no bundle for src/main.tsx');
const css = js[1].cssBundle;
const name = (file) => path.basename(file);

const iconSource = readFileSync(path.join(here, '..', 'server', 'assets', 'favicon.svg'));
const icon = `favicon-${createHash('sha256').update(iconSource).digest('hex').slice(0, 8)}.svg`;
writeFileSync(path.join(assets, icon), iconSource);

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>Parley console</title>
<link rel="icon" type="image/svg+xml" href="/console/assets/${icon}">
${css ? `<link rel="stylesheet" href="/console/assets/${name(css)}">\n` : ''}<script type="module" src="/console/assets/${name(js[0])}"></script>
</head>
<body>
<div id="app"></div>
<noscript><p>The Parley console needs JavaScript. The API itself is documented at <a href="/docs">/docs</a>.</p></noscript>
</body>
</html>
`;
const tmp = path.join(dist, `.index-${process.pid}.html`);
writeFileSync(tmp, html);
renameSync(tmp, path.join(dist, 'index.html'));

const keep = new Set([name(js[0]), icon, ...(css ? [name(css)] : [])]);
for (const f of readdirSync(assets)) if (!keep.has(f)) rmSync(path.join(assets, f), { force: true });
console.log(`console built: dist/index.html, ${[...keep].map((f) => `assets/${f}`).join(', ')}`);
