/**
 * Builds the CNI plugin (`src/cni/main.ts`) in two steps:
 *
 * 1. esbuild bundles it into one CommonJS file, `<outfile>.cjs` (`#!/usr/bin/env node`, Node built-ins only). This is
 *    the plugin's code; `.cjs` so that Node.js loads it as CommonJS wherever it lies (an ESM bundle costs ≈ 10 ms more
 *    per call).
 * 2. Bun (`bun build --compile`, from the npm package `@oven/bun-linux-x64-baseline` / `-aarch64`, an optional dependency of this
 *    repository) compiles that bundle into a standalone executable, `<outfile>`, which is what `install-cni` copies to
 *    `/opt/cni/bin/hybridnet`. The executable needs no runtime on the host (glibc only) and starts in ≈ 5 ms, where
 *    `node` takes 35–50 ms on the same machine: a runtime calls the plugin once per ADD, DEL and CHECK, so this is most
 *    of the plugin's share of pod start-up (issue #6 target: ADD ≤ 3× the reference bridge plugin).
 *
 * Both files are written under temporary names and renamed into place, so that a build never leaves a half-written
 * executable and never fails with ETXTBSY while a test or a runtime runs the previous one.
 *
 * Usage: `npm run build:cni` (or `tsx tools/build-cni.ts [outfile]`). Throws when Bun is not installed (`npm ci` on a
 * platform without an `@oven/bun-*` package): set `HYBRIDNET_BUN` to a `bun` executable to use another one.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const execFileP = promisify(execFile);

/**
 * The `bun` executable used to compile the plugin: `$HYBRIDNET_BUN`, else the binary of the npm package
 * `@oven/bun-<linux|darwin>-<x64-baseline|aarch64>` installed with this repository. Throws naming what was tried.
 */
export function bunExecutable(): string {
  const fromEnv = process.env.HYBRIDNET_BUN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`HYBRIDNET_BUN=${fromEnv}: no such file`);
    return fromEnv;
  }
  // x64: Bun's baseline build, which needs no AVX2 (the compiled plugin embeds the runtime that compiled it, and it
  // must start on every node's CPU; measured: no difference in start-up time)
  const arch = process.arch === 'arm64' ? 'aarch64' : process.arch === 'x64' ? 'x64-baseline' : process.arch;
  const pkg = `@oven/bun-${process.platform}-${arch}`;
  try {
    return createRequire(path.join(REPO, 'package.json')).resolve(`${pkg}/bin/bun`);
  } catch {
    throw new Error(
      `Bun is needed to compile the CNI plugin and ${pkg} is not installed: run npm ci (it is an optional dependency), or set HYBRIDNET_BUN to a bun executable`,
    );
  }
}

let unique = 0;
const tmpName = (file: string): string => `${file}.tmp-${process.pid}-${++unique}`;

/**
 * Builds the plugin into `outfile` (default `dist/cni/hybridnet`, a standalone executable, mode 0755) and
 * `<outfile>.cjs` (the bundle it was compiled from); returns `outfile`. Throws when esbuild or Bun fails.
 */
export async function buildCni(outfile = path.join(REPO, 'dist/cni/hybridnet')): Promise<string> {
  mkdirSync(path.dirname(outfile), { recursive: true });
  const bundle = `${outfile}.cjs`;
  const bundleTmp = `${tmpName(outfile)}.cjs`;
  const exeTmp = tmpName(outfile);
  try {
    await build({
      entryPoints: [path.join(REPO, 'src/cni/main.ts')],
      outfile: bundleTmp,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      minify: true,
      banner: { js: '#!/usr/bin/env node' },
      logLevel: 'warning',
    });
    chmodSync(bundleTmp, 0o755);
    await execFileP(bunExecutable(), ['build', '--compile', '--minify', bundleTmp, '--outfile', exeTmp], {
      cwd: path.dirname(outfile),
      timeout: 120_000,
    }).catch((err: Error & { stderr?: string }) => {
      throw new Error(`bun build --compile of the CNI plugin failed: ${err.stderr?.trim() || err.message}`);
    });
    chmodSync(exeTmp, 0o755);
    renameSync(bundleTmp, bundle);
    renameSync(exeTmp, outfile);
  } finally {
    rmSync(bundleTmp, { force: true });
    rmSync(exeTmp, { force: true });
  }
  return outfile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildCni(process.argv[2]);
  console.log(`${out}: ${statSync(out).size} bytes (bundle ${out}.cjs: ${statSync(`${out}.cjs`).size} bytes)`);
}
