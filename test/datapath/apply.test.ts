/**
 * The applier against a real kernel (root + netns (real)): a synthetic cluster (50 remote nodes, 100 remote pods,
 * 10 subnets) programmed into a fresh namespace by bench/datapath; applying the same plan a second time must change
 * nothing, and a node leaving removes exactly its FDB entries and neighbours.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './harness.ts';

describe('node applier (root + netns (real))', () => {
  it('applying the same plan twice changes nothing; a node leaving removes its 2 FDB entries and 3 neighbours', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'bench/datapath/index.ts'), '50', '10'], {
      env: { ...process.env, HN_BENCH_JSON: '1' },
      encoding: 'utf8',
      cwd: REPO,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { rows: { step: string; changes: number; fdb: number; neighbours: number }[] };
    const [first, second, left] = out.rows;
    expect(first?.changes).toBeGreaterThan(100);
    expect(second?.changes).toBe(0);
    expect(left).toMatchObject({ changes: 5, fdb: 2, neighbours: 3 });
  });
});
