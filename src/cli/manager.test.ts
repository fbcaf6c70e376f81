import { describe, expect, it } from 'vitest';
import { ConfigError } from '../manager/config.ts';
import { managerConfigFromFlags } from './manager.ts';

const flags = {
  statefulWorkloadKinds: 'StatefulSet, CloneSet',
  defaultIpRetain: 'f',
  controllerConcurrency: 'Pod=3',
  metricsPort: '9899',
  podLabelSelector: '',
  leaderElectLeaseDuration: '15',
  leaderElectRenewDeadline: '10',
  leaderElectRetryPeriod: '2',
  resyncPeriod: '300',
  logLevel: 'info',
  featureGates: '',
};

describe('hybridnet manager flags (SPEC §1.3, §4)', () => {
  it('maps flags and environment to the configuration', () => {
    const c = managerConfigFromFlags(flags, { NAMESPACE: 'hybridnet', DEFAULT_NETWORK_TYPE: 'Overlay' });
    expect(c).toMatchObject({
      namespace: 'hybridnet',
      defaultNetworkType: 'Overlay',
      statefulWorkloadKinds: ['StatefulSet', 'CloneSet'],
      defaultIPRetain: false,
      concurrency: { Pod: 3, IPAM: 1, IPInstance: 1 },
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    });
    expect(c.identity).not.toBe('');
  });

  it('refuses bad values with the flag name', () => {
    expect(() => managerConfigFromFlags({ ...flags, defaultIpRetain: 'maybe' }, {})).toThrow(/--default-ip-retain/);
    expect(() => managerConfigFromFlags({ ...flags, featureGates: 'VMIPRetain=true' }, {})).toThrow(ConfigError);
    expect(() => managerConfigFromFlags({ ...flags, featureGates: 'Foo=false' }, {})).toThrow(/unknown gate/);
    expect(managerConfigFromFlags({ ...flags, featureGates: 'MultiCluster=false' }, {}).namespace).toBe('kube-system');
  });
});
