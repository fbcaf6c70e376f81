import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_IP_POOL,
  ANNOTATION_IP_RETAIN,
  ANNOTATION_MAC_POOL,
  ANNOTATION_NETWORK_TYPE,
  FINALIZER_IP_ALLOCATED,
  type IPInstance,
} from '../api/index.ts';
import { ipInstance, network, node, storeOf } from '../webhook/testdata.ts';
import {
  decidePodAction,
  planStatefulAllocation,
  unwantedInstances,
  type PodAction,
  type PodView,
  type StatefulPlan,
} from './pod-decision.ts';
import type { PodNetworkChoice, PodSettings } from './pod-network-choice.ts';

const settings: PodSettings = {
  defaultNetworkType: 'Underlay',
  defaultIPFamily: 'IPv4Only',
  statefulWorkloadKinds: ['StatefulSet'],
  defaultIPRetain: true,
};

const networks = [
  network('underlay1', { type: 'Underlay', nodeSelector: { rack: 'a' } }),
  network('overlay', { type: 'Overlay' }),
];

interface PodOpts {
  node?: string;
  owner?: string;
  finalizer?: boolean;
  terminating?: boolean;
  hostNetwork?: boolean;
  phase?: string;
  reason?: string;
  running?: boolean;
  annotations?: Record<string, string>;
}

/** A pod `ns1/<name>` with UID `uid-<name>` and one container `c`. */
function pod(name: string, o: PodOpts = {}): V1Pod {
  const owner = o.owner && { apiVersion: 'apps/v1', kind: o.owner, name: 'web', uid: 'uid-web', controller: true };
  const state = o.running ? { running: {} } : { terminated: { exitCode: 0 } };
  return {
    metadata: {
      namespace: 'ns1',
      name,
      uid: `uid-${name}`,
      ...(o.annotations && { annotations: o.annotations }),
      ...(o.finalizer && { finalizers: [FINALIZER_IP_ALLOCATED] }),
      ...(o.terminating && { deletionTimestamp: new Date('2026-01-01T00:00:00Z') }),
      ...(owner && { ownerReferences: [owner] }),
    },
    spec: {
      containers: [{ name: 'c' }],
      ...(o.node && { nodeName: o.node }),
      ...(o.hostNetwork && { hostNetwork: true }),
    },
    status: {
      ...(o.phase && { phase: o.phase }),
      ...(o.reason && { reason: o.reason }),
      containerStatuses: [{ name: 'c', image: 'i', imageID: 'i', ready: false, restartCount: 0, state }],
    },
  };
}

/** An IPInstance `ns1/<ip>` of pod `podName` (default `web-0`) in underlay1, bound to `podUID` (default none). */
function inst(ip: string, o: { podName?: string; podUID?: string; owner?: string; mac?: string } = {}): IPInstance {
  const subnet = ip.includes(':') ? 'u1-v6' : 'u1-v4';
  const i = ipInstance('ns1', ip, { network: 'underlay1', subnet, podName: o.podName ?? 'web-0', nodeName: 'node-1' });
  i.spec.binding = { ...i.spec.binding, podUID: o.podUID ?? '' };
  if (o.owner)
    i.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: o.owner, name: 'web', uid: 'u', controller: true }];
  if (o.mac) i.spec.address.mac = o.mac;
  return i;
}

function view(instances: IPInstance[] = [], ipCache = { has: false, count: 0 }): PodView {
  return {
    instances,
    ipCache,
    namespace: undefined,
    node: node('node-1', { rack: 'a' }),
    networks,
    selection: storeOf({ networks, ipinstances: instances }),
  };
}

const decide = (p: V1Pod, v: PodView = view()): PodAction => decidePodAction(p, v, settings);
const underlay: PodNetworkChoice = { network: 'underlay1', subnets: [], family: 'IPv4Only', networkType: 'Underlay' };

describe('decidePodAction (SPEC §4.6)', () => {
  it('leaves alone host-network, terminating-without-finalizer and unscheduled pods', () => {
    expect(decide(pod('p', { node: 'node-1', hostNetwork: true }))).toEqual({ kind: 'none', reason: 'host-network' });
    expect(decide(pod('p', { node: 'node-1', terminating: true }))).toEqual({
      kind: 'none',
      reason: 'terminating-without-finalizer',
    });
    expect(decide(pod('p'))).toEqual({ kind: 'none', reason: 'unscheduled' });
  });

  it('allocates a scheduled pod on its network; a stateful one goes through statefulAllocate', () => {
    expect(decide(pod('p', { node: 'node-1' }))).toEqual({ kind: 'allocate', choice: underlay });
    expect(decide(pod('web-0', { node: 'node-1', owner: 'StatefulSet' }))).toEqual({
      kind: 'stateful-allocate',
      choice: underlay,
    });
    const overlay = pod('p', { node: 'node-1', annotations: { [ANNOTATION_NETWORK_TYPE]: 'Overlay' } });
    expect(decide(overlay)).toMatchObject({ kind: 'allocate', choice: { network: 'overlay', networkType: 'Overlay' } });
  });

  it('refuses with the network choice message (SPEC §4.5): no underlay network holds the node', () => {
    const v = { ...view(), node: node('node-2', { rack: 'b' }) };
    expect(decide(pod('p', { node: 'node-2' }), v)).toEqual({
      kind: 'refuse',
      message: 'unable to find underlay network for node node-2, should check webhook liveness',
    });
  });

  it('ended stateful pods: reserve once no container runs (step 1b), even evicted and without finalizer', () => {
    const ended = { owner: 'StatefulSet', finalizer: true, terminating: true };
    expect(decide(pod('web-0', { ...ended, running: true }))).toEqual({ kind: 'none', reason: 'containers-running' });
    expect(decide(pod('web-0', ended))).toEqual({ kind: 'reserve' });
    expect(decide(pod('web-0', { owner: 'StatefulSet', phase: 'Failed', reason: 'Evicted' }))).toEqual({
      kind: 'reserve',
    });
  });

  it('an ended pod without controller ref takes the owner of its IPInstances; none at all ⇒ only the finalizer', () => {
    const orphan = pod('web-0', { finalizer: true, terminating: true });
    expect(decide(orphan, view([inst('10.0.0.7', { owner: 'StatefulSet' })]))).toEqual({ kind: 'reserve' });
    expect(decide(orphan)).toEqual({ kind: 'remove-finalizer' });
    expect(decide(pod('p', { phase: 'Failed', reason: 'Evicted' }))).toEqual({ kind: 'none', reason: 'no-finalizer' });
  });

  it('decouples evicted or completed pods: only IPInstances bound to this pod UID or to none', () => {
    const mine = inst('10.0.0.7', { owner: 'ReplicaSet', podUID: 'uid-web-0' });
    const unbound = inst('10.0.0.8', { owner: 'ReplicaSet' });
    const other = inst('10.0.0.9', { owner: 'ReplicaSet', podUID: 'uid-old' });
    const evicted = pod('web-0', { owner: 'ReplicaSet', phase: 'Failed', reason: 'Evicted', finalizer: true });
    expect(decide(evicted, view([mine, unbound, other]))).toEqual({
      kind: 'decouple',
      instances: [mine, unbound],
      removeFinalizer: true,
    });
    const completed = pod('web-0', { owner: 'ReplicaSet', phase: 'Succeeded' });
    expect(decide(completed)).toEqual({ kind: 'decouple', instances: [], removeFinalizer: false });
    // A terminating pod that neither is evicted nor completed keeps its addresses to the IPInstance controller.
    expect(decide(pod('web-0', { owner: 'ReplicaSet', terminating: true, finalizer: true }))).toEqual({
      kind: 'remove-finalizer',
    });
  });

  it('a pod in the pod IP cache: nothing, unless a non-stateful DualStack pod holds one address', () => {
    const dual = { node: 'node-1', annotations: { [ANNOTATION_IP_FAMILY]: 'DualStack' } };
    const mine = inst('10.0.0.7', { podName: 'p', podUID: 'uid-p' });
    const stale = inst('fd00::7', { podName: 'p', podUID: 'uid-old' });
    const one = { has: true, count: 1 };
    expect(decide(pod('p', dual), view([mine, stale], one))).toEqual({
      kind: 'reallocate-dual-stack',
      instances: [mine],
    });
    const idle = { kind: 'none', reason: 'allocated' };
    expect(decide(pod('p', dual), view([mine], { has: true, count: 2 }))).toEqual(idle);
    expect(decide(pod('p', { node: 'node-1' }), view([mine], one))).toEqual(idle);
    expect(decide(pod('web-0', { ...dual, owner: 'StatefulSet' }), view([], one))).toEqual(idle);
    // A network choice error is no reason to touch the addresses.
    expect(decide(pod('p', { ...dual, node: 'node-2' }), { ...view([mine], one), node: undefined })).toEqual(idle);
  });

  it('property: only a live, scheduled, uncached pod gets an allocation decision; finalizer and decouple are sound', () => {
    const arbPod = fc.record({
      node: fc.constantFrom(undefined, 'node-1'),
      owner: fc.constantFrom(undefined, 'StatefulSet', 'ReplicaSet'),
      finalizer: fc.boolean(),
      terminating: fc.boolean(),
      hostNetwork: fc.boolean(),
      phase: fc.constantFrom(undefined, 'Running', 'Failed', 'Succeeded'),
      reason: fc.constantFrom(undefined, 'Evicted'),
      running: fc.boolean(),
    });
    const arbInstances = fc.subarray([
      inst('10.0.0.7', { podName: 'p', podUID: 'uid-p', owner: 'ReplicaSet' }),
      inst('10.0.0.8', { podName: 'p', owner: 'StatefulSet' }),
      inst('10.0.0.9', { podName: 'p', podUID: 'uid-old' }),
    ]);
    fc.assert(
      fc.property(arbPod, arbInstances, fc.boolean(), (o, instances, cached) => {
        const p = pod('p', o);
        const action = decide(p, view(instances, { has: cached, count: cached ? 1 : 0 }));
        const ended = o.terminating || o.phase === 'Failed' || o.phase === 'Succeeded';
        if (['allocate', 'stateful-allocate', 'refuse'].includes(action.kind)) {
          expect(o.hostNetwork || ended || o.node === undefined || cached).toBe(false);
          if (action.kind !== 'refuse') expect(action.kind === 'stateful-allocate').toBe(o.owner === 'StatefulSet');
        }
        if (action.kind === 'remove-finalizer') expect(o.finalizer).toBe(true);
        if (action.kind === 'reserve') expect([o.running, o.owner === 'ReplicaSet']).toEqual([false, false]);
        if (action.kind === 'decouple') {
          for (const i of action.instances) expect(instances).toContain(i);
          expect(action.instances.every((i) => ['uid-p', ''].includes(i.spec.binding?.podUID ?? ''))).toBe(true);
          expect(action.removeFinalizer).toBe(o.finalizer);
        }
        if (o.hostNetwork) expect(action).toEqual({ kind: 'none', reason: 'host-network' });
      }),
    );
  });
});

/** planStatefulAllocation for pod `web-<ordinal>` with `annotations`, on the underlay choice. */
function plan(
  ordinal: number,
  annotations: Record<string, string>,
  instances: IPInstance[] = [],
  networkInstances: IPInstance[] = instances,
): StatefulPlan {
  const p = pod(`web-${ordinal}`, { node: 'node-1', owner: 'StatefulSet', annotations });
  return planStatefulAllocation(p, underlay, { instances, networkInstances }, settings);
}

describe('planStatefulAllocation (SPEC §4.6 statefulAllocate)', () => {
  const v6 = inst('fd00::7', { mac: '02:00:00:00:00:06' });
  const v4 = inst('10.0.0.7', { mac: '02:00:00:00:00:04' });

  it('ip-retain: re-couples the retained addresses (IPv4 first, their network and family), else allocates', () => {
    expect(plan(0, {}, [v6, v4])).toEqual({
      kind: 'assign',
      choice: { ...underlay, family: 'DualStack' },
      suites: [
        { subnet: 'u1-v4', ip: '10.0.0.7' },
        { subnet: 'u1-v6', ip: 'fd00::7' },
      ],
      force: false,
      mac: '02:00:00:00:00:06',
      existing: [v6, v4],
      unwanted: [],
    });
    expect(plan(0, {})).toEqual({ kind: 'allocate', choice: underlay, mac: undefined, stale: [] });
  });

  it('without ip-retain: deletes the old IPInstances and allocates afresh', () => {
    expect(plan(0, { [ANNOTATION_IP_RETAIN]: 'false' }, [v4])).toEqual({
      kind: 'allocate',
      choice: underlay,
      mac: undefined,
      stale: [v4],
    });
  });

  it('ip-pool: assigns the ordinal entry by force and deletes the addresses that left the pool (issue #417)', () => {
    const pool = { [ANNOTATION_IP_POOL]: '10.0.0.5, 10.0.0.6/FD00::6' };
    expect(plan(1, pool, [v4, v6])).toEqual({
      kind: 'assign',
      choice: { ...underlay, family: 'DualStack' },
      suites: [{ ip: '10.0.0.6' }, { ip: 'fd00::6' }],
      force: true,
      mac: '02:00:00:00:00:04',
      existing: [v4, v6],
      unwanted: [v4, v6],
    });
    expect(plan(0, pool, [v4])).toMatchObject({ kind: 'assign', suites: [{ ip: '10.0.0.5' }], unwanted: [v4] });
  });

  it.each([
    [2, '10.0.0.5,10.0.0.6', 'unable to find assigned ip in ip-pool "10.0.0.5,10.0.0.6" by index 2'],
    [1, '10.0.0.5, ,10.0.0.7', 'ip-pool entry 1 is empty'],
    [0, '10.0.0.5/nope', 'ip-pool entry "10.0.0.5/nope": "nope" is not an IP'],
  ])('ip-pool refusals: ordinal %i of %j', (ordinal, pool, message) => {
    expect(plan(ordinal, { [ANNOTATION_IP_POOL]: pool })).toEqual({ kind: 'refuse', message });
  });

  it('mac-pool: the ordinal entry, normalized, wins over the retained MAC', () => {
    const macs = { [ANNOTATION_MAC_POOL]: '02-AA-00-00-00-00, 02:aa:00:00:00:01' };
    expect(plan(1, macs)).toMatchObject({ kind: 'allocate', mac: '02:aa:00:00:00:01' });
    expect(plan(0, macs, [v4])).toMatchObject({ kind: 'assign', mac: '02:aa:00:00:00:00' });
  });

  it('mac-pool refusals: no entry for the ordinal, not a MAC, used by another pod of the network', () => {
    expect(plan(2, { [ANNOTATION_MAC_POOL]: '02:aa:00:00:00:00' })).toEqual({
      kind: 'refuse',
      message: 'unable to find assigned mac in mac-pool "02:aa:00:00:00:00" for ordinal 2',
    });
    expect(plan(0, { [ANNOTATION_MAC_POOL]: 'zz' })).toMatchObject({ kind: 'refuse' });
    const taken = inst('10.0.0.9', { podName: 'other', mac: '02:aa:00:00:00:00' });
    expect(plan(0, { [ANNOTATION_MAC_POOL]: '02:aa:00:00:00:00' }, [], [taken])).toEqual({
      kind: 'refuse',
      message: 'mac 02:aa:00:00:00:00 from mac-pool is already used by IPInstance ns1/10-0-0-9 of pod other',
    });
    const own = inst('10.0.0.7', { mac: '02:aa:00:00:00:00' });
    const gone = { ...taken, metadata: { ...taken.metadata, deletionTimestamp: new Date() } };
    expect(plan(0, { [ANNOTATION_MAC_POOL]: '02:aa:00:00:00:00' }, [own], [own, gone])).toMatchObject({
      kind: 'assign',
    });
  });

  it('property: unwanted ∪ kept = existing, and kept are exactly those whose address is in the suites', () => {
    const arbOctet = fc.integer({ min: 1, max: 12 });
    fc.assert(
      fc.property(fc.uniqueArray(arbOctet), fc.array(arbOctet, { maxLength: 2 }), (have, want) => {
        const existing = have.map((o) => inst(`10.0.0.${o}`));
        const unwanted = unwantedInstances(
          existing,
          want.map((o) => ({ ip: `10.0.0.${o}` })),
        );
        const kept = existing.filter((i) => !unwanted.includes(i));
        expect(kept.map((i) => Number(i.metadata.name?.split('-')[3]))).toEqual(have.filter((o) => want.includes(o)));
        expect(unwanted.length + kept.length).toBe(existing.length);
      }),
    );
  });
});
