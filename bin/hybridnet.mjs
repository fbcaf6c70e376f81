#!/usr/bin/env node
// Entry point of the `hybridnet` command. Runs the bundled build (dist/hybridnet.mjs) when it
// exists, otherwise the TypeScript sources through tsx (development checkouts).
import { existsSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'hybridnet.mjs');
if (existsSync(bundle)) {
  const { main } = await import(pathToFileURL(bundle).href);
  await main(process.argv);
} else {
  const { tsImport } = await import('tsx/esm/api');
  const { main } = await tsImport(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href, import.meta.url);
  await main(process.argv);
}
