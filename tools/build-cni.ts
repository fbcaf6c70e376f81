/**
 * Bundles the CNI plugin (`src/cni/main.ts`) with esbuild into one executable file, `dist/cni/hybridnet`
 * (`#!/usr/bin/env node`, mode 0755, ESM, Node built-ins only), so that each CNI call starts fast.
 * Usage: `npm run build:cni` (or `tsx tools/build-cni.ts [outfile]`).
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Builds the plugin into `outfile` (default `dist/cni/hybridnet`) and returns its path. */
export async function buildCni(outfile = path.join(REPO, 'dist/cni/hybridnet')): Promise<string> {
  mkdirSync(path.dirname(outfile), { recursive: true });
  await build({
    entryPoints: [path.join(REPO, 'src/cni/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
  return outfile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildCni(process.argv[2]);
  console.log(`${out}: ${statSync(out).size} bytes`);
}
