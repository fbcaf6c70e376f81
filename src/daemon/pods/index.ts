/**
 * The pods room (SPEC §7.3, D7): the CNI verbs of the daemon, one module each (add.ts, del.ts, check.ts, gc.ts),
 * the attachment records and queued DELs (attachments.ts), the per container / per pod locks (context.ts), and the
 * API side of ADD (pod-api.ts: the IPInstance wait, the status and annotation patches).
 *
 * Owns the pods' host veths and namespaces, the attachment records under `--state-dir` and the queued DELs. Reaches
 * the node tables only through {@link NodeTables} (the node room) and gobgpd only through {@link PodRoutes} (the BGP
 * room); may not run a reconcile, read or write the node's rules and routes, or take the datapath lock itself.
 */
import type { DaemonMetrics } from '../metrics.ts';
import type { PodRequest, ValidAttachment } from '../server.ts';
import { addPod } from './add.ts';
import { checkPod } from './check.ts';
import type { PodContext } from './context.ts';
import { delPod } from './del.ts';
import { gcPods, processPendingDeletes, startupGC } from './gc.ts';

export { AttachmentStore, pendingDeleteDir, type Attachment } from './attachments.ts';
export type { NodeTables, PodContext, PodRoutes } from './context.ts';

/** The CNI verbs of one daemon, timed in `hybridnet_cni_*` metrics. */
export class PodHandlers {
  constructor(
    private readonly ctx: PodContext,
    private readonly metrics: DaemonMetrics,
  ) {}

  /** Pod ADD (SPEC §7.3); see {@link addPod}. */
  async add(req: PodRequest): Promise<unknown> {
    const end = this.metrics.timer('add');
    try {
      const out = await addPod(this.ctx, req);
      end('ok');
      return out;
    } catch (err) {
      end('error');
      throw err;
    }
  }

  /** Pod DEL (D7); see {@link delPod}. */
  async del(req: PodRequest): Promise<void> {
    const end = this.metrics.timer('del');
    await delPod(this.ctx, req);
    end('ok');
  }

  /** Pod CHECK (D7); see {@link checkPod}. */
  check(req: PodRequest): Promise<void> {
    return checkPod(this.ctx, req);
  }

  /** CNI GC (D7); see {@link gcPods}. */
  gc(networkName: string, valid: ValidAttachment[]): Promise<void> {
    return gcPods(this.ctx, networkName, valid);
  }

  /** Handles DELs the plugin queued (every resync). */
  processPendingDeletes(): Promise<void> {
    return processPendingDeletes(this.ctx);
  }

  /** Start-up GC: queued DELs and attachments whose netns is gone. */
  startupGC(): Promise<void> {
    return startupGC(this.ctx);
  }
}
