import { describe, expect, it } from 'vitest';
import { ipInstance } from '../testdata.ts';
import { DEFAULT_IPINSTANCE_ADMIN_GROUPS, DEFAULT_IPINSTANCE_WRITERS, validateIPInstance } from './ipinstance.ts';
import { request } from './request.testkit.ts';

const policy = { allowedUsers: DEFAULT_IPINSTANCE_WRITERS, adminGroups: DEFAULT_IPINSTANCE_ADMIN_GROUPS };
const ip = ipInstance('ns', '10.0.0.5', { network: 'n', subnet: 's', podName: 'p', nodeName: 'node1' });
const withFinalizer = { ...ip, metadata: { ...ip.metadata, finalizers: ['networking.alibaba.com/ip-allocated'] } };
const someone = { username: 'system:serviceaccount:default:someone', groups: ['system:serviceaccounts'] };
const admin = { username: 'hn-admin', groups: ['system:masters', 'system:authenticated'] };

describe('validateIPInstance (writers only)', () => {
  it.each(DEFAULT_IPINSTANCE_WRITERS)('lets %s create, update and delete', (username) => {
    const user = { username };
    expect(validateIPInstance(request('IPInstance', 'CREATE', ip, undefined, user), policy)).toEqual({ allowed: true });
    expect(validateIPInstance(request('IPInstance', 'UPDATE', ip, ip, user), policy)).toEqual({ allowed: true });
    expect(validateIPInstance(request('IPInstance', 'DELETE', undefined, ip, user), policy)).toEqual({ allowed: true });
  });

  it('refuses any other user, naming user, object and writers', () => {
    const moved = { ...ip, spec: { ...ip.spec, binding: { ...ip.spec.binding, nodeName: 'node2' } } };
    expect(validateIPInstance(request('IPInstance', 'UPDATE', moved, ip, someone), policy)).toEqual({
      allowed: false,
      rule: 'ipinstance.writer',
      reasons: [
        'user system:serviceaccount:default:someone may not update IPInstance ns/10-0-0-5: IPInstances record IPAM allocations and are written only by system:serviceaccount:kube-system:hybridnet-manager, system:serviceaccount:kube-system:hybridnet-daemon, system:serviceaccount:kube-system:generic-garbage-collector, system:serviceaccount:kube-system:namespace-controller, system:kube-controller-manager; members of system:masters may only delete IPInstances or remove their finalizers; users may read them',
      ],
    });
    expect(validateIPInstance(request('IPInstance', 'DELETE', undefined, ip, someone), policy)).toMatchObject({
      allowed: false,
    });
    expect(validateIPInstance(request('IPInstance', 'CREATE', ip, undefined, someone), policy)).toMatchObject({
      allowed: false,
    });
  });

  it('lets administrators delete and strip finalizers, but not forge', () => {
    expect(validateIPInstance(request('IPInstance', 'DELETE', undefined, ip, admin), policy)).toEqual({
      allowed: true,
      reason: 'administrator clean-up',
    });
    expect(validateIPInstance(request('IPInstance', 'UPDATE', ip, withFinalizer, admin), policy)).toEqual({
      allowed: true,
      reason: 'administrator removed finalizers',
    });
    expect(validateIPInstance(request('IPInstance', 'CREATE', ip, undefined, admin), policy)).toMatchObject({
      allowed: false,
      rule: 'ipinstance.writer',
    });
    const forged = { ...ip, spec: { ...ip.spec, subnet: 'other' } };
    expect(validateIPInstance(request('IPInstance', 'UPDATE', forged, withFinalizer, admin), policy)).toMatchObject({
      allowed: false,
    });
    const strict = { ...policy, adminGroups: [] };
    expect(validateIPInstance(request('IPInstance', 'DELETE', undefined, ip, admin), strict)).toMatchObject({
      allowed: false,
    });
  });
});
