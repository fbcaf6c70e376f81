import { describe, expect, it } from 'vitest';
import { planGratuitousArp, planUnsolicitedNa } from './pod.ts';

describe('planGratuitousArp (SPEC §7.3 step 8)', () => {
  const addresses = [
    { family: 4 as const, ip: '192.168.100.12', prefixLength: 24 },
    { family: 6 as const, ip: 'fd00:100::12', prefixLength: 64 },
  ];

  it('announces each IPv4 address of a VLAN pod on the forward interface with a request and a reply', () => {
    expect(planGratuitousArp('VLAN', 'eth0.100', addresses)).toEqual([
      ['-q', '-U', '-S', '192.168.100.12', '-i', 'eth0.100', '-c', '1', '-w', '0', '192.168.100.12'],
      ['-q', '-U', '-P', '-S', '192.168.100.12', '-i', 'eth0.100', '-c', '1', '-w', '0', '192.168.100.12'],
    ]);
  });

  it('sends nothing for overlay and BGP pods', () => {
    for (const mode of ['VXLAN', 'BGP', 'GlobalBGP']) expect(planGratuitousArp(mode, 'eth0', addresses)).toEqual([]);
  });

  it('IPv6 of a VLAN pod: one unsolicited NA (override, target LLA option) to ff02::1 with na6', () => {
    expect(planUnsolicitedNa('VLAN', 'eth0.100', addresses)).toEqual([
      ['-i', 'eth0.100', '-d', 'ff02::1', '-t', 'fd00:100::12', '-o', '-e'],
    ]);
    expect(planUnsolicitedNa('VXLAN', 'eth0', addresses)).toEqual([]);
  });
});
