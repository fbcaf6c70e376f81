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
