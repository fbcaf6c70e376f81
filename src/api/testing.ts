/**
 * SPEC-valid sample objects of every networking kind, for tests across the project (not re-exported from the package
 * index). Each builder returns a fresh deep copy, so tests may mutate the result. Covers the shapes the original
 * produces: `netID: null`, IPv6 ranges, dual-stack IPInstances, reserved (unbound) IPInstances, BGP peers.
 */
import {
  FINALIZER_IP_ALLOCATED,
  FINALIZER_METRICS_REGISTERED,
  IPINSTANCE_LATEST_VERSION,
  LABEL_NETWORK,
  LABEL_NODE,
  LABEL_POD,
  LABEL_POD_UID,
  LABEL_SUBNET,
  LABEL_VERSION,
  NETWORKING_API_VERSION,
} from './constants.ts';
import type { IPInstance } from './ipinstance.ts';
import type { Network } from './network.ts';
import type { NodeInfo } from './nodeinfo.ts';
import type { Subnet } from './subnet.ts';

/** Samples keyed by a short description, e.g. `underlayVlan`, `overlay`, `bgp`, `globalBgp`. */
export function sampleNetworks(): Record<'underlayVlan' | 'bgp' | 'overlay' | 'globalBgp' | 'minimal', Network> {
  return structuredClone({
    underlayVlan: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'Network',
      metadata: { name: 'underlay-vlan', finalizers: [FINALIZER_METRICS_REGISTERED] },
      spec: { netID: 100, type: 'Underlay', mode: 'VLAN', nodeSelector: { 'network.example.com/rack': 'r1' } },
      status: {
        lastAllocatedSubnet: 'subnet-v4',
        lastAllocatedIPv6Subnet: 'subnet-v6',
        subnetList: ['subnet-v4', 'subnet-v6'],
        nodeList: ['node-1', 'node-2'],
        statistics: { total: 253, used: 3, available: 250 },
        ipv6Statistics: { total: 2147483647, used: 1, available: 2147483646 },
        dualStackStatistics: { total: 0, used: 0, available: 250 },
      },
    },
    bgp: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'Network',
      metadata: { name: 'underlay-bgp' },
      spec: {
        netID: 65001,
        type: 'Underlay',
        mode: 'BGP',
        nodeSelector: { 'network.example.com/bgp': 'true' },
        config: {
          bgpPeers: [
            { asn: 65000, address: '192.168.0.1', gracefulRestartSeconds: 300, password: 's3cret' },
            { asn: 65000, address: 'fd00::1', doesNotRouteTraffic: true, allowNotEstablished: true },
          ],
        },
      },
    },
    overlay: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'Network',
      metadata: { name: 'overlay' },
      spec: { netID: 4, type: 'Overlay' },
    },
    globalBgp: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'Network',
      metadata: { name: 'global-bgp' },
      spec: { netID: null, type: 'GlobalBGP', mode: 'GlobalBGP' },
    },
    minimal: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'Network',
      metadata: { name: 'minimal' },
      spec: { netID: null, type: '', mode: '', nodeSelector: { a: 'b' } },
    },
  } satisfies Record<string, Network>);
}

/** Samples: `ipv4Vlan` (full range), `ipv6` (a /64, netID null), `overlay` (autoNatOutgoing/private null). */
export function sampleSubnets(): Record<'ipv4Vlan' | 'ipv6' | 'overlay', Subnet> {
  return structuredClone({
    ipv4Vlan: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'Subnet',
      metadata: { name: 'subnet-v4' },
      spec: {
        network: 'underlay-vlan',
        netID: 100,
        range: {
          version: '4',
          cidr: '10.14.100.0/24',
          gateway: '10.14.100.1',
          start: '10.14.100.10',
          end: '10.14.100.250',
          reservedIPs: ['10.14.100.20'],
          excludeIPs: ['10.14.100.30', '10.14.100.31'],
        },
        config: { private: false },
      },
      status: { total: 238, used: 2, available: 236, lastAllocatedIP: '10.14.100.11' },
    },
    ipv6: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'Subnet',
      metadata: { name: 'subnet-v6' },
      spec: {
        network: 'underlay-vlan',
        netID: null,
        range: { version: '6', cidr: 'fd00:100::/64', gateway: 'fd00:100::1' },
      },
    },
    overlay: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'Subnet',
      metadata: { name: 'overlay-v4' },
      spec: {
        network: 'overlay',
        netID: null,
        range: { version: '4', cidr: '100.64.0.0/16' },
        config: { autoNatOutgoing: null, private: null, gatewayType: '', gatewayNode: '', allowSubnets: [] },
      },
    },
  } satisfies Record<string, Subnet>);
}

/** Samples: `v4` (bound, stateful, with status), `v6` (netID null), `reserved` (nodeName empty, no status). */
export function sampleIPInstances(): Record<'v4' | 'v6' | 'reserved', IPInstance> {
  const labels = {
    [LABEL_VERSION]: IPINSTANCE_LATEST_VERSION,
    [LABEL_NETWORK]: 'underlay-vlan',
    [LABEL_NODE]: 'node-1',
    [LABEL_POD]: 'web-0',
    [LABEL_POD_UID]: '5f0c1c3e-7a52-4d3f-9a51-3a7a2d0f2b11',
  };
  return structuredClone({
    v4: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'IPInstance',
      metadata: {
        name: '10-14-100-11',
        namespace: 'default',
        labels: { ...labels, [LABEL_SUBNET]: 'subnet-v4' },
        finalizers: [FINALIZER_IP_ALLOCATED],
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'StatefulSet',
            name: 'web',
            uid: '0b7e2f6a-1c1d-4c9e-8f43-2b7d5d9a0c01',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        network: 'underlay-vlan',
        subnet: 'subnet-v4',
        address: {
          version: '4',
          ip: '10.14.100.11/24',
          gateway: '10.14.100.1',
          netID: 100,
          mac: '02:12:34:56:78:9a',
        },
        binding: {
          referredObject: { kind: 'StatefulSet', name: 'web', uid: '0b7e2f6a-1c1d-4c9e-8f43-2b7d5d9a0c01' },
          nodeName: 'node-1',
          podUID: '5f0c1c3e-7a52-4d3f-9a51-3a7a2d0f2b11',
          podName: 'web-0',
          stateful: { index: 0 },
        },
      },
      status: {
        nodeName: 'node-1',
        podName: 'web-0',
        podNamespace: 'default',
        sandboxID: '3f4e5d6c7b8a',
        updateTimestamp: '2024-05-01T10:00:00Z',
      },
    },
    v6: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'IPInstance',
      metadata: {
        name: 'fd00-100-0-0-0-0-0-b',
        namespace: 'default',
        labels: { ...labels, [LABEL_SUBNET]: 'subnet-v6' },
        finalizers: [FINALIZER_IP_ALLOCATED],
      },
      spec: {
        network: 'underlay-vlan',
        subnet: 'subnet-v6',
        address: { version: '6', ip: 'fd00:100::b/64', gateway: 'fd00:100::1', netID: null, mac: '02:12:34:56:78:9a' },
        binding: {
          referredObject: { kind: 'StatefulSet', name: 'web', uid: '0b7e2f6a-1c1d-4c9e-8f43-2b7d5d9a0c01' },
          nodeName: 'node-1',
          podUID: '5f0c1c3e-7a52-4d3f-9a51-3a7a2d0f2b11',
          podName: 'web-0',
          stateful: { index: 0 },
        },
      },
    },
    reserved: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'IPInstance',
      metadata: {
        name: '100-64-0-7',
        namespace: 'apps',
        labels: { [LABEL_VERSION]: IPINSTANCE_LATEST_VERSION, [LABEL_POD]: 'db-2' },
      },
      spec: {
        network: 'overlay',
        subnet: 'overlay-v4',
        address: { version: '4', ip: '100.64.0.7/16', netID: null, mac: '02:12:34:aa:bb:cc' },
        binding: {
          referredObject: { kind: 'StatefulSet', name: 'db', uid: '77e0b1f2-2f36-4a8e-9d0e-5a3c1d2e4f60' },
          nodeName: '',
          podName: 'db-2',
          stateful: { index: 2 },
        },
      },
      status: { updateTimestamp: '2024-05-01T10:05:00.123456Z' },
    },
  } satisfies Record<string, IPInstance>);
}

/** Samples: `vtep` (full VTEP info and status), `empty` (no overlay network yet). */
export function sampleNodeInfos(): Record<'vtep' | 'empty', NodeInfo> {
  return structuredClone({
    vtep: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'NodeInfo',
      metadata: {
        name: 'node-1',
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'Node',
            name: 'node-1',
            uid: '9d3c2b1a-0f1e-4d2c-8b3a-1a2b3c4d5e6f',
            controller: true,
            blockOwnerDeletion: false,
          },
        ],
      },
      spec: { vtepInfo: { ip: '192.168.1.11', mac: '52:54:00:12:34:56', localIPs: ['192.168.1.11', 'fd00:1::11'] } },
      status: { updateTimestamp: '2024-05-01T10:00:00+08:00' },
    },
    empty: {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'NodeInfo',
      metadata: { name: 'node-2' },
      spec: {},
    },
  } satisfies Record<string, NodeInfo>);
}
