/** `hybridnet sandbox demo` (work in progress). */
import type { Progress } from './progress.ts';
import { up } from './sandbox.ts';
import type { TopologyOptions } from './topology.ts';

/** Runs the demo; resolves true only if every check passed. */
export async function runDemo(opts: TopologyOptions, progress: Progress): Promise<boolean> {
  await up(opts, progress);
  return false;
}
