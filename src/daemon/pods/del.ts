/**
 * CNI DEL (SPEC §7.3, D7) and the removal of one attachment (host veth, which takes the pair with it, or the pod
 * end when the host end is gone; then its record), shared with GC. Idempotent, scoped by container ID: a DEL of a
 * sandbox the daemon does not know succeeds.
 */
import { existsSync } from 'node:fs';
import type { PodRequest } from '../server.ts';
import type { Attachment } from './attachments.ts';
import { containerKey, podKey, type PodContext } from './context.ts';

/** Removes an attachment's datapath (host veth; the pair goes with it) and its record. Caller holds its locks. */
async function removeAttachment(ctx: PodContext, a: Attachment): Promise<void> {
  // deleting the host end removes the pair; only when it is already gone look inside the pod namespace
  const gone = await ctx.runner('ip', ['link', 'del', a.hostVeth]).then(
    () => true,
    () => false,
  );
  if (!gone && a.netns && existsSync(a.netns))
    await ctx.runner('nsenter', [`--net=${a.netns}`, '--', 'ip', 'link', 'del', a.ifName]).catch(() => undefined);
  await ctx.store.remove(a.containerID);
}

/** Removes `a` under its container / pod locks, if it is still recorded (GC paths). */
export async function removeAttachmentLocked(ctx: PodContext, a: Attachment): Promise<void> {
  await ctx.locks.run([containerKey(a.containerID), podKey(a.hostVeth)], async () => {
    if (await ctx.store.get(a.containerID)) await removeAttachment(ctx, a);
  });
}

/**
 * Pod DEL: idempotent, scoped by container ID; nothing known ⇒ success (D7). Withdraws the pod's BGP host routes at
 * once (SPEC §7.7) and clears a DEL the plugin had queued for the container.
 */
export async function delPod(ctx: PodContext, req: PodRequest): Promise<void> {
  // Not under the datapath lock (DELs would queue behind every reconcile): serialised with ADD / DEL / GC of the
  // same container, then of the same pod. A reconcile that races a veth deletion fails once and is retried by the
  // node room.
  await ctx.locks.run([containerKey(req.containerID)], async () => {
    const a = await ctx.store.get(req.containerID);
    if (a)
      await ctx.locks.run([podKey(a.hostVeth)], async () => {
        // an ADD of another sandbox of the pod may have taken the veth name (and dropped this record) meanwhile
        const still = await ctx.store.get(req.containerID);
        if (still) await removeAttachment(ctx, still);
        // SPEC §7.7: the pod's host route goes with it, not at the next resync
        if (still) await ctx.bgp.withdraw(still.ips);
      });
    await ctx.store.clearPendingDelete(req.containerID);
  });
  // nothing to reconcile: the pod's routes went with its veth; proxy entries follow the IPInstance (manager)
}
