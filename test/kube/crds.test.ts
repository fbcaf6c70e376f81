/**
 * The hybridnet CRDs (deploy/crds) served by a real kube-apiserver + etcd: schema validation,
 * watch, optimistic concurrency and kubectl printer columns.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi, Watch } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { eventually, refusalOf as refusal, useKube } from '../fixture/kube.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Crd {
  metadata: { name: string };
  spec: { versions: { schema: unknown; additionalPrinterColumns?: unknown[] }[] };
}

const group = 'networking.alibaba.com';
const version = 'v1';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion?: string; [k: string]: unknown };
  spec: Record<string, unknown>;
}

function network(name: string): Obj {
  return {
    apiVersion: `${group}/${version}`,
    kind: 'Network',
    metadata: { name },
    spec: { netID: 4, type: 'Overlay', mode: 'VXLAN' },
  };
}

function subnet(name: string, net: string, range: Record<string, unknown>): Obj {
  return {
    apiVersion: `${group}/${version}`,
    kind: 'Subnet',
    metadata: { name },
    spec: { network: net, netID: null, range },
  };
}

describe('kube-apiserver (real): hybridnet CRDs', () => {
  const kube = useKube();
  const objects = (): CustomObjectsApi => kube().kubeConfig.makeApiClient(CustomObjectsApi);

  it('serves every CRD of deploy/crds with exactly the schema and columns of the file', async () => {
    const dir = path.join(repo, 'deploy/crds');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const want = parse(readFileSync(path.join(dir, f), 'utf8')) as Crd;
      // kubectl prints the stored object as JSON: no client-side model mapping involved.
      const got = JSON.parse(await kube().kubectl(['get', 'crd', want.metadata.name, '-o', 'json'])) as Crd;
      expect(got.spec.versions.map((v) => v.schema)).toEqual(want.spec.versions.map((v) => v.schema));
      expect(got.spec.versions.map((v) => v.additionalPrinterColumns ?? [])).toEqual(
        want.spec.versions.map((v) => v.additionalPrinterColumns ?? []),
      );
    }
  });

  it('stores a valid Network and Subnet created through client-node', async () => {
    const api = objects();
    await api.createClusterCustomObject({ group, version, plural: 'networks', body: network('net-a') });
    await api.createClusterCustomObject({
      group,
      version,
      plural: 'subnets',
      body: subnet('subnet-a', 'net-a', { version: '4', cidr: '10.14.100.0/24', gateway: '10.14.100.1' }),
    });
    const got = (await api.getClusterCustomObject({ group, version, plural: 'subnets', name: 'subnet-a' })) as Obj;
    expect(got.spec).toMatchObject({ network: 'net-a', range: { version: '4', cidr: '10.14.100.0/24' } });
  });

  it('refuses a Subnet that breaks the CRD schema, with the API server message', async () => {
    const api = objects();
    const badVersion = await refusal(
      api.createClusterCustomObject({
        group,
        version,
        plural: 'subnets',
        body: subnet('bad-version', 'net-a', { version: '5', cidr: '10.1.0.0/24' }),
      }),
    );
    expect(badVersion.code).toBe(422);
    expect(badVersion.message).toMatch(/spec\.range\.version: Unsupported value: "5"/);

    const noNetwork = subnet('no-network', 'x', { version: '4', cidr: '10.2.0.0/24' });
    delete noNetwork.spec.network;
    const missing = await refusal(
      api.createClusterCustomObject({ group, version, plural: 'subnets', body: noNetwork }),
    );
    expect(missing.code).toBe(422);
    expect(missing.message).toMatch(/spec\.network: Required value/);
  });

  it('watch sees create, update and delete of a Subnet', async () => {
    const api = objects();
    const seen: string[] = [];
    const watch = new Watch(kube().kubeConfig);
    const ctl = await watch.watch(
      `/apis/${group}/${version}/subnets`,
      {},
      (phase, obj: Obj) => {
        if (obj.metadata.name === 'subnet-w') seen.push(phase);
      },
      () => undefined,
    );
    try {
      await api.createClusterCustomObject({
        group,
        version,
        plural: 'subnets',
        body: subnet('subnet-w', 'net-a', { version: '6', cidr: 'fd00:100::/64' }),
      });
      const cur = (await api.getClusterCustomObject({ group, version, plural: 'subnets', name: 'subnet-w' })) as Obj;
      (cur.spec.range as Record<string, unknown>).start = 'fd00:100::10';
      await api.replaceClusterCustomObject({ group, version, plural: 'subnets', name: 'subnet-w', body: cur });
      await api.deleteClusterCustomObject({ group, version, plural: 'subnets', name: 'subnet-w' });
      await eventually('ADDED, MODIFIED, DELETED events', () => Promise.resolve(seen.includes('DELETED')), 15_000);
      expect(seen).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    } finally {
      ctl.abort();
    }
  });

  it('refuses an update with a stale resourceVersion (409 Conflict)', async () => {
    const api = objects();
    await api.createClusterCustomObject({ group, version, plural: 'networks', body: network('net-rv') });
    const stale = (await api.getClusterCustomObject({ group, version, plural: 'networks', name: 'net-rv' })) as Obj;
    const fresh = structuredClone(stale);
    fresh.spec.netID = 5;
    await api.replaceClusterCustomObject({ group, version, plural: 'networks', name: 'net-rv', body: fresh });
    stale.spec.netID = 6;
    const conflict = await refusal(
      api.replaceClusterCustomObject({ group, version, plural: 'networks', name: 'net-rv', body: stale }),
    );
    expect(conflict.code).toBe(409);
    expect(conflict.message).toMatch(/the object has been modified/);
  });

  it('kubectl get subnets shows the printer columns', async () => {
    const out = await kube().kubectl(['get', 'subnets']);
    const [header, ...rows] = out.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual([
      'NAME',
      'VERSION',
      'CIDR',
      'START',
      'END',
      'GATEWAY',
      'TOTAL',
      'USED',
      'AVAILABLE',
      'NETID',
      'NETWORK',
    ]);
    const row = rows.find((r) => r.startsWith('subnet-a '));
    expect(row?.split(/\s+/)).toEqual(expect.arrayContaining(['4', '10.14.100.0/24', '10.14.100.1', 'net-a']));
  });
});
