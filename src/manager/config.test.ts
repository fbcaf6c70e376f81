import { describe, expect, it } from 'vitest';
import { ConfigError, defaultManagerConfig, parseConcurrency } from './config.ts';

describe('manager configuration (SPEC §1.3, §4.6)', () => {
  it('reads DEFAULT_NETWORK_TYPE, DEFAULT_IP_FAMILY and NAMESPACE case-insensitively with the code defaults', () => {
    expect(defaultManagerConfig({})).toMatchObject({
      namespace: 'kube-system',
      leaseName: 'hybridnet-manager-election',
      defaultNetworkType: 'Underlay',
      defaultIPFamily: 'IPv4Only',
      statefulWorkloadKinds: ['StatefulSet'],
      defaultIPRetain: true,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      metricsPort: 9899,
    });
    const c = defaultManagerConfig({
      DEFAULT_NETWORK_TYPE: 'overlay',
      DEFAULT_IP_FAMILY: 'dualstack',
      NAMESPACE: 'hn',
    });
    expect(c).toMatchObject({ defaultNetworkType: 'Overlay', defaultIPFamily: 'DualStack', namespace: 'hn' });
    expect(defaultManagerConfig({ DEFAULT_NETWORK_TYPE: 'Bogus' }).defaultNetworkType).toBe('Bogus');
  });

  it('parses --controller-concurrency, clamping to 1..100 and refusing unknown controllers', () => {
    expect(parseConcurrency('Pod=4, IPAM=0,IPInstance=500')).toEqual({ Pod: 4, IPAM: 1, IPInstance: 100 });
    expect(parseConcurrency('')).toEqual({});
    expect(() => parseConcurrency('Foo=1')).toThrow(ConfigError);
    expect(() => parseConcurrency('Pod=x')).toThrow(/not an integer/);
  });
});
