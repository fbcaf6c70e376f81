import { describe, expect, it } from 'vitest';
import { daemonConfigFromFlags, type DaemonFlags } from './daemon.ts';

/** The defaults commander gives `hybridnet daemon` (see registerDaemonCommand). */
const flags: DaemonFlags = {
  bindSocket: '/var/run/hybridnet.sock',
  stateDir: '/var/lib/hybridnet',
  preferInterfaces: '',
  preferVlanInterfaces: '',
  preferVxlanInterfaces: '',
  preferBgpInterfaces: '',
  bgpGrpcServerAddr: ':50051',
  healthProbeAddr: ':11021',
  metricsAddr: ':8091',
  localDirectTable: '39999',
  toOverlayTable: '40000',
  overlayMarkTable: '40001',
  vxlanUdpPort: '8472',
  iptablesCheckDuration: '5s',
  ipInstanceWaitTimeout: '30s',
  checkPodConnectivityFromHost: 'true',
  updateIpinstanceStatus: 'true',
  patchCalicoPodIpsAnnotation: 'true',
  logLevel: 'info',
  neighGcThresh1: '1024',
  neighGcThresh2: '2048',
  neighGcThresh3: '4096',
  ipv6RouteCacheMaxSize: '524288',
  ipv6RouteCacheGcThresh: '65536',
  extraNodeLocalVxlanIpCidrs: '',
  vlanCheckTimeout: '3s',
  vlanDuplicateProbeTimeout: '200ms',
  linkMonitor: 'true',
};

describe('hybridnet daemon flags: --enable-vlan-arp-enhancement (SPEC §7.6)', () => {
  it('defaults to true; true / false map to the configuration', () => {
    expect(daemonConfigFromFlags(flags, {}).vlanArpEnhancement).toBe(true);
    expect(daemonConfigFromFlags({ ...flags, enableVlanArpEnhancement: 'true' }, {}).vlanArpEnhancement).toBe(true);
    expect(daemonConfigFromFlags({ ...flags, enableVlanArpEnhancement: 'false' }, {}).vlanArpEnhancement).toBe(false);
  });

  it('refuses anything else, naming the flag and the value', () => {
    expect(() => daemonConfigFromFlags({ ...flags, enableVlanArpEnhancement: 'yes' }, {})).toThrow(
      '--enable-vlan-arp-enhancement="yes": expected true or false',
    );
  });
});
