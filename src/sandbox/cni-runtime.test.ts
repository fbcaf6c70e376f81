import { describe, expect, it } from 'vitest';
import { criCniArgs, versionAtLeast } from './cni-runtime.ts';
import { ipsOf } from './kubelet-standin.ts';

describe('CRI-style CNI invocation', () => {
  it('builds CNI_ARGS exactly as containerd CRI does', () => {
    expect(criCniArgs({ namespace: 'demo', name: 'db-0', uid: 'u-1', sandboxId: 'abc' })).toBe(
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=db-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1',
    );
  });

  it('passes prevResult on DEL only from CNI 0.4.0 on (libcni rule)', () => {
    expect(versionAtLeast('0.3.1', '0.4.0')).toBe(false);
    expect(versionAtLeast('0.4.0', '0.4.0')).toBe(true);
    expect(versionAtLeast('1.0.0', '0.4.0')).toBe(true);
  });

  it('reads pod addresses from a CNI result, IPv4 first', () => {
    expect(ipsOf({ ips: [{ address: 'fd00::1/64' }, { address: '10.0.0.2/24' }] })).toEqual(['10.0.0.2', 'fd00::1']);
    expect(ipsOf(undefined)).toEqual([]);
  });
});
