/**
 * Link / address change trigger of the daemon (SPEC §7.1 netlink subscriptions: link UP on non-container interfaces
 * ⇒ resync subnets and IPInstances; address add/del ⇒ resync NodeInfo): a child `ip -o monitor link address`
 * (iproute2) in the daemon's namespace; each line about a non-container interface calls `onChange` (the daemon's
 * debounced reconcile). The child runs under `setpriv --pdeathsig KILL` so that it never outlives the daemon; it is restarted with a doubling back-off (1 s … 30 s) when it exits, and killed by
 * {@link LinkMonitor.stop}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { isContainerInterface } from '../plan/host.ts';

/**
 * The interface an `ip -o monitor link address` line is about (`3: eth0    inet 10.0.0.1/24 …`,
 * `Deleted 3: eth0 …`, `5: veth0@x_h: <BROADCAST…> …`), or undefined for other lines.
 */
export function monitorLineInterface(line: string): string | undefined {
  return /^(?:Deleted\s+)?\d+:\s+([^\s:@]+)/.exec(line)?.[1];
}

/** True when a monitor line should trigger a reconcile: it names an interface that is not container-ish. */
export function monitorLineRelevant(line: string): boolean {
  const name = monitorLineInterface(line);
  return name !== undefined && !isContainerInterface(name);
}

/** The `ip monitor` child and its restarts. */
export class LinkMonitor {
  private child: ChildProcess | undefined;
  private stopped = false;
  private backoffMs = 1000;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onChange: () => void,
    private readonly logger: Logger,
    // setpriv (util-linux): the child gets SIGKILL when the daemon dies, even by SIGKILL
    private readonly command: [string, ...string[]] = [
      'setpriv',
      '--pdeathsig',
      'KILL',
      'ip',
      '-o',
      'monitor',
      'link',
      'address',
    ],
  ) {}

  /** Starts the child (idempotent). */
  start(): void {
    if (this.stopped || this.child) return;
    const [cmd, ...args] = this.command;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const startedAt = Date.now();
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (monitorLineRelevant(line)) this.onChange();
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
    child.on('error', (err) => this.logger.error({ err }, 'ip monitor could not start'));
    child.on('close', (code, signal) => {
      this.child = undefined;
      if (this.stopped) return;
      if (Date.now() - startedAt > 30_000) this.backoffMs = 1000;
      this.logger.warn(
        { code, signal, stderr: stderr.trim(), retryInMs: this.backoffMs },
        'ip monitor exited; link/address changes are seen only by the periodic resync until it restarts',
      );
      this.restartTimer = setTimeout(() => this.start(), this.backoffMs);
      this.restartTimer.unref();
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
      // something may have changed while nobody listened
      this.onChange();
    });
  }

  /** Kills the child and stops restarting it. */
  stop(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.child?.kill('SIGTERM');
    this.child = undefined;
  }
}
