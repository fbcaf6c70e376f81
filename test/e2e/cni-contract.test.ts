/**
 * The kubelet stand-in's CNI calling contract, checked with Debian's reference plugins (`bridge` + `host-local` +
 * `tuning` + `loopback` from /usr/lib/cni, real plugins) in real namespaces: the same CniRuntime the stand-in uses
 * attaches a pod like containerd's CRI (loopback network, then the conflist with chained prevResult), the pod reaches
 * its gateway, and teardown is two DELs — the first with the netns and the cached prevResult, the second with an
 * empty CNI_NETNS and no prevResult — after which host-local has released the address.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniRuntime, LOOPBACK_CONFLIST, type CniCallRecord, type NetConfList } from '../../src/sandbox/cni-runtime.ts';
import { execIn, ipIn, run } from '../../src/sandbox/exec.ts';

const isRoot = process.getuid?.() === 0;
const haveRef = existsSync('/usr/lib/cni/bridge') && existsSync('/usr/lib/cni/host-local');
// Random names: two copies of this suite may run at the same time.
const tag = randomBytes(2).toString('hex');
const NODE = `hk${tag}-node`;
const POD = `hk${tag}-pod-1`;

describe.skipIf(!isRoot || !haveRef)(
  'kubelet stand-in CNI contract with reference plugins: root + netns (real)',
  () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'hnk-'));
    const bin = path.join(tmp, 'bin');
    const dataDir = path.join(tmp, 'ipam');
    const calls: CniCallRecord[] = [];
    const list: NetConfList = {
      cniVersion: '1.0.0',
      name: 'refnet',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipam: { type: 'host-local', subnet: '10.99.0.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.rp_filter': '0' } },
      ],
    };
    const pod = { namespace: 'default', name: 'ref-1', uid: 'uid-ref-1', sandboxId: 'c0ffee'.repeat(10) + 'abcd' };

    beforeAll(async () => {
      for (const n of [NODE, POD]) await run(['ip', 'netns', 'del', n]).catch(() => '');
      await run(['ip', 'netns', 'add', NODE]);
      await run(['ip', 'netns', 'add', POD]);
      // The plugins must run in the node's namespace (the stand-in runs there): wrappers enter it, like the
      // harness's SPY wrappers; they change nothing else.
      await run(['mkdir', '-p', bin]);
      for (const p of ['bridge', 'host-local', 'tuning', 'loopback']) {
        const f = path.join(bin, p);
        writeFileSync(f, `#!/bin/sh\nexec nsenter --net=/run/netns/${NODE} /usr/lib/cni/${p}\n`);
        chmodSync(f, 0o755);
      }
    });

    afterAll(async () => {
      for (const n of [NODE, POD]) await run(['ip', 'netns', 'del', n]).catch(() => '');
      await run(['rm', '-rf', tmp]);
    });

    it('ADD: loopback then the conflist, env and stdin as CRI sets them; the pod reaches its gateway', async () => {
      const cni = new CniRuntime({ binDirs: [bin], cacheDir: path.join(tmp, 'cache'), record: (r) => calls.push(r) });
      await cni.add(LOOPBACK_CONFLIST, pod, `/run/netns/${POD}`, 'lo');
      const result = await cni.add(list, pod, `/run/netns/${POD}`, 'eth0');
      const ips = (result?.ips ?? []) as { address: string }[];
      expect(ips[0]?.address).toMatch(/^10\.99\.0\.\d+\/24$/);
      expect(await ipIn(POD, ['-o', 'addr', 'show', 'dev', 'eth0'])).toContain(ips[0]?.address ?? '?');
      await execIn(POD, ['ping', '-c', '1', '-W', '2', '10.99.0.1']);

      expect(calls.map((c) => `${c.command} ${c.plugin}`)).toEqual(['ADD loopback', 'ADD bridge', 'ADD tuning']);
      const bridgeAdd = calls[1];
      expect(bridgeAdd?.env).toEqual({
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: pod.sandboxId,
        CNI_NETNS: `/run/netns/${POD}`,
        CNI_IFNAME: 'eth0',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=ref-1;K8S_POD_INFRA_CONTAINER_ID=${pod.sandboxId};K8S_POD_UID=uid-ref-1`,
        CNI_PATH: bin,
      });
      expect(calls[0]?.env.CNI_IFNAME).toBe('lo');
      const tuningIn = JSON.parse(calls[2]?.stdin ?? '{}') as Record<string, unknown>;
      expect(tuningIn).toMatchObject({ name: 'refnet', cniVersion: '1.0.0', type: 'tuning' });
      expect((tuningIn.prevResult as { ips: unknown[] }).ips).toHaveLength(1);
    });

    it('DEL twice: first with netns + prevResult (reverse order), then empty CNI_NETNS without prevResult', async () => {
      const cni = new CniRuntime({ binDirs: [bin], cacheDir: path.join(tmp, 'cache'), record: (r) => calls.push(r) });
      calls.length = 0;
      await cni.del(list, pod, `/run/netns/${POD}`, 'eth0', true);
      await run(['ip', 'netns', 'del', POD]);
      await cni.del(list, pod, '', 'eth0', false);
      expect(calls.map((c) => `${c.command} ${c.plugin} netns=${c.env.CNI_NETNS ?? ''}`)).toEqual([
        `DEL tuning netns=/run/netns/${POD}`,
        `DEL bridge netns=/run/netns/${POD}`,
        'DEL tuning netns=',
        'DEL bridge netns=',
      ]);
      const stdins = calls.map((c) => JSON.parse(c.stdin) as Record<string, unknown>);
      expect(stdins[0]?.prevResult).toBeDefined();
      expect(stdins[1]?.prevResult).toBeDefined();
      expect(stdins[2]?.prevResult).toBeUndefined();
      expect(stdins[3]?.prevResult).toBeUndefined();
      expect(calls.every((c) => c.exitCode === 0)).toBe(true);
      // host-local released the address: only its lock/last-reserved files remain.
      const left = readdirSync(path.join(dataDir, 'refnet')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
      expect(left).toEqual([]);
    });
  },
);
