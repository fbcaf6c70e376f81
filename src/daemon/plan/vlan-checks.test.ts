import { describe, expect, it } from 'vitest';
import { duplicateMessage, planVlanChecks } from './vlan-checks.ts';

const addrs = [
  { family: 4 as const, ip: '192.168.56.120', gateway: '192.168.56.1', subnet: 'underlay-v4' },
  { family: 6 as const, ip: 'fd00:56::120', gateway: 'fd00:56::1', subnet: 'underlay-v6' },
];

describe('VLAN ARP checks at ADD (SPEC §7.3 step 8)', () => {
  it('IPv4 VLAN: gateway ARP from the pod IP within the timeout, one duplicate probe from 0.0.0.0', () => {
    const c = planVlanChecks('VLAN', 'eth0.100', addrs, 3000, 200);
    expect(c.errors).toEqual([]);
    expect(c.gateways.filter((g) => g.cmd === 'arping')).toEqual([
      {
        cmd: 'arping',
        noReplyExit: 1,
        args: [
          '-q',
          '-C',
          '1',
          '-c',
          '3',
          '-W',
          '1',
          '-w',
          '3',
          '-S',
          '192.168.56.120',
          '-i',
          'eth0.100',
          '192.168.56.1',
        ],
        failure:
          'vlan network seems not working: gateway 192.168.56.1 of subnet underlay-v4 does not answer ARP on eth0.100 within 3s',
      },
    ]);
    expect(c.duplicates).toEqual([
      {
        ip: '192.168.56.120',
        iface: 'eth0.100',
        args: ['-r', '-0', '-c', '1', '-w', '0.2', '-i', 'eth0.100', '192.168.56.120'],
      },
    ]);
  });

  it('IPv6 VLAN: the gateway is resolved by neighbour solicitation (ndisc6), no duplicate probe', () => {
    const c = planVlanChecks('VLAN', 'eth0.100', addrs.slice(1), 3000, 200);
    expect(c.duplicates).toEqual([]);
    expect(c.gateways).toEqual([
      {
        cmd: 'ndisc6',
        args: ['-1', '-q', '-r', '3', '-w', '1000', 'fd00:56::1', 'eth0.100'],
        noReplyExit: 2,
        failure:
          'vlan network seems not working: gateway fd00:56::1 of subnet underlay-v6 does not answer neighbour solicitation on eth0.100 within 3s',
      },
    ]);
  });

  it('nothing for overlay / BGP pods, no probe when its time is 0', () => {
    for (const mode of ['VXLAN', 'BGP', 'GlobalBGP'])
      expect(planVlanChecks(mode, 'eth0', addrs, 3000, 200)).toEqual({ gateways: [], duplicates: [], errors: [] });
    expect(planVlanChecks('VLAN', 'eth0', addrs, 1500, 0).duplicates).toEqual([]);
    expect(planVlanChecks('VLAN', 'eth0', addrs.slice(0, 1), 1500, 0).gateways[0]?.args.slice(4, 9)).toEqual([
      '2',
      '-W',
      '1',
      '-w',
      '1.5',
    ]);
  });

  it('a VLAN address without gateway is refused up front', () => {
    const c = planVlanChecks('VLAN', 'eth0', [{ family: 4, ip: '10.0.0.5', subnet: 's' }], 3000, 200);
    expect(c.errors).toEqual(['vlan network seems not working: subnet s of pod ip 10.0.0.5 has no gateway']);
  });

  it('the duplicate message names the MAC that answered', () => {
    const p = { ip: '192.168.56.120', iface: 'eth0', args: [] };
    expect(duplicateMessage(p, '9e:5b:30:1b:c0:9d\n')).toBe(
      'pod ip 192.168.56.120 duplicated: answered by 9e:5b:30:1b:c0:9d on eth0',
    );
  });
});
