import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildNetworkingCustomResourceDefinitions } from '../src/api/crd.ts';
import { CRD_DIRECTORY, renderCrdManifests } from './gen-crds.ts';

const STALE = 'deploy/crds is stale: run `npm run gen:crds` and commit the result';

describe('deploy/crds is generated from src/api', () => {
  const manifests = renderCrdManifests();

  it('holds exactly the generated networking CRD files', () => {
    const onDisk = readdirSync(CRD_DIRECTORY).filter((f) => f.startsWith('networking.alibaba.com_'));
    expect(onDisk.sort(), STALE).toEqual(manifests.map((m) => m.fileName).sort());
  });

  it.each(manifests.map((m) => [m.fileName, m.content] as const))('%s is up to date', (fileName, content) => {
    expect(readFileSync(join(CRD_DIRECTORY, fileName), 'utf8'), STALE).toBe(content);
  });

  it('YAML parses back into the built objects', () => {
    expect(manifests.map((m) => parse(m.content) as unknown)).toEqual(buildNetworkingCustomResourceDefinitions());
  });
});
