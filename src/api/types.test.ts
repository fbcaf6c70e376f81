/**
 * Compile-time compatibility of our types with @kubernetes/client-node (checked by `tsc`; the runtime assertions only
 * keep vitest from reporting an empty file): our objects must satisfy `KubernetesObject` (informers, generic object
 * APIs) and client-node metadata / owner references must be assignable to ours.
 */
import type { KubernetesObject, V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { IPInstance } from './ipinstance.ts';
import type { ObjectMeta, OwnerReference } from './meta.ts';
import type { Network } from './network.ts';
import type { NodeInfo } from './nodeinfo.ts';
import type { Subnet } from './subnet.ts';
import { sampleIPInstances } from './testing.ts';

describe('client-node compatibility', () => {
  it('our kinds are KubernetesObjects', () => {
    expectTypeOf<Network>().toExtend<KubernetesObject>();
    expectTypeOf<Subnet>().toExtend<KubernetesObject>();
    expectTypeOf<IPInstance>().toExtend<KubernetesObject>();
    expectTypeOf<NodeInfo>().toExtend<KubernetesObject>();
    const asKubernetesObject: KubernetesObject = sampleIPInstances().v4;
    expect(asKubernetesObject.metadata?.name).toBe('10-14-100-11');
  });

  it('metadata and owner references convert both ways', () => {
    expectTypeOf<ObjectMeta>().toExtend<V1ObjectMeta>();
    expectTypeOf<V1ObjectMeta>().toExtend<ObjectMeta>();
    expectTypeOf<OwnerReference>().toExtend<V1OwnerReference>();
    expectTypeOf<V1OwnerReference>().toExtend<OwnerReference>();
    const podOwner: V1OwnerReference = { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u' };
    const ours: OwnerReference = podOwner;
    expect(ours.kind).toBe('StatefulSet');
  });

  it('netID is a nullable number and enum fields are string unions', () => {
    expectTypeOf<Network['spec']['netID']>().toEqualTypeOf<number | null | undefined>();
    expectTypeOf<Subnet['spec']['range']['version']>().toEqualTypeOf<'4' | '6'>();
    expectTypeOf<NonNullable<Network['spec']['type']>>().toEqualTypeOf<'Underlay' | 'Overlay' | 'GlobalBGP' | ''>();
    expectTypeOf<IPInstance['spec']['address']['netID']>().toEqualTypeOf<number | null | undefined>();
    expectTypeOf<NonNullable<Subnet['spec']['config']>['autoNatOutgoing']>().toEqualTypeOf<
      boolean | null | undefined
    >();
    expect(true).toBe(true);
  });
});
