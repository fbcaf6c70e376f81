import { describe, expect, it } from 'vitest';
import { isOurNetns, planTopology, podNetnsName, TopologyError, UNDERLAY_ZONE, ZONE_LABEL } from './topology.ts';

describe('planTopology', () => {
  it('names every namespace with the prefix and keeps veth names within 15 bytes', () => {
    const t = planTopology({ prefix: 'hx-', nodes: 12, dir: '/tmp/x' });
    expect([t.cp.netns, t.sw.netns, t.gw.netns]).toEqual(['hx-cp', 'hx-sw', 'hx-gw']);
    expect(t.nodes.map((n) => n.netns)).toContain('hx-node-12');
    for (const n of t.nodes) expect(Buffer.byteLength(n.port)).toBeLessThanOrEqual(15);
    expect(new Set(t.nodes.map((n) => n.ipv4)).size).toBe(12);
    expect(t.nodes[0]?.dir).toBe('/tmp/x/nodes/node-1');
  });

  it('puts all nodes but the last on the underlay segment by default (2 of 3)', () => {
    const t = planTopology({});
    expect(t.nodes.map((n) => n.labels[ZONE_LABEL] === UNDERLAY_ZONE)).toEqual([true, true, false]);
    expect(t.prefix).toBe('hns-');
    expect(t.dir).toBe('/var/lib/hybridnet-sandbox');
  });

  it('refuses prefixes that could match foreign namespaces or break names, and silly node counts', () => {
    expect(() => planTopology({ prefix: '' })).toThrow(TopologyError);
    expect(() => planTopology({ prefix: 'a/b' })).toThrow(/--prefix/);
    expect(() => planTopology({ prefix: 'waytoolongprefix' })).toThrow(/1–8 characters/);
    expect(() => planTopology({ nodes: 0 })).toThrow(/--nodes 0/);
  });

  it('pod namespaces carry the prefix so down finds them', () => {
    const n = podNetnsName('hns-', 'ab'.repeat(32));
    expect(n).toBe('hns-pod-abababababababab');
    expect(isOurNetns('hns-', n)).toBe(true);
    expect(isOurNetns('hns-', 'cni-1234')).toBe(false);
  });
});
