import { describe, expect, it } from 'vitest';
import { diffAddresses, diffFdb } from '../apply/diff.ts';
import {
  fdbPruneAllowed,
  floodMacTc,
  isContainerInterface,
  nodeLocalAddresses,
  planHostSysctls,
  type HostSysctlInput,
} from './host.ts';
import type { LinkFacts } from './types.ts';

const links: LinkFacts[] = [
  { name: 'lo', mtu: 65536, mac: '', addresses: [{ family: 4, ip: '127.0.0.1', prefixLength: 8, global: false }] },
  {
    name: 'eth0',
    mtu: 1500,
    mac: '0a:00:00:00:00:01',
    addresses: [
      { family: 4, ip: '192.168.56.11', prefixLength: 24, global: true },
      { family: 4, ip: '10.9.0.5', prefixLength: 16, global: true },
      { family: 6, ip: 'fd00:56::11', prefixLength: 64, global: true },
      { family: 6, ip: 'fe80::1', prefixLength: 64, global: false },
    ],
  },
  {
    name: 'eth1',
    mtu: 1500,
    mac: '0a:00:00:00:00:02',
    addresses: [{ family: 4, ip: '172.16.0.7', prefixLength: 24, global: true }],
  },
  { name: 'eth0.vxlan4', mtu: 1450, mac: '0a:00:00:00:00:01', addresses: [] },
  {
    name: 'hybr0123456789a',
    mtu: 1500,
    mac: 'ee:ee:ee:ee:ee:ee',
    addresses: [{ family: 4, ip: '172.16.0.8', prefixLength: 32, global: true }],
  },
  { name: 'docker0', mtu: 1500, mac: '02:00:00:00:00:09', addresses: [] },
];

const base: HostSysctlInput = {
  links,
  ipv6Disabled: false,
  neighGcThresh: [1024, 2048, 4096],
  ipv6RouteMaxSize: 524288,
  ipv6RouteGcThresh: 65536,
};

describe('host sysctls (SPEC §7.1, §7.3 step 8, §7.12)', () => {
  it('container-ish names', () => {
    for (const n of ['hybr0123', 'veth1', 'docker0', 'kube-ipvs0', 'h_x', 'x_h'])
      expect(isContainerInterface(n)).toBe(true);
    for (const n of ['eth0', 'eth0.vxlan4', 'bond0.100', 'lo', 'ens3']) expect(isContainerInterface(n)).toBe(false);
  });

  it('gc thresholds of both families, IPv6 route cache, arp_filter, rp_filter on every non-container iface', () => {
    const s = planHostSysctls(base);
    for (const f of ['ipv4', 'ipv6']) {
      expect(s[`/proc/sys/net/${f}/neigh/default/gc_thresh1`]).toBe('1024');
      expect(s[`/proc/sys/net/${f}/neigh/default/gc_thresh2`]).toBe('2048');
      expect(s[`/proc/sys/net/${f}/neigh/default/gc_thresh3`]).toBe('4096');
    }
    expect(s['/proc/sys/net/ipv6/route/max_size']).toBe('524288');
    expect(s['/proc/sys/net/ipv6/route/gc_thresh']).toBe('65536');
    expect(s['/proc/sys/net/ipv4/conf/all/arp_filter']).toBe('0');
    const rp = Object.keys(s)
      .filter((k) => k.endsWith('/rp_filter'))
      .map((k) => k.split('/')[6]);
    expect(rp.sort()).toEqual(['all', 'default', 'eth0', 'eth0.vxlan4', 'eth1', 'lo']);
    expect(s['/proc/sys/net/ipv6/conf/eth0/accept_ra']).toBeUndefined();
  });

  it('accept_ra=2 on the RA default-route iface is written before IPv6 forwarding', () => {
    const keys = Object.keys(planHostSysctls({ ...base, raDefaultRouteDev: 'eth1' }));
    const ra = keys.indexOf('/proc/sys/net/ipv6/conf/eth1/accept_ra');
    expect(ra).toBeGreaterThanOrEqual(0);
    expect(ra).toBeLessThan(keys.indexOf('/proc/sys/net/ipv6/conf/all/forwarding'));
  });

  it('0 leaves a threshold alone; IPv6 disabled ⇒ no IPv6 key at all', () => {
    const s = planHostSysctls({
      ...base,
      neighGcThresh: [0, 0, 0],
      ipv6RouteMaxSize: 0,
      ipv6RouteGcThresh: 0,
    });
    expect(Object.keys(s).filter((k) => k.includes('gc_thresh') || k.includes('max_size'))).toEqual([]);
    const off = planHostSysctls({ ...base, ipv6Disabled: true, raDefaultRouteDev: 'eth0' });
    expect(Object.keys(off).filter((k) => k.includes('/ipv6/'))).toEqual([]);
    expect(off['/proc/sys/net/ipv4/neigh/default/gc_thresh3']).toBe('4096');
  });
});

describe('node-local VXLAN addresses (SPEC §7.8 steps 2 and 5)', () => {
  it('VTEP IP, Node status.addresses and extra CIDRs; never container ifaces, link-local or the vxlan dev', () => {
    const got = nodeLocalAddresses(
      links,
      'eth0.vxlan4',
      '192.168.56.11',
      ['fd00:56:0::11', 'node1'],
      ['172.16.0.0/24'],
    );
    expect(got).toEqual([
      { ip: '172.16.0.7', prefixLength: 24, family: 4 },
      { ip: '192.168.56.11', prefixLength: 24, family: 4 },
      { ip: 'fd00:56::11', prefixLength: 64, family: 6 },
    ]);
    // without status.addresses / extra CIDRs only the VTEP IP: 10.9.0.5 on the same iface is not node-local
    expect(nodeLocalAddresses(links, 'eth0.vxlan4', '192.168.56.11', [], []).map((a) => a.ip)).toEqual([
      '192.168.56.11',
    ]);
  });

  it('diffAddresses adds with noprefixroute, removes others, only on owned devices', () => {
    const lines = diffAddresses(
      [
        { dev: 'eth0.vxlan4', cidr: '192.168.56.11/24' },
        { dev: 'eth0.vxlan4', cidr: 'fd00:56::11/64' },
      ],
      [
        { dev: 'eth0.vxlan4', ip: '192.168.56.11', prefixLength: 24 },
        { dev: 'eth0.vxlan4', ip: '10.9.0.5', prefixLength: 16 },
        { dev: 'eth0', ip: '10.9.0.5', prefixLength: 16 },
      ],
      ['eth0.vxlan4'],
    );
    expect(lines).toEqual([
      'addr del 10.9.0.5/16 dev eth0.vxlan4',
      'addr replace fd00:56::11/64 dev eth0.vxlan4 noprefixroute',
    ]);
  });
});

describe('FDB prune guard (SPEC §7.8 step 6)', () => {
  it('prunes only when #NodeInfo == len(overlay nodeList)', () => {
    expect(fdbPruneAllowed(3, ['a', 'b', 'c'])).toBe(true);
    expect(fdbPruneAllowed(2, ['a', 'b', 'c'])).toBe(false);
    expect(fdbPruneAllowed(3, ['a', 'b'])).toBe(false);
    expect(fdbPruneAllowed(0, undefined)).toBe(true);
  });

  it('without prune a stale entry stays and a missing one is still added', () => {
    const desired = [{ mac: '0a:00:00:00:00:03', dev: 'vx', dst: '192.168.56.13' }];
    const actual = [{ mac: '0a:00:00:00:00:02', dev: 'vx', dst: '192.168.56.12' }];
    expect(diffFdb(desired, actual, ['vx'], false)).toEqual([
      'fdb append 0a:00:00:00:00:03 dev vx dst 192.168.56.13 self permanent',
    ]);
    expect(diffFdb(desired, actual, ['vx'], true)).toContain('fdb del 0a:00:00:00:00:02 dev vx dst 192.168.56.12 self');
  });
});

describe('flood MAC tc filter (SPEC §7.8 step 4)', () => {
  it('root prio qdisc, then the u32 + pedit filter of the SPEC', () => {
    const [q, f] = floodMacTc('eth0.vxlan4');
    expect(q?.join(' ')).toBe('qdisc replace dev eth0.vxlan4 root handle 1: prio');
    expect(f?.join(' ')).toBe(
      'filter replace dev eth0.vxlan4 parent 1: handle 800::800 prio 1 protocol all u32 match u8 0x01 0x01 at -14 action pedit ex munge eth dst set ff:ff:ff:ff:ff:f1',
    );
  });
});
