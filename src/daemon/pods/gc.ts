/**
 * CNI GC (D7) and the daemon's own garbage collection of attachments: DELs the plugin queued while it could not
 * reach the daemon (at start-up and every resync), and, after a restart, attachments whose netns is gone.
 */
import { existsSync } from 'node:fs';
import { CniRequestError } from '../config.ts';
import type { PodContext } from './context.ts';
import { removeAttachmentLocked } from './del.ts';

/**
 * CNI GC: removes the attachments of `networkName` not in `valid` (the runtime's valid attachments), then schedules
 * a node reconcile.
 * @throws CniRequestError code 7 when `networkName` is empty.
 */
export async function gcPods(
  ctx: PodContext,
  networkName: string,
  valid: { containerID: string; ifname: string }[],
): Promise<void> {
  if (!networkName) throw new CniRequestError(400, 7, 'GC needs the network name of the configuration (name)');
  const keep = new Set(valid.map((v) => `${v.containerID}|${v.ifname}`));
  for (const a of await ctx.store.list())
    if (a.networkName === networkName && !keep.has(`${a.containerID}|${a.ifName}`)) {
      ctx.logger.info({ containerID: a.containerID, pod: a.podName }, 'gc: removing attachment');
      await removeAttachmentLocked(ctx, a);
    }
  ctx.node.trigger();
}

/**
 * DELs the plugin queued because it could not finish talking to the daemon (down, restarting, or the connection cut
 * mid-answer): done at start-up and on every resync, so a queued DEL never waits for the next restart.
 */
export async function processPendingDeletes(ctx: PodContext): Promise<void> {
  for (const id of await ctx.store.pendingDeletes()) {
    const a = await ctx.store.get(id);
    if (a) {
      ctx.logger.info({ containerID: id, pod: a.podName }, 'handling a DEL the CNI plugin queued');
      await removeAttachmentLocked(ctx, a);
    }
    await ctx.store.clearPendingDelete(id);
  }
}

/** After a restart: DELs queued while down, and attachments whose netns is gone; then a node reconcile. */
export async function startupGC(ctx: PodContext): Promise<void> {
  await processPendingDeletes(ctx);
  for (const a of await ctx.store.list())
    if (!a.netns || !existsSync(a.netns)) {
      ctx.logger.info({ containerID: a.containerID, pod: a.podName }, 'gc: netns gone, removing attachment');
      await removeAttachmentLocked(ctx, a);
    }
  ctx.node.trigger();
}
