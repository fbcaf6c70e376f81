/**
 * Bundles the CNI plugin (`src/cni/main.ts`) with esbuild into one executable file, `dist/cni/hybridnet`
 * (`#!/usr/bin/env node`, mode 0755, CommonJS, Node built-ins only), so that each CNI call starts fast: the plugin is
 * installed without extension and without a package.json (`/opt/cni/bin/hybridnet`), where Node 20 loads a file as
 * CommonJS first — an ESM bundle there costs a failed CommonJS parse plus the ESM loader (≈ 10 ms per call, measured
 * with `VERSION` calls). A `package.json` with `"type": "commonjs"` is written next to the output so that the file
 * loads the same way inside this `"type": "module"` repository.
 * Usage: `npm run build:cni` (or `tsx tools/build-cni.ts [outfile]`).
 */
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
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
    format: 'cjs',
    target: 'node20',
    minify: true,
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
  writeFileSync(path.join(path.dirname(outfile), 'package.json'), '{ "type": "commonjs" }\n');
  return outfile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildCni(process.argv[2]);
  console.log(`${out}: ${statSync(out).size} bytes`);
}
