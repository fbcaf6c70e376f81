/**
 * tools/rbac/scan.ts on a component written for the test: a new KubeClient call is attributed to its verb and resource
 * through path helpers, parameters and informer options, and a raw path string is reported as unresolved (so the
 * RBAC test fails on it instead of missing it). Type-checks a program: tens of seconds, hence not a unit test.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scanComponent } from '../../tools/rbac/scan.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'); // test/helm → repo

describe('scanComponent (TypeScript checker over a component written for the test)', () => {
  it('attributes new calls to verbs and resources through helpers, parameters and options, and flags raw paths', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hn-scan-'));
    const rel = (p: string): string => path.relative(dir, path.join(REPO, p)).split(path.sep).join('/');
    const entry = path.join(dir, 'component.ts');
    writeFileSync(
      entry,
      `import { KubeClient, NodesPath, PodsPath, resourcePath } from '${rel('src/kube/client.ts')}';
import { Informer } from '${rel('src/kube/informer.ts')}';
import type { Logger } from 'pino';
import { NetworkResource, SubnetResource } from '${rel('src/api/index.ts')}';

const subnetPath = (name?: string, sub?: string): string => resourcePath(SubnetResource, undefined, name, sub);

async function touch(client: KubeClient, path: string): Promise<void> {
  await client.mergePatch(path, { metadata: {} });
}

export async function run(client: KubeClient, logger: Logger): Promise<void> {
  await client.mergePatch(resourcePath(NodesPath, undefined, 'n1'), { metadata: { labels: {} } });
  await client.get(subnetPath('s1'));
  await client.mergePatch(subnetPath('s1', 'status'), { status: {} });
  const pod = resourcePath(PodsPath, 'ns', 'p');
  await client.delete(pod);
  await touch(client, resourcePath(NetworkResource, undefined, 'n'));
  new Informer(client, { path: resourcePath(NetworkResource), logger });
  await client.delete('/api/v1/namespaces/default/secrets/x');
}
`,
    );
    const scan = scanComponent(entry, REPO);
    const perms = scan.permissions.filter((p) => !['list', 'watch'].includes(p.verb) || p.resource === 'networks');
    expect(perms.map((p) => `${p.verb} ${p.group}/${p.resource}`).sort()).toEqual(
      [
        'patch /nodes',
        'get networking.alibaba.com/subnets',
        'patch networking.alibaba.com/subnets/status',
        'delete /pods',
        'patch networking.alibaba.com/networks',
        'list networking.alibaba.com/networks',
        'watch networking.alibaba.com/networks',
      ].sort(),
    );
    expect(scan.unresolved).toHaveLength(1);
    expect(scan.unresolved[0]).toMatch(/component\.ts:\d+: .*secrets.*cannot tell which resource/);
  }, 180_000);
});
