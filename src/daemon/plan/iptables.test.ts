import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IPSet } from '../constants.ts';
import { setName, withLocalPodIPs } from './iptables.ts';
import type { IPSetSpec } from './types.ts';

const sets = (v4: string[], v6: string[]): IPSetSpec[] => [
  { name: setName(IPSet.OverlayNet, 4), family: 4, type: 'hash:net', members: ['10.0.0.0/16'] },
  { name: setName(IPSet.LocalPodIP, 4), family: 4, type: 'hash:ip', members: v4 },
  { name: setName(IPSet.LocalPodIP, 6), family: 6, type: 'hash:ip', members: v6 },
];

describe('withLocalPodIPs', () => {
  it('adds each address to the local-pod set of its family, sorted and once', () => {
    const out = withLocalPodIPs(sets(['10.1.0.9'], []), ['10.1.0.5', 'fd00::5', '10.1.0.9']);
    expect(out[1]?.members).toEqual(['10.1.0.5', '10.1.0.9']);
    expect(out[2]?.members).toEqual(['fd00::5']);
    expect(out[0]).toEqual(sets([], [])[0]);
  });

  it('never drops a planned member, never touches other sets or the input (property)', () => {
    const v4 = fc.ipV4();
    const v6 = fc.ipV6();
    fc.assert(
      fc.property(fc.array(v4), fc.array(v6), fc.array(fc.oneof(v4, v6)), (p4, p6, pods) => {
        const input = sets([...new Set(p4)].sort(), [...new Set(p6)].sort());
        const copy = structuredClone(input);
        const out = withLocalPodIPs(input, pods);
        expect(input).toEqual(copy);
        expect(out[0]).toBe(input[0]);
        for (const [i, fam] of [[1, 4] as const, [2, 6] as const]) {
          const members = out[i]?.members ?? [];
          expect(new Set(members).size).toBe(members.length);
          expect([...members].sort()).toEqual(members);
          for (const m of input[i]?.members ?? []) expect(members).toContain(m);
          for (const ip of pods) if ((ip.includes(':') ? 6 : 4) === fam) expect(members).toContain(ip);
          for (const m of members) expect((m.includes(':') ? 6 : 4) === fam).toBe(true);
        }
      }),
    );
  });
});
