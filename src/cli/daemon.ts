/**
 * `hybridnet daemon`: the node agent (SPEC §7.1 flags). Runs until SIGTERM/SIGINT. Needs `KUBE_NODE_NAME` (or
 * `--node-name`) and root in the node's network namespace.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import pino from 'pino';
import { defaultDaemonConfig, type DaemonConfig } from '../daemon/config.ts';
import { Daemon } from '../daemon/index.ts';
import { startHttp } from '../daemon/metrics.ts';
import { KubeClient } from '../kube/index.ts';
import { formatCIDR, parseCIDR } from '../net/index.ts';

/** Parsed options of `hybridnet daemon` (commander camel-cases the flag names; all values are strings). */
export interface DaemonFlags {
  kubeconfig?: string;
  nodeName?: string;
  bindSocket: string;
  stateDir: string;
  preferInterfaces: string;
  preferVlanInterfaces: string;
  preferVxlanInterfaces: string;
  preferBgpInterfaces: string;
  bgpGrpcServerAddr: string;
  healthProbeAddr: string;
  metricsAddr: string;
  localDirectTable: string;
  toOverlayTable: string;
  overlayMarkTable: string;
  vxlanUdpPort: string;
  iptablesCheckDuration: string;
  ipInstanceWaitTimeout: string;
  checkPodConnectivityFromHost: string;
  updateIpinstanceStatus: string;
  patchCalicoPodIpsAnnotation: string;
  logLevel: string;
  neighGcThresh1: string;
  neighGcThresh2: string;
  neighGcThresh3: string;
  ipv6RouteCacheMaxSize: string;
  ipv6RouteCacheGcThresh: string;
  extraNodeLocalVxlanIpCidrs: string;
  vlanCheckTimeout: string;
  vlanDuplicateProbeTimeout: string;
  linkMonitor: string;
  /** `--enable-vlan-arp-enhancement`; optional so that callers building flags by hand get the default (true). */
  enableVlanArpEnhancement?: string;
}

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

/** Parses a Go-style duration (`5s`, `300ms`, `1m`) or plain seconds into ms. */
export function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit]!;
}

/** Parses a boolean flag value (`true` / `false`, as Go's flag package prints them); throws naming the flag. */
function boolFlag(flag: string, text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new Error(`${flag}=${JSON.stringify(text)}: expected true or false`);
}

function nonNegative(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}=${JSON.stringify(text)}: expected an integer ≥ 0`);
  return n;
}

/** Builds the daemon settings from flags + environment. */
export function daemonConfigFromFlags(f: DaemonFlags, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const c = defaultDaemonConfig(env);
  c.nodeName = f.nodeName ?? c.nodeName;
  c.socket = f.bindSocket;
  c.stateDir = f.stateDir;
  c.preferVlanInterfaces = list(f.preferVlanInterfaces || f.preferInterfaces);
  c.preferVxlanInterfaces = list(f.preferVxlanInterfaces);
  c.preferBgpInterfaces = list(f.preferBgpInterfaces ?? '');
  c.bgpGrpcServerAddr = f.bgpGrpcServerAddr ?? c.bgpGrpcServerAddr;
  c.healthAddr = f.healthProbeAddr;
  c.metricsAddr = f.metricsAddr;
  c.localDirectTable = Number(f.localDirectTable);
  c.toOverlayTable = Number(f.toOverlayTable);
  c.overlayMarkTable = Number(f.overlayMarkTable);
  c.vxlanUdpPort = Number(f.vxlanUdpPort);
  c.resyncMs = durationMs(f.iptablesCheckDuration);
  c.ipInstanceWaitMs = durationMs(f.ipInstanceWaitTimeout);
  c.checkPodConnectivityFromHost = f.checkPodConnectivityFromHost === 'true';
  c.updateIPInstanceStatus = f.updateIpinstanceStatus === 'true';
  c.patchCalicoPodIPsAnnotation = f.patchCalicoPodIpsAnnotation === 'true';
  c.neighGcThresh = [
    nonNegative('--neigh-gc-thresh1', f.neighGcThresh1),
    nonNegative('--neigh-gc-thresh2', f.neighGcThresh2),
    nonNegative('--neigh-gc-thresh3', f.neighGcThresh3),
  ];
  c.ipv6RouteMaxSize = nonNegative('--ipv6-route-cache-max-size', f.ipv6RouteCacheMaxSize);
  c.ipv6RouteGcThresh = nonNegative('--ipv6-route-cache-gc-thresh', f.ipv6RouteCacheGcThresh);
  c.extraNodeLocalVxlanIPCidrs = list(f.extraNodeLocalVxlanIpCidrs).map((x) =>
    formatCIDR(parseCIDR(x, '--extra-node-local-vxlan-ip-cidrs')),
  );
  c.vlanCheckTimeoutMs = durationMs(f.vlanCheckTimeout);
  c.vlanDuplicateProbeMs = durationMs(f.vlanDuplicateProbeTimeout);
  c.linkMonitor = f.linkMonitor === 'true';
  c.vlanArpEnhancement = boolFlag('--enable-vlan-arp-enhancement', f.enableVlanArpEnhancement ?? 'true');
  return c;
}

/** Registers `hybridnet daemon`. */
export function registerDaemonCommand(program: Command): void {
  program
    .command('daemon')
    .description('node agent: pod datapath (veth, routes, VXLAN, iptables) and the CNI API on a unix socket')
    .option('--kubeconfig <path>', 'kubeconfig file (default: in-cluster, then $KUBECONFIG)')
    .option('--node-name <name>', 'node name (default $KUBE_NODE_NAME)')
    .option('--bind-socket <path>', 'unix socket of the CNI API', '/var/run/hybridnet.sock')
    .option('--state-dir <dir>', 'attachment records', '/var/lib/hybridnet')
    .option('--prefer-interfaces <list>', 'deprecated: VLAN parent interfaces', '')
    .option('--prefer-vlan-interfaces <list>', 'VLAN parent interfaces, first existing wins', '')
    .option('--prefer-vxlan-interfaces <list>', 'VXLAN parent interfaces, first existing wins', '')
    .option('--prefer-bgp-interfaces <list>', 'BGP interfaces, first existing wins', '')
    .option('--bgp-grpc-server-addr <addr>', 'gRPC API of the node BGP speaker (gobgpd)', ':50051')
    .option('--health-probe-addr <addr>', '/live and /ready', ':11021')
    .option('--metrics-addr <addr>', '/metrics', ':8091')
    .option('--local-direct-table <n>', 'table of local pod routes', '39999')
    .option('--to-overlay-table <n>', 'table of overlay subnet routes', '40000')
    .option('--overlay-mark-table <n>', 'table of marked overlay replies', '40001')
    .option('--vxlan-udp-port <n>', 'VXLAN UDP port', '8472')
    .option('--iptables-check-duration <d>', 'period of the full resync', '5s')
    .option('--ip-instance-wait-timeout <d>', 'how long ADD waits for the IPInstances (D5)', '30s')
    .option('--check-pod-connectivity-from-host <bool>', 'ping a new pod from the node', 'true')
    .option('--update-ipinstance-status <bool>', 'write IPInstance status on ADD', 'true')
    .option('--patch-calico-pod-ips-annotation <bool>', 'write cni.projectcalico.org/podIPs', 'true')
    .option('--neigh-gc-thresh1 <n>', 'net.ipv{4,6}.neigh.default.gc_thresh1 (0: leave alone)', '1024')
    .option('--neigh-gc-thresh2 <n>', 'net.ipv{4,6}.neigh.default.gc_thresh2 (0: leave alone)', '2048')
    .option('--neigh-gc-thresh3 <n>', 'net.ipv{4,6}.neigh.default.gc_thresh3 (0: leave alone)', '4096')
    .option('--ipv6-route-cache-max-size <n>', 'net.ipv6.route.max_size (0: leave alone)', '524288')
    .option('--ipv6-route-cache-gc-thresh <n>', 'net.ipv6.route.gc_thresh (0: leave alone)', '65536')
    .option('--extra-node-local-vxlan-ip-cidrs <list>', 'host addresses in these CIDRs are node-local VXLAN IPs', '')
    .option('--vlan-check-timeout <d>', 'ADD: wait this long for the VLAN gateway to answer ARP', '3s')
    .option(
      '--vlan-duplicate-probe-timeout <d>',
      'ADD: listen this long for a duplicate of a VLAN pod IP (0: off)',
      '200ms',
    )
    .option('--link-monitor <bool>', 'reconcile on ip monitor link/address events', 'true')
    .option(
      '--enable-vlan-arp-enhancement <bool>',
      'keep one local pod IP (noprefixroute, scope link) per IPv4 VLAN subnet on its VLAN interface (SPEC §7.6)',
      'true',
    )
    .option('--log-level <level>', 'pino log level', 'info')
    .action(async (flags: DaemonFlags) => {
      const logger = pino({ level: flags.logLevel, base: { component: 'daemon' } });
      let config: DaemonConfig;
      try {
        config = daemonConfigFromFlags(flags);
      } catch (err) {
        logger.fatal({ err }, 'invalid configuration');
        process.exit(2);
      }
      if (!config.nodeName) {
        logger.fatal('KUBE_NODE_NAME (or --node-name) is required');
        process.exit(2);
      }
      const kc = new KubeConfig();
      if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
      else kc.loadFromDefault();
      const client = await KubeClient.fromKubeConfig(kc, 16, `hybridnet-daemon-${config.nodeName}`);
      const daemon = new Daemon(client, config, logger.child({ node: config.nodeName }));
      if (config.healthAddr)
        await startHttp(config.healthAddr, {
          '/live': () => [200, 'ok\n'],
          '/ready': () => (daemon.ready() ? [200, 'ok\n'] : [503, 'not ready\n']),
        });
      if (config.metricsAddr)
        await startHttp(config.metricsAddr, {
          '/metrics': async () => [200, await daemon.metrics.registry.metrics(), daemon.metrics.registry.contentType],
        });
      const ac = new AbortController();
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => ac.abort());
      try {
        await daemon.run(ac.signal);
        client.close();
        process.exit(0);
      } catch (err) {
        logger.fatal({ err }, 'daemon failed');
        process.exit(1);
      }
    });
}
