// Bundles the explorer into dist/explorer/ (index.html, app.js, app.css) for the node to serve
// on GET / (node/explorer.ts). Run by `npm run build` after tsc; everything comes from
// node_modules, nothing from a CDN: the explorer works offline.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'explorer');
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
const common = { bundle: true, minify: true, logLevel: 'warning', legalComments: 'none' };
await build({
  ...common,
  entryPoints: [join(here, 'main.tsx')],
  outfile: join(out, 'app.js'),
  format: 'esm',
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
});
await build({ ...common, entryPoints: [join(here, 'style.css')], outfile: join(out, 'app.css') });
await copyFile(join(here, 'index.html'), join(out, 'index.html'));
