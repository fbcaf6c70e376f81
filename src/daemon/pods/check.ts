/**
 * CNI CHECK (SPEC §7.3, D7): the attachment is recorded, its host veth exists, and the container interface has the
 * recorded addresses and a default route per family. Reads only.
 */
import { CniRequestError } from '../config.ts';
import { readLinks } from '../apply/read.ts';
import type { PodRequest } from '../server.ts';
import type { PodContext } from './context.ts';

/**
 * Pod CHECK of the attachment of `req.containerID`.
 * @throws CniRequestError code 3 when the container has no attachment here, 100 naming what is missing.
 */
export async function checkPod(ctx: PodContext, req: PodRequest): Promise<void> {
  const a = await ctx.store.get(req.containerID);
  if (!a) throw new CniRequestError(400, 3, `container ${req.containerID} has no hybridnet attachment on this node`);
  const who = `${a.podNamespace}/${a.podName}`;
  const links = await readLinks(ctx.runner);
  if (!links.some((l) => l.name === a.hostVeth))
    throw new CniRequestError(500, 100, `pod ${who}: host veth ${a.hostVeth} is missing`);
  const inPod = (args: string[]): Promise<string> =>
    ctx.runner('nsenter', [`--net=${req.netns || a.netns}`, '--', ...args]);
  const addrOut = await inPod(['ip', '-json', 'addr', 'show', 'dev', req.ifName]).catch(() => {
    throw new CniRequestError(500, 100, `pod ${who}: interface ${req.ifName} is missing in ${a.netns}`);
  });
  const have = new Set(
    (JSON.parse(addrOut) as { addr_info?: { local: string; prefixlen: number }[] }[]).flatMap((l) =>
      (l.addr_info ?? []).map((x) => `${x.local}/${x.prefixlen}`),
    ),
  );
  for (const ip of a.ips)
    if (!have.has(ip)) throw new CniRequestError(500, 100, `pod ${who}: address ${ip} is missing on ${req.ifName}`);
  for (const fam of new Set(a.ips.map((ip) => (ip.includes(':') ? '-6' : '-4')))) {
    const r = await inPod(['ip', fam, '-json', 'route', 'show', 'default']);
    if ((JSON.parse(r.trim() || '[]') as unknown[]).length === 0)
      throw new CniRequestError(500, 100, `pod ${who}: default route (${fam}) is missing`);
  }
}
