import { describe, expect, it } from 'vitest';
import type { NetworkSpec } from '../../api/index.ts';
import { network, node, storeOf, subnet, ipInstance } from '../testdata.ts';
import { request } from './request.testkit.ts';
import { validateNetwork } from './network.ts';

const store = storeOf({
  networks: [
    network('overlay', { type: 'Overlay', netID: 4 }),
    network('u1', { type: 'Underlay', mode: 'VLAN', netID: 100, nodeSelector: { rack: 'a' } }),
    network('bgp1', {
      type: 'Underlay',
      mode: 'BGP',
      netID: 65001,
      nodeSelector: { rack: 'c' },
      config: { bgpPeers: [{ asn: 65000, address: '192.168.0.1' }] },
    }),
    network('global', { type: 'GlobalBGP' }),
    network('u-status', { type: 'Underlay', nodeSelector: { zone: 'z' } }, { nodeList: ['n4'] }),
  ],
  subnets: [subnet('s1', 'u1', { version: '4', cidr: '10.0.0.0/24', gateway: '10.0.0.1' })],
  nodes: [node('n1', { rack: 'a' }), node('n2', { rack: 'b' }), node('n3', { rack: 'c' }), node('n4', { rack: 'd' })],
  ipinstances: [ipInstance('ns', '10.9.0.5', { network: 'global', subnet: 'g1', podName: 'p', nodeName: 'n3' })],
});
const emptyStore = storeOf({ nodes: [node('n1', { rack: 'a' })] });

function create(name: string, spec: NetworkSpec, view = emptyStore) {
  return validateNetwork(request('Network', 'CREATE', network(name, spec)), view);
}

describe('validateNetwork CREATE (SPEC §5.2, D10)', () => {
  it.each<[string, NetworkSpec]>([
    ['VLAN with id 4094', { type: 'Underlay', mode: 'VLAN', netID: 4094, nodeSelector: { rack: 'a' } }],
    ['VLAN with id 0 (untagged)', { type: 'Underlay', netID: 0, nodeSelector: { rack: 'a' } }],
    ['VLAN without id (subnets carry it)', { nodeSelector: { rack: 'a' }, netID: null }],
    [
      'BGP with ASN and a peer',
      {
        type: 'Underlay',
        mode: 'BGP',
        netID: 65001,
        nodeSelector: { r: 'x' },
        config: { bgpPeers: [{ asn: 65000, address: 'fd00::1' }] },
      },
    ],
    ['Overlay with VNI', { type: 'Overlay', netID: 16777215 }],
    ['GlobalBGP', { type: 'GlobalBGP', mode: 'GlobalBGP', netID: null }],
  ])('accepts %s', (_, spec) => {
    expect(create('x', spec)).toEqual({ allowed: true });
  });

  it.each<[string, NetworkSpec, string, string]>([
    [
      'VLAN id 4095',
      { type: 'Underlay', mode: 'VLAN', netID: 4095, nodeSelector: { rack: 'a' } },
      'network.net-id.range',
      'spec.netID 4095 is not a valid VLAN id: must be 0–4094',
    ],
    [
      'underlay without selector',
      { type: 'Underlay', netID: 1 },
      'network.node-selector.required',
      'spec.nodeSelector is empty: must have node selector for underlay network',
    ],
    [
      'overlay with selector',
      { type: 'Overlay', netID: 1, nodeSelector: { a: 'b' } },
      'network.node-selector.forbidden',
      'spec.nodeSelector {"a":"b"} must be empty for an Overlay network (it spans all nodes)',
    ],
    [
      'overlay without VNI',
      { type: 'Overlay', netID: null },
      'network.net-id.required',
      'spec.netID is null: must assign net ID for overlay network (the VXLAN VNI, 1–16777215)',
    ],
    [
      'overlay VNI 0',
      { type: 'Overlay', netID: 0 },
      'network.net-id.range',
      'spec.netID 0 is not a valid VXLAN VNI: must be 1–16777215',
    ],
    [
      'overlay VNI 2^24',
      { type: 'Overlay', netID: 16777216 },
      'network.net-id.range',
      'spec.netID 16777216 is not a valid VXLAN VNI: must be 1–16777215',
    ],
    [
      'GlobalBGP with netID',
      { type: 'GlobalBGP', netID: 7 },
      'network.net-id.forbidden',
      'spec.netID 7 must be null for a GlobalBGP network',
    ],
    [
      'GlobalBGP with selector',
      { type: 'GlobalBGP', nodeSelector: { a: 'b' } },
      'network.node-selector.forbidden',
      'spec.nodeSelector {"a":"b"} must be empty for a GlobalBGP network (it spans all nodes)',
    ],
    [
      'BGP mode on Overlay',
      { type: 'Overlay', mode: 'BGP', netID: 1 },
      'network.mode.type',
      'spec.mode BGP is only valid for Underlay networks, not for type Overlay',
    ],
    [
      'VXLAN mode on Underlay',
      { type: 'Underlay', mode: 'VXLAN', nodeSelector: { a: 'b' } },
      'network.mode.type',
      'spec.mode VXLAN is only valid for Overlay networks, not for type Underlay',
    ],
    [
      'GlobalBGP mode on Underlay',
      { mode: 'GlobalBGP', nodeSelector: { a: 'b' } },
      'network.mode.type',
      'spec.mode GlobalBGP is only valid for GlobalBGP networks, not for type Underlay',
    ],
    [
      'BGP without ASN',
      {
        type: 'Underlay',
        mode: 'BGP',
        nodeSelector: { a: 'b' },
        config: { bgpPeers: [{ asn: 1, address: '1.1.1.1' }] },
      },
      'network.net-id.required',
      'spec.netID is null: a BGP network must set its local AS number (1–2147483647) in netID',
    ],
    [
      'BGP with ASN 0',
      {
        type: 'Underlay',
        mode: 'BGP',
        netID: 0,
        nodeSelector: { a: 'b' },
        config: { bgpPeers: [{ asn: 1, address: '1.1.1.1' }] },
      },
      'network.net-id.range',
      'spec.netID 0 is not a valid AS number: must be 1–2147483647',
    ],
    [
      'BGP without peers',
      { type: 'Underlay', mode: 'BGP', netID: 65001, nodeSelector: { a: 'b' } },
      'network.bgp.peers',
      'spec.config.bgpPeers is empty: a BGP network needs at least one BGP peer (router)',
    ],
  ])('refuses %s', (_, spec, rule, reason) => {
    expect(create('x', spec)).toEqual({ allowed: false, rule, reasons: [reason] });
  });

  it('names every bad BGP peer field', () => {
    const spec: NetworkSpec = {
      type: 'Underlay',
      mode: 'BGP',
      netID: 65001,
      nodeSelector: { a: 'b' },
      config: {
        bgpPeers: [
          { asn: 65000, address: '10.0.0.300' },
          { asn: 65000, address: 'router-b' },
        ],
      },
    };
    expect(create('x', spec)).toEqual({
      allowed: false,
      rule: 'network.bgp.peers',
      reasons: [
        'spec.config.bgpPeers[0].address "10.0.0.300" is not a valid IP address',
        'spec.config.bgpPeers[1].address "router-b" is not a valid IP address',
      ],
    });
    // asn 0 is already refused by the CRD schema (minimum 1): errored 400 if it ever reaches the webhook
    const zero = { ...spec, config: { bgpPeers: [{ asn: 0, address: '10.0.0.1' }] } };
    expect(create('x', zero)).toMatchObject({ allowed: false, errored: true, code: 400 });
  });

  it('allows at most one Overlay and one GlobalBGP network', () => {
    expect(create('ov2', { type: 'Overlay', netID: 5 }, store)).toEqual({
      allowed: false,
      rule: 'network.overlay.unique',
      reasons: ['spec.type Overlay: overlay network overlay already exists; must have one overlay network at most'],
    });
    expect(create('g2', { type: 'GlobalBGP' }, store)).toEqual({
      allowed: false,
      rule: 'network.globalbgp.unique',
      reasons: [
        'spec.type GlobalBGP: global bgp network global already exists; must have one global bgp network at most',
      ],
    });
  });

  it('refuses an underlay network whose selector picks a node of another underlay network', () => {
    expect(create('u2', { nodeSelector: { rack: 'a' } }, store)).toEqual({
      allowed: false,
      rule: 'network.underlay.overlap',
      reasons: [
        'spec.nodeSelector {"rack":"a"} selects node n1, which is already in underlay network u1: underlay network cannot be overlapped',
      ],
    });
    // membership from status.nodeList (written by the manager) counts too
    expect(create('u3', { nodeSelector: { rack: 'd' } }, store)).toMatchObject({ rule: 'network.underlay.overlap' });
    expect(create('u4', { nodeSelector: { rack: 'b' } }, store)).toEqual({ allowed: true });
  });
});

describe('validateNetwork UPDATE (SPEC §5.2)', () => {
  const u1 = network('u1', { type: 'Underlay', mode: 'VLAN', netID: 100, nodeSelector: { rack: 'a' } });
  const update = (spec: NetworkSpec, old = u1) =>
    validateNetwork(request('Network', 'UPDATE', network('u1', spec), old), store);

  it('allows a selector change and metadata-only updates', () => {
    expect(update({ ...u1.spec, nodeSelector: { rack: 'b' } })).toEqual({ allowed: true });
    expect(update(u1.spec)).toEqual({ allowed: true });
  });

  it('treats an empty mode as its default (no spurious change)', () => {
    expect(update({ ...u1.spec, mode: '' })).toEqual({ allowed: true });
  });

  it('refuses changes of type, mode and netID, listing each', () => {
    expect(
      update({ ...u1.spec, mode: 'BGP', netID: 200, config: { bgpPeers: [{ asn: 1, address: '1.1.1.1' }] } }),
    ).toEqual({
      allowed: false,
      rule: 'network.immutable',
      reasons: [
        'spec.mode is immutable: VLAN cannot change to BGP',
        'spec.netID is immutable: 100 cannot change to 200',
      ],
    });
    expect(update({ type: 'Overlay', netID: 100 })).toEqual({
      allowed: false,
      rule: 'network.immutable',
      reasons: [
        'spec.type is immutable: Underlay cannot change to Overlay',
        'spec.mode is immutable: VLAN cannot change to VXLAN',
      ],
    });
    expect(update({ ...u1.spec, netID: null })).toEqual({
      allowed: false,
      rule: 'network.immutable',
      reasons: ['spec.netID is immutable: 100 cannot change to null'],
    });
  });

  it('refuses dropping the underlay selector and emptying BGP peers', () => {
    expect(update({ ...u1.spec, nodeSelector: {} })).toEqual({
      allowed: false,
      rule: 'network.node-selector.required',
      reasons: ['spec.nodeSelector is empty: must have node selector for underlay network'],
    });
    const bgp = network('bgp1', {
      type: 'Underlay',
      mode: 'BGP',
      netID: 65001,
      nodeSelector: { rack: 'c' },
      config: { bgpPeers: [{ asn: 65000, address: '192.168.0.1' }] },
    });
    expect(update({ ...bgp.spec, config: { bgpPeers: [] } }, bgp)).toMatchObject({ rule: 'network.bgp.peers' });
  });
});

describe('validateNetwork DELETE (SPEC §5.2)', () => {
  const del = (name: string) => {
    const n = store.getNetwork(name);
    return validateNetwork(request('Network', 'DELETE', undefined, n), store);
  };
  it('refuses while subnets exist and allows otherwise', () => {
    expect(del('u1')).toEqual({
      allowed: false,
      rule: 'network.delete.subnets',
      reasons: ['network u1 still has child subnet s1: delete it first'],
    });
    expect(del('overlay')).toEqual({ allowed: true });
  });
  it('refuses deleting a BGP network while GlobalBGP addresses are used on its nodes', () => {
    expect(del('bgp1')).toEqual({
      allowed: false,
      rule: 'network.delete.globalbgp-ips',
      reasons: ['network bgp1 still has global bgp ip instances in use on its nodes: ns/10-9-0-5 on node n3'],
    });
  });
});

describe('validateNetwork decoding', () => {
  it('errors 400 on an object that is not a Network', () => {
    const d = validateNetwork(request('Network', 'CREATE', { metadata: { name: 'x' } }), store);
    expect(d).toMatchObject({ allowed: false, errored: true, code: 400 });
  });
  it('passes CONNECT', () => {
    expect(validateNetwork(request('Network', 'CONNECT', {}), store)).toEqual({ allowed: true, reason: 'by pass' });
  });
});
