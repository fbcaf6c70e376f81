import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  LABEL_BGP_NETWORK_ATTACHMENT,
  LABEL_DUALSTACK_ADDRESS_QUOTA,
  LABEL_IPV4_ADDRESS_QUOTA,
  LABEL_IPV6_ADDRESS_QUOTA,
  LABEL_OVERLAY_NETWORK_ATTACHMENT,
  LABEL_UNDERLAY_NETWORK_ATTACHMENT,
  type Network,
} from '../api/index.ts';
import { planNode } from './node-controller.ts';

const node = (labels: Record<string, string>): V1Node => ({ metadata: { name: 'n', labels } });
const net = (name: string, spec: Record<string, unknown>): Network =>
  ({ apiVersion: 'networking.alibaba.com/v1', kind: 'Network', metadata: { name }, spec }) as unknown as Network;

describe('planNode (SPEC §3.4, D6)', () => {
  const noQuota = (): undefined => undefined;

  it('taints a node in no network and removes every hybridnet label', () => {
    const plan = planNode(node({ [LABEL_UNDERLAY_NETWORK_ATTACHMENT]: 'true' }), [], noQuota);
    expect(plan.taint).toBe(true);
    expect(plan.labels[LABEL_UNDERLAY_NETWORK_ATTACHMENT]).toBeNull();
    expect(plan.labels[LABEL_IPV4_ADDRESS_QUOTA]).toBeNull();
  });

  it('underlay match: attachment + quota from the first matching underlay network (by name)', () => {
    const networks = [
      net('b-net', { type: 'Underlay', nodeSelector: { zone: 'a' } }),
      net('a-net', { type: 'Underlay', nodeSelector: { zone: 'a' } }),
    ];
    const seen: string[] = [];
    const plan = planNode(node({ zone: 'a' }), networks, (n) => {
      seen.push(n);
      return { v4: true, v6: false, dual: false };
    });
    expect(seen).toEqual(['a-net']);
    expect(plan.taint).toBe(false);
    expect(plan.labels).toMatchObject({
      [LABEL_UNDERLAY_NETWORK_ATTACHMENT]: 'true',
      [LABEL_OVERLAY_NETWORK_ATTACHMENT]: null,
      [LABEL_IPV4_ADDRESS_QUOTA]: 'nonempty',
      [LABEL_IPV6_ADDRESS_QUOTA]: 'empty',
      [LABEL_DUALSTACK_ADDRESS_QUOTA]: 'empty',
    });
  });

  it('an overlay network attaches every node; an empty underlay selector matches nothing', () => {
    const plan = planNode(
      node({}),
      [net('o', { type: 'Overlay' }), net('u', { type: 'Underlay', nodeSelector: {} })],
      noQuota,
    );
    expect(plan.taint).toBe(false);
    expect(plan.labels[LABEL_OVERLAY_NETWORK_ATTACHMENT]).toBe('true');
    expect(plan.labels[LABEL_UNDERLAY_NETWORK_ATTACHMENT]).toBeNull();
  });

  it('bgp attachment needs underlay attachment, a GlobalBGP network and a matching BGP-mode network', () => {
    const bgp = net('bgp', { type: 'Underlay', mode: 'BGP', nodeSelector: { r: '1' } });
    expect(planNode(node({ r: '1' }), [bgp], noQuota).labels[LABEL_BGP_NETWORK_ATTACHMENT]).toBeNull();
    const withGlobal = planNode(node({ r: '1' }), [bgp, net('g', { type: 'GlobalBGP' })], noQuota);
    expect(withGlobal.labels[LABEL_BGP_NETWORK_ATTACHMENT]).toBe('true');
    const vlan = net('vlan', { type: 'Underlay', mode: 'VLAN', nodeSelector: { r: '1' } });
    expect(
      planNode(node({ r: '1' }), [vlan, net('g', { type: 'GlobalBGP' })], noQuota).labels[LABEL_BGP_NETWORK_ATTACHMENT],
    ).toBeNull();
  });

  it('terminating networks do not count', () => {
    const o = net('o', { type: 'Overlay' });
    o.metadata.deletionTimestamp = new Date();
    expect(planNode(node({}), [o], noQuota).taint).toBe(true);
  });
});
