/**
 * Per-attachment records of the daemon (`<state-dir>/containers/<containerID>.json`): which host veth, netns and pod
 * an ADD created. DEL is scoped by container ID through them (a stale DEL of an old sandbox never removes the veth of
 * the new one), GC compares them with the runtime's valid attachments, and a restarted daemon finds its pods again.
 * DELs the CNI plugin queued while the daemon was down live in `<socket dir>/hybridnet-pending-del/<containerID>`.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

/** One attachment created by ADD. */
export interface Attachment {
  containerID: string;
  ifName: string;
  netns: string;
  hostVeth: string;
  podNamespace: string;
  podName: string;
  podUID: string;
  networkName: string;
  ips: string[];
  createdAt: string;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The attachment store (files; atomic rename on write). */
export class AttachmentStore {
  constructor(
    readonly dir: string,
    readonly pendingDir: string,
  ) {}

  private file(id: string): string {
    if (!SAFE_ID.test(id)) throw new Error(`container ID ${JSON.stringify(id)} has invalid characters`);
    return path.join(this.dir, 'containers', `${id}.json`);
  }

  /**
   * Saves (replaces) the record of `a.containerID`: written beside it and renamed over it, so a crash leaves the old
   * record or the new one. Synchronous inside: ADD waits for this record before it creates anything, the file is a
   * few hundred bytes in the page cache, and two asynchronous calls cost two thread-pool round trips (2–3 ms under
   * load, measured by the ADD phases). Throws the file-system error.
   */
  async put(a: Attachment): Promise<void> {
    const f = this.file(a.containerID);
    const data = JSON.stringify(a);
    try {
      writeFileSync(`${f}.tmp`, data);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(`${f}.tmp`, data);
    }
    renameSync(`${f}.tmp`, f);
    return Promise.resolve();
  }

  /** The record of a container, or undefined. */
  async get(id: string): Promise<Attachment | undefined> {
    try {
      return JSON.parse(await readFile(this.file(id), 'utf8')) as Attachment;
    } catch {
      return undefined;
    }
  }

  /** Removes the record (missing is fine). */
  async remove(id: string): Promise<void> {
    await rm(this.file(id), { force: true });
  }

  /** Every record. */
  async list(): Promise<Attachment[]> {
    let names: string[];
    try {
      names = await readdir(path.join(this.dir, 'containers'));
    } catch {
      return [];
    }
    const out: Attachment[] = [];
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      const a = await this.get(n.slice(0, -5));
      if (a) out.push(a);
    }
    return out;
  }

  /** Container IDs whose DEL was queued while the daemon was away (see `hybridnet` CNI plugin). */
  async pendingDeletes(): Promise<string[]> {
    try {
      return (await readdir(this.pendingDir)).filter((n) => SAFE_ID.test(n));
    } catch {
      return [];
    }
  }

  /** Drops a queued DEL. */
  async clearPendingDelete(id: string): Promise<void> {
    await rm(path.join(this.pendingDir, id), { force: true });
  }
}

/** Directory where the plugin queues DELs for a daemon listening on `socket`. */
export function pendingDeleteDir(socket: string): string {
  return path.join(path.dirname(socket), 'hybridnet-pending-del');
}
