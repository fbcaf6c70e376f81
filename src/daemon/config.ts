/**
 * Daemon settings (SPEC §7.1 flags with their defaults) and the errors the CNI endpoints answer with.
 */
import {
  DEFAULT_SOCKET,
  LOCAL_DIRECT_TABLE,
  OVERLAY_MARK_TABLE,
  TO_OVERLAY_TABLE,
  VXLAN_UDP_PORT,
} from './constants.ts';

/** Everything the daemon reads from flags and environment. */
export interface DaemonConfig {
  nodeName: string;
  /** Unix socket of the CNI API (`--bind-socket`). */
  socket: string;
  /** Attachment records (`--state-dir`). */
  stateDir: string;
  preferVxlanInterfaces: string[];
  preferVlanInterfaces: string[];
  /** BGP interfaces (`--prefer-bgp-interfaces`), first existing wins; empty ⇒ default-route interface. */
  preferBgpInterfaces: string[];
  /** gRPC API address of the node's gobgpd (`--bgp-grpc-server-addr`, SPEC §7.1). */
  bgpGrpcServerAddr: string;
  /** `host:port` of /live and /ready; empty disables. */
  healthAddr: string;
  /** `host:port` of /metrics; empty disables. */
  metricsAddr: string;
  localDirectTable: number;
  toOverlayTable: number;
  overlayMarkTable: number;
  vxlanUdpPort: number;
  /** Period of the full resync (`--iptables-check-duration`), ms. */
  resyncMs: number;
  /** How long an ADD waits for the pod's IPInstances (D5), ms. */
  ipInstanceWaitMs: number;
  checkPodConnectivityFromHost: boolean;
  updateIPInstanceStatus: boolean;
  patchCalicoPodIPsAnnotation: boolean;
  /** Program iptables/ipset (off only for tests of hosts without them). */
  iptables: boolean;
  /** DEFAULT_IP_FAMILY. */
  defaultIPFamily: string;
  /** `--neigh-gc-thresh1/2/3` (SPEC §7.1): 1024/2048/4096; 0 leaves the kernel's value (one ARP table per machine). */
  neighGcThresh: [number, number, number];
  /** `--ipv6-route-cache-max-size` (524288); 0 leaves it alone. */
  ipv6RouteMaxSize: number;
  /** `--ipv6-route-cache-gc-thresh` (65536); 0 leaves it alone. */
  ipv6RouteGcThresh: number;
  /** `--extra-node-local-vxlan-ip-cidrs` (SPEC §7.8 step 2), canonical CIDRs. */
  extraNodeLocalVxlanIPCidrs: string[];
  /** `--vlan-check-timeout` (SPEC §7.3 step 8): how long ADD waits for the VLAN gateway's ARP reply, ms. */
  vlanCheckTimeoutMs: number;
  /** How long ADD listens for an answer to the duplicate-address ARP probe of a VLAN pod IP, ms (0 = no probe). */
  vlanDuplicateProbeMs: number;
  /** Reconcile on `ip monitor link address` events of non-container interfaces (SPEC §7.1). */
  linkMonitor: boolean;
  /**
   * `--enable-vlan-arp-enhancement` (SPEC §7.6, default true): one local pod IP per IPv4 VLAN subnet on its VLAN
   * forward interface (`noprefixroute`, scope link, no local route), so the node's ARP into the VLAN carries a sender
   * of the pod subnet. False: such addresses are neither added nor removed.
   */
  vlanArpEnhancement: boolean;
}

/** Defaults of SPEC §7.1 (node name from `KUBE_NODE_NAME`). */
export function defaultDaemonConfig(env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  return {
    nodeName: env.KUBE_NODE_NAME ?? '',
    socket: DEFAULT_SOCKET,
    stateDir: '/var/lib/hybridnet',
    preferVxlanInterfaces: [],
    preferVlanInterfaces: [],
    preferBgpInterfaces: [],
    bgpGrpcServerAddr: ':50051',
    healthAddr: ':11021',
    metricsAddr: ':8091',
    localDirectTable: LOCAL_DIRECT_TABLE,
    toOverlayTable: TO_OVERLAY_TABLE,
    overlayMarkTable: OVERLAY_MARK_TABLE,
    vxlanUdpPort: VXLAN_UDP_PORT,
    resyncMs: 5000,
    ipInstanceWaitMs: 30_000,
    checkPodConnectivityFromHost: true,
    updateIPInstanceStatus: true,
    patchCalicoPodIPsAnnotation: true,
    iptables: true,
    defaultIPFamily: env.DEFAULT_IP_FAMILY ?? '',
    neighGcThresh: [1024, 2048, 4096],
    ipv6RouteMaxSize: 524288,
    ipv6RouteGcThresh: 65536,
    extraNodeLocalVxlanIPCidrs: [],
    vlanCheckTimeoutMs: 3000,
    vlanDuplicateProbeMs: 200,
    linkMonitor: true,
    vlanArpEnhancement: true,
  };
}

/** A CNI request the daemon refuses or cannot serve: HTTP status + CNI code + message naming the pod. */
export class CniRequestError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly cniCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CniRequestError';
  }
}
