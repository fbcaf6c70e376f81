/**
 * containerd's `ctr run --cni` as the CNI client (root + netns (real)): Debian's containerd 1.6 and runc start
 * busybox containers whose network comes from our plugin binary through go-cni/libcni inside ctr — a client we do not
 * control. ctr sends no Kubernetes CNI_ARGS, so the conflist names the pod in `args.cni`; it passes
 * `CNI_CONTAINERID=<namespace>-<id>`, a `/proc/<pid>/ns/net` netns, and on teardown a DEL with an empty CNI_NETNS
 * and the cached prevResult. Two nodes run real daemons against a real API server and manager; the containers talk
 * over VXLAN to each other and, masqueraded, to the outside host.
 *
 * ctr reads only the first file of the fixed directory /etc/cni/net.d and looks for plugins in /opt/cni/bin then
 * /usr/lib/cni (see ../shared/harness/ctr-cni.sh): the test adds one uniquely named conflist and one uniquely named
 * plugin file there and removes both (and the directories, if it created them) at the end.
 */
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  rmdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_NETWORK_TYPE,
  IPInstanceResource,
  LABEL_POD,
  type IPInstance,
} from '../../src/api/index.ts';
import { resourcePath, type KubeClient } from '../../src/kube/index.ts';
import { eventually } from '../fixture/kube.ts';
import { createPod, killChild, overlayNetwork, subnet } from '../manager/helpers.ts';
import { startTestCluster, type TestCluster } from './cluster-fixture.ts';
import { CNI_BIN, type Harness, ping, sh, type TestNode } from './harness.ts';

const isRoot = process.getuid?.() === 0;
const have = (p: string): boolean =>
  ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => existsSync(path.join(d, p)));
const haveTools = have('ctr') && have('containerd') && have('runc') && existsSync('/bin/busybox');

const CONF_DIR = '/etc/cni/net.d';
const BIN_DIR = '/opt/cni/bin';

describe.skipIf(!isRoot || !haveTools)(
  'ctr run --cni (containerd 1.6 + runc) with our plugin (root + netns (real))',
  () => {
    const tag = randomBytes(3).toString('hex');
    const pluginName = `hybridnet-t${tag}`;
    const confFile = path.join(CONF_DIR, `00-hn${tag}.conflist`);
    const pluginFile = path.join(BIN_DIR, pluginName);
    let created: string[] = [];
    let cluster: TestCluster | undefined;
    let c: KubeClient;
    let h: Harness;
    let containerd: ChildProcess | undefined;
    let base = '';
    let sock = '';

    const ctr = (...args: string[]): ReturnType<typeof sh> =>
      sh('ctr', ['-a', sock, '-n', 'hntest', ...args], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        timeoutMs: 120_000,
      });

    /** Points ctr's (only) network configuration at `n`'s daemon, naming pod `podName`. */
    function writeConflist(n: TestNode, podName: string): void {
      writeFileSync(
        confFile,
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'hybridnet',
          plugins: [
            {
              type: pluginName,
              server_socket: n.socket,
              args: { cni: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: podName } },
            },
            { type: 'loopback' },
          ],
        }),
      );
      const first = readdirSync(CONF_DIR)
        .filter((f) => /\.(conf|conflist|json)$/.test(f))
        .sort()[0];
      if (first !== path.basename(confFile))
        throw new Error(
          `ctr would use ${CONF_DIR}/${first}, not our ${confFile}: remove or rename it to run this test`,
        );
    }

    /** A private busybox rootfs (Debian's busybox-static) for one container. */
    function rootfs(name: string): string {
      const dir = path.join(base, `rootfs-${name}`);
      for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp', 'run'])
        mkdirSync(path.join(dir, d), { recursive: true });
      copyFileSync('/bin/busybox', path.join(dir, 'bin/busybox'));
      for (const applet of ['sh', 'ip', 'ping', 'sleep', 'cat', 'nc'])
        symlinkSync('busybox', path.join(dir, 'bin', applet));
      writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
      return dir;
    }

    async function ipInstancesOf(pod: string): Promise<IPInstance[]> {
      const l = await c.get<{ items: IPInstance[] }>(resourcePath(IPInstanceResource, 'default'));
      return l.items.filter((i) => i.status?.podName === pod || i.metadata?.labels?.[LABEL_POD] === pod);
    }

    /** containerd's tasks and containers, containerd itself, then the mounts it left (before the directory goes). */
    async function stopContainerd(): Promise<void> {
      if (containerd && sock) {
        const tasks = (await ctr('task', 'ls', '-q')).stdout.split('\n').filter(Boolean);
        for (const t of tasks) {
          await ctr('task', 'kill', '-s', 'KILL', t);
          await ctr('task', 'rm', '-f', t);
        }
        for (const ct of (await ctr('container', 'ls', '-q')).stdout.split('\n').filter(Boolean))
          await ctr('container', 'rm', ct);
      }
      if (containerd) await killChild(containerd, 'SIGTERM');
      // mounts left under the containerd root (rootfs bind mounts of killed tasks) before the directory goes
      if (base) {
        const mounts = (await sh('sh', ['-c', `grep -o '${base}/[^ ]*' /proc/mounts | sort -r`])).stdout;
        for (const m of mounts.split('\n').filter(Boolean)) await sh('umount', ['-l', m]);
      }
    }

    beforeAll(async () => {
      for (const d of ['/etc/cni', CONF_DIR, '/opt/cni', BIN_DIR])
        if (!existsSync(d)) {
          mkdirSync(d);
          created.push(d);
        }
      cluster = await startTestCluster({
        nodes: [1, 2],
        publishAddresses: false,
        networks: [overlayNetwork('overlay', 4)],
        subnets: [subnet('overlay-v4', 'overlay', '4', '10.211.0.0/16')],
        managerArgs: ['--identity=ctr-manager', '--metrics-port=0', '--leader-elect-lease-duration=4'],
        managerEnv: { DEFAULT_NETWORK_TYPE: 'Overlay' },
        waitNetwork: 'overlay',
        beforeStop: stopContainerd,
      });
      ({ c, h } = cluster);
      copyFileSync(CNI_BIN, pluginFile);
      base = path.join(h.dir, 'ctrd');
      sock = path.join(base, 'c.sock');
      mkdirSync(base, { recursive: true });
      writeFileSync(
        path.join(base, 'config.toml'),
        [
          'version = 2',
          `root = "${base}/root"`,
          `state = "${base}/state"`,
          'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
          '[grpc]',
          `  address = "${sock}"`,
          '[ttrpc]',
          `  address = "${sock}.ttrpc"`,
          '[debug]',
          `  address = "${base}/debug.sock"`,
          '',
        ].join('\n'),
      );
      containerd = h.spawn(
        'containerd',
        ['--config', path.join(base, 'config.toml')],
        path.join(base, 'containerd.log'),
      );
      await eventually('containerd answers', async () => (await ctr('version')).code === 0, 30_000);
    }, 240_000);

    afterAll(async () => {
      await cluster?.stop();
      rmSync(confFile, { force: true });
      rmSync(pluginFile, { force: true });
      for (const d of created.reverse()) {
        try {
          rmdirSync(d);
        } catch {
          // someone else put files there meanwhile: leave it
        }
      }
      created = [];
    }, 90_000);

    it('a detached container and a --rm container get working pods; they reach each other over VXLAN and the outside', async () => {
      await createPod(c, 'default', 'ctr-a', {
        nodeName: 'node1',
        annotations: { [ANNOTATION_NETWORK_TYPE]: 'Overlay', [ANNOTATION_IP_FAMILY]: 'IPv4' },
      });
      await createPod(c, 'default', 'ctr-b', {
        nodeName: 'node2',
        annotations: { [ANNOTATION_NETWORK_TYPE]: 'Overlay', [ANNOTATION_IP_FAMILY]: 'IPv4' },
      });
      writeConflist(h.node('node1'), 'ctr-a');
      const a = await ctr('run', '-d', '--cni', '--rootfs', rootfs('a'), 'ctr-a', '/bin/sleep', '600');
      expect(a.code, a.stdout + a.stderr).toBe(0);
      const [insA] = await eventually('ctr-a has an IPInstance bound to its sandbox', async () => {
        const l = await ipInstancesOf('ctr-a');
        return l.length === 1 && l[0]?.status?.sandboxID ? l : undefined;
      });
      // ctr's container ID convention: <namespace>-<id>
      expect(insA?.status?.sandboxID).toBe('hntest-ctr-a');
      const ipA = insA?.spec.address.ip.split('/')[0] ?? '';
      expect(ipA).toMatch(/^10\.211\./);
      expect(await ping(h.node('node2').ns, ipA), 'node2 reaches the detached container over VXLAN').toBe(true);

      writeConflist(h.node('node2'), 'ctr-b');
      const b = await ctr(
        'run',
        '--rm',
        '--cni',
        '--rootfs',
        rootfs('b'),
        'ctr-b',
        '/bin/sh',
        '-c',
        `ip -4 -o addr show eth0; ip route; ping -c2 -W2 ${ipA} && ping -c2 -W2 172.30.0.2 && echo REACHED-ALL`,
      );
      expect(b.code, b.stdout + b.stderr).toBe(0);
      expect(b.stdout).toMatch(/eth0\s+inet 10\.211\./);
      expect(b.stdout).toContain('default via 169.254.1.1 dev eth0');
      expect(b.stdout).toContain('REACHED-ALL');
      // --rm: ctr ran DEL after the task exited (empty CNI_NETNS, cached prevResult): no veth of ctr-b is left on node2
      const links = await sh('ip', ['-n', h.node('node2').ns, '-o', 'link', 'show']);
      expect(links.stdout.split('\n').filter((l) => /hybr/.test(l))).toEqual([]);
    }, 180_000);

    it('killing and deleting the detached task runs DEL: the pod address stops answering and nothing is left', async () => {
      const insA = (await ipInstancesOf('ctr-a'))[0];
      const ipA = insA?.spec.address.ip.split('/')[0] ?? '';
      expect(await ping(h.node('node2').ns, ipA)).toBe(true);
      expect((await ctr('task', 'kill', '-s', 'KILL', 'ctr-a')).code).toBe(0);
      await eventually('task ctr-a stopped', async () => (await ctr('task', 'ls')).stdout.includes('STOPPED'), 20_000);
      const rm = await ctr('task', 'rm', 'ctr-a');
      expect(rm.code, rm.stdout + rm.stderr).toBe(0);
      expect((await ctr('container', 'rm', 'ctr-a')).code).toBe(0);
      const links = await sh('ip', ['-n', h.node('node1').ns, '-o', 'link', 'show']);
      expect(links.stdout.split('\n').filter((l) => /hybr/.test(l))).toEqual([]);
      expect(await ping(h.node('node2').ns, ipA)).toBe(false);
    }, 120_000);
  },
);
