import { describe, expect, it } from 'vitest';
import { planGratuitousArp, planPodProxyNeighbours, planUnsolicitedNa } from './pod.ts';

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

describe('planPodProxyNeighbours (SPEC §7.3 step 8)', () => {
  it('gives one proxy entry per address and device, with the proxy sysctls of each device', () => {
    const p = planPodProxyNeighbours(
      [
        { family: 4, ip: '10.210.0.5', prefixLength: 16 },
        { family: 6, ip: 'fd00:210::5', prefixLength: 64 },
      ],
      ['eth0.vxlan4', 'eth0.vxlan4'],
    );
    expect(p.lines).toEqual([
      'neigh replace proxy 10.210.0.5 dev eth0.vxlan4',
      'neigh replace proxy fd00:210::5 dev eth0.vxlan4',
    ]);
    expect(p.sysctls).toEqual({
      '/proc/sys/net/ipv4/neigh/eth0.vxlan4/proxy_delay': '0',
      '/proc/sys/net/ipv6/conf/eth0.vxlan4/proxy_ndp': '1',
      '/proc/sys/net/ipv6/neigh/eth0.vxlan4/proxy_delay': '0',
    });
  });

  it('gives nothing without devices', () => {
    expect(planPodProxyNeighbours([{ family: 4, ip: '10.0.0.1', prefixLength: 24 }], [])).toEqual({
      lines: [],
      sysctls: {},
    });
  });
});
