import { describe, expect, it } from 'vitest';
import { ANNOTATION_NETWORK_TYPE } from '../api/index.ts';
import { canonicalAddress, demoObjects, formatTable } from './demo.ts';
import { planTopology } from './topology.ts';

describe('sandbox demo (pure parts)', () => {
  it('normalises the peer addresses socat reports', () => {
    expect(canonicalAddress('[0000:0000:0000:0000:0000:ffff:c0a8:380b]')).toBe('192.168.56.11');
    expect(canonicalAddress('[fd00:0200:0000:0000:0000:0000:0000:0001]')).toBe('fd00:200::1');
    expect(canonicalAddress('10.0.0.1')).toBe('10.0.0.1');
  });

  it('creates an underlay subnet whose gateway is the gw namespace and a StatefulSet of 3 in it', () => {
    const t = planTopology({});
    const o = demoObjects(t);
    const underlay = o.subnets.find((s) => (s as { metadata: { name: string } }).metadata.name === 'underlay-v4') as {
      spec: { range: { gateway: string; cidr: string } };
    };
    expect(underlay.spec.range).toMatchObject({ gateway: t.gw.underlayGatewayV4, cidr: t.gw.underlayCidrV4 });
    const sts = o.workloads.find((w) => (w as { kind: string }).kind === 'StatefulSet') as {
      spec: { replicas: number; template: { metadata: { annotations: Record<string, string> } } };
    };
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.template.metadata.annotations[ANNOTATION_NETWORK_TYPE]).toBe('Underlay');
  });

  it('formats the table with aligned columns', () => {
    const text = formatTable([
      { pod: 'a', node: 'node-1', network: 'overlay', addresses: ['10.0.0.1'], reach: 'pods 1/1', ok: true },
      { pod: 'bbbb', node: 'node-2', network: 'underlay', addresses: ['1.2.3.4', 'fd::1'], reach: 'x', ok: true },
    ]);
    expect(text.split('\n')).toEqual([
      'POD   NODE    NETWORK   ADDRESSES      REACHABILITY',
      'a     node-1  overlay   10.0.0.1       pods 1/1',
      'bbbb  node-2  underlay  1.2.3.4,fd::1  x',
    ]);
  });
});
