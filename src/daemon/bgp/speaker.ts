/**
 * The node's BGP speaker (SPEC §7.7): a `gobgpd` (Debian package `gobgpd`, GoBGP v3) run by the daemon in its own
 * network namespace, gRPC API on `--bgp-grpc-server-addr` (default `:50051`, the port operators point the `gobgp`
 * CLI at). Supervision: gobgpd is started detached (own session, pid file `<stateDir>/gobgpd.pid`, log
 * `<stateDir>/gobgpd.log`) so a crash or kill -9 of the daemon leaves it — and the routes of running pods — in
 * place; a restarted daemon adopts it when its API answers, and starts a new one (backoff 1 s doubling to 30 s) when
 * it died. Driving: the `gobgp` CLI (`global`, `neighbor -j`, `global rib add/del`) for everything it covers, gRPC
 * `AddPeer` ({@link addPeerRequest}) for peers since the CLI sets neither TCP-MD5 password nor graceful restart.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Runner } from '../apply/exec.ts';
import type { Family } from '../plan/types.ts';
import { addPeerRequest, grpcUnary } from './grpc.ts';
import type { BgpPathSpec, BgpPeerSpec, BgpPlan, CurrentPeer } from './plan.ts';
import { diffPaths, diffPeers } from './plan.ts';

/** BGP FSM states as GoBGP numbers them (api PeerState.SessionState). */
export const SESSION_STATES = ['Unknown', 'Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'];

/** gobgpd.log above this size is moved to gobgpd.log.1 when gobgpd is (re)started. */
const LOG_ROTATE_BYTES = 16 * 1024 * 1024;

/** NO_EXPORT well-known community (RFC 1997) as GoBGP's JSON prints it. */
const NO_EXPORT = 0xffffff01;

/** A peer as the speaker reports it. */
export interface PeerStatus extends CurrentPeer {
  /** FSM state name (`Established`, `Active`, …). */
  state: string;
  /** FSM state number 0–6. */
  stateCode: number;
  /** NOTIFICATIONs received from the peer since the session was configured. */
  notificationsReceived: number;
  /** Prefixes received from the peer. */
  received: number;
}

/** Result of one {@link BgpSpeaker.sync}. */
export interface BgpSyncReport {
  peersAdded: string[];
  peersDeleted: string[];
  pathsAdded: string[];
  pathsDeleted: string[];
  restarted: boolean;
}

/** Splits `host:port` (`:50051` ⇒ all addresses; the CLI then talks to 127.0.0.1). */
export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = (i < 0 ? '' : addr.slice(0, i)).replace(/^\[|\]$/g, '');
  const port = Number(i < 0 ? addr : addr.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`--bgp-grpc-server-addr ${JSON.stringify(addr)}: expected [host]:port, e.g. :50051`);
  return { host: host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port };
}

interface GobgpPeerJson {
  conf?: { neighbor_address?: string; peer_asn?: number; auth_password?: string };
  state?: {
    session_state?: number;
    messages?: { received?: { notification?: number } };
  };
  afi_safis?: { state?: { received?: number } }[];
}

interface GobgpPathJson {
  nlri?: { prefix?: string };
  attrs?: { type: number; nexthop?: string; communities?: number[] }[];
  best?: boolean;
}

/** Supervises and drives one gobgpd. */
export class BgpSpeaker {
  private readonly cli: string[];
  private readonly target: string;
  private readonly pidFile: string;
  private readonly logFile: string;
  private backoffMs = 1000;
  private nextStartAt = 0;
  /** Set once gobgpd answered: from then on an unreachable API means it died. */
  private pid: number | undefined;

  constructor(
    private readonly opts: {
      stateDir: string;
      apiAddr: string;
      logger: Logger;
      runner: Runner;
      /** Called when a gobgpd this process started exits (the owner schedules a sync, which restarts it). */
      onExit?: () => void;
    },
  ) {
    const { host, port } = splitHostPort(opts.apiAddr);
    this.cli = ['-u', host, '-p', String(port)];
    this.target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.pidFile = path.join(opts.stateDir, 'gobgpd.pid');
    this.logFile = path.join(opts.stateDir, 'gobgpd.log');
  }

  private gobgp(args: string[]): Promise<string> {
    return this.opts.runner('gobgp', [...this.cli, ...args]);
  }

  /** `gobgp global -j`: the running global config, undefined when BGP is not started; throws when gobgpd is down. */
  async global(): Promise<{ asn: number; routerId: string } | undefined> {
    const g = JSON.parse(await this.gobgp(['global', '-j'])) as { asn?: number; router_id?: string };
    return g.asn ? { asn: g.asn, routerId: g.router_id ?? '' } : undefined;
  }

  /**
   * True when `pid` is a running gobgpd serving our API address (`/proc/<pid>/cmdline`): after a reboot the pid file
   * of the state directory may name an unrelated process, which must never be signalled.
   */
  private alive(pid: number): boolean {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return path.basename(argv[0] ?? '') === 'gobgpd' && argv.includes(`--api-hosts=${this.opts.apiAddr}`);
    } catch {
      return false;
    }
  }

  private readPid(): number | undefined {
    try {
      const n = Number(readFileSync(this.pidFile, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /** The PID of the supervised gobgpd (adopted or spawned), if known. */
  get speakerPid(): number | undefined {
    const pid = this.pid ?? this.readPid();
    return pid !== undefined && this.alive(pid) ? pid : undefined;
  }

  /**
   * Makes sure a gobgpd answers: adopts the one of the pid file (or any answering on the API address), else starts
   * one (respecting the restart backoff). Returns true when a new gobgpd was started. Throws when none answers.
   */
  async ensureRunning(): Promise<boolean> {
    if (await this.answers()) {
      this.pid ??= this.speakerPid;
      this.backoffMs = 1000;
      return false;
    }
    const old = this.readPid();
    if (old !== undefined && this.alive(old)) {
      // alive but not answering (starting up, or wedged): give it a moment, then replace it
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (await this.answers()) return false;
      }
      this.opts.logger.warn({ pid: old }, 'gobgpd does not answer on its API; killing it');
      try {
        process.kill(old, 'SIGKILL');
      } catch (err) {
        this.opts.logger.warn({ err, pid: old }, 'kill gobgpd failed');
      }
    }
    if (Date.now() < this.nextStartAt)
      throw new Error(`gobgpd is down; next start attempt in ${this.nextStartAt - Date.now()} ms (backoff)`);
    this.nextStartAt = Date.now() + this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    this.spawnGobgpd();
    for (let i = 0; i < 100; i++) {
      if (await this.answers()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`gobgpd (pid ${this.pid}) does not answer on ${this.target} after 5 s; see ${this.logFile}`);
  }

  private async answers(): Promise<boolean> {
    try {
      await this.global();
      return true;
    } catch {
      return false;
    }
  }

  private spawnGobgpd(): void {
    mkdirSync(this.opts.stateDir, { recursive: true });
    this.rotateLog();
    const fd = openSync(this.logFile, 'a');
    const child = spawn(
      'gobgpd',
      [`--api-hosts=${this.opts.apiAddr}`, '--log-plain', '--log-level=info', '--pprof-disable'],
      { detached: true, stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    child.on('error', (err) =>
      this.opts.logger.error({ err }, 'cannot start gobgpd (is the gobgpd package installed?)'),
    );
    child.once('exit', (code, signal) => {
      this.opts.logger.warn(
        { pid: child.pid, code, signal },
        'gobgpd exited; a sync restarts it (backoff 1 s doubling to 30 s)',
      );
      if (this.pid === child.pid) this.pid = undefined;
      this.opts.onExit?.();
    });
    child.unref();
    this.pid = child.pid;
    if (child.pid) writeFileSync(this.pidFile, `${child.pid}\n`);
    this.opts.logger.info({ pid: child.pid, api: this.opts.apiAddr, log: this.logFile }, 'gobgpd started');
  }

  /**
   * Keeps one generation of gobgpd's log: above {@link LOG_ROTATE_BYTES} it is copied to `gobgpd.log.1` and truncated
   * (gobgpd writes with O_APPEND, so it continues at the new end). A flapping peer must not fill the state directory.
   */
  rotateLog(): void {
    try {
      if (statSync(this.logFile).size <= LOG_ROTATE_BYTES) return;
      copyFileSync(this.logFile, `${this.logFile}.1`);
      truncateSync(this.logFile, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.opts.logger.warn({ err }, 'gobgpd log rotation failed');
    }
  }

  /** Stops the supervised gobgpd (SIGTERM by PID): its peers see the session end (used when no BGP network is left). */
  stop(): void {
    const pid = this.speakerPid;
    if (pid !== undefined && this.alive(pid)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch (err) {
        this.opts.logger.warn({ err, pid }, 'stopping gobgpd failed');
      }
    }
    this.pid = undefined;
  }

  /** Configured peers and their session state (`gobgp neighbor -j`). */
  async peers(): Promise<PeerStatus[]> {
    const rows = JSON.parse((await this.gobgp(['neighbor', '-j'])).trim() || '[]') as GobgpPeerJson[] | null;
    return (rows ?? []).map((r) => {
      const code = r.state?.session_state ?? 0;
      return {
        address: r.conf?.neighbor_address ?? '',
        asn: r.conf?.peer_asn ?? 0,
        password: r.conf?.auth_password ?? '',
        stateCode: code,
        state: SESSION_STATES[code] ?? String(code),
        notificationsReceived: r.state?.messages?.received?.notification ?? 0,
        received: (r.afi_safis ?? []).reduce((n, a) => n + (a.state?.received ?? 0), 0),
      };
    });
  }

  /** Locally originated paths of `family` in the global RIB. */
  async paths(family: Family): Promise<BgpPathSpec[]> {
    const out = (await this.gobgp(['global', 'rib', '-a', family === 4 ? 'ipv4' : 'ipv6', '-j'])).trim();
    if (!out || out === 'null') return [];
    const rib = JSON.parse(out) as Record<string, GobgpPathJson[]>;
    const res: BgpPathSpec[] = [];
    for (const [prefix, list] of Object.entries(rib))
      for (const p of list) {
        const attrs = p.attrs ?? [];
        const nh = attrs.find((a) => a.type === 3 || a.type === 14)?.nexthop ?? '';
        const noExport = attrs.some((a) => a.type === 8 && (a.communities ?? []).includes(NO_EXPORT));
        res.push({ family, prefix, nextHop: nh, noExport });
      }
    return res;
  }

  /** Announces `p` (ORIGIN IGP, NO_EXPORT when set). */
  async addPath(p: BgpPathSpec): Promise<void> {
    await this.gobgp([
      'global',
      'rib',
      'add',
      '-a',
      p.family === 4 ? 'ipv4' : 'ipv6',
      p.prefix,
      'nexthop',
      p.nextHop,
      'origin',
      'igp',
      ...(p.noExport ? ['community', 'no-export'] : []),
    ]);
  }

  /** Withdraws the local path of `prefix`. */
  async delPath(family: Family, prefix: string): Promise<void> {
    await this.gobgp(['global', 'rib', 'del', '-a', family === 4 ? 'ipv4' : 'ipv6', prefix]);
  }

  /** Adds a peer with password and graceful restart over gRPC (SPEC §7.7). */
  async addPeer(p: BgpPeerSpec): Promise<void> {
    await grpcUnary(
      this.target,
      '/apipb.GobgpApi/AddPeer',
      addPeerRequest({
        address: p.address,
        asn: p.asn,
        password: p.password,
        restartTime: p.gracefulRestartSeconds,
      }),
    );
  }

  /** Deletes a peer. */
  async delPeer(address: string): Promise<void> {
    await this.gobgp(['neighbor', 'del', address]);
  }

  /**
   * Brings gobgpd to `plan`: running, global AS/router-ID (a different AS or router-ID needs a new gobgpd — GoBGP
   * cannot change them — the peers' graceful restart keeps the routes meanwhile), peers added/deleted, local paths
   * added/withdrawn. A plan without `asn` stops a running gobgpd.
   */
  async sync(plan: BgpPlan): Promise<BgpSyncReport> {
    const report: BgpSyncReport = {
      peersAdded: [],
      peersDeleted: [],
      pathsAdded: [],
      pathsDeleted: [],
      restarted: false,
    };
    if (plan.asn === undefined || !plan.routerId) {
      if (this.speakerPid !== undefined && existsSync(this.pidFile) && (await this.answers())) {
        this.opts.logger.info('no BGP network on this node any more; stopping gobgpd');
        this.stop();
      }
      return report;
    }
    report.restarted = await this.ensureRunning();
    this.rotateLog();
    let g = await this.global();
    if (g && (g.asn !== plan.asn || g.routerId !== plan.routerId)) {
      this.opts.logger.warn({ running: g, want: { asn: plan.asn, routerId: plan.routerId } }, 'restarting gobgpd');
      this.stop();
      await new Promise((r) => setTimeout(r, 200));
      this.nextStartAt = 0;
      report.restarted = await this.ensureRunning();
      g = await this.global();
    }
    if (!g) await this.gobgp(['global', 'as', String(plan.asn), 'router-id', plan.routerId, 'listen-port', '179']);
    const peers = diffPeers(plan.peers, await this.peers());
    for (const a of peers.del) {
      await this.delPeer(a);
      report.peersDeleted.push(a);
    }
    for (const p of peers.add) {
      await this.addPeer(p);
      report.peersAdded.push(p.address);
    }
    await this.syncPaths(plan.paths, report);
    return report;
  }

  /** Adds missing and withdraws unwanted local paths (both families); returns the local paths now in the RIB. */
  async syncPaths(desired: BgpPathSpec[], report?: BgpSyncReport): Promise<BgpPathSpec[]> {
    const [v4, v6] = await Promise.all([this.paths(4), this.paths(6)]);
    const current = [...v4, ...v6];
    const d = diffPaths(desired, current);
    for (const p of d.del) {
      await this.delPath(p.family, p.prefix);
      report?.pathsDeleted.push(p.prefix);
    }
    for (const p of d.add) {
      await this.addPath(p);
      report?.pathsAdded.push(p.prefix);
    }
    const gone = new Set([...d.del, ...d.add].map((p) => `${p.family}|${p.prefix}`));
    return [...current.filter((p) => !gone.has(`${p.family}|${p.prefix}`)), ...d.add];
  }

  /**
   * The last problem gobgpd logged about the peer `address` since its session was last configured or came up
   * (warning/error lines and `Peer Down` reasons, e.g. `sent notification: as number mismatch expected 64999, received
   * 64512`), for status `lastError`. Undefined when there is none (a TCP-MD5 mismatch logs nothing: the peer's kernel
   * drops the segments).
   */
  lastLogError(address: string): string | undefined {
    let text: string;
    try {
      text = readFileSync(this.logFile, 'utf8').slice(-200_000);
    } catch {
      return undefined;
    }
    return lastPeerError(text, address);
  }
}

/** See {@link BgpSpeaker.lastLogError}: the same over gobgpd's plain-format log text. */
export function lastPeerError(log: string, address: string): string | undefined {
  const mine = log.split('\n').filter((l) => l.includes(`Key=${address} `));
  let start = 0;
  mine.forEach((l, i) => {
    if (/msg="(Add a peer configuration|Peer Up)"/.test(l)) start = i + 1;
  });
  const problem = mine
    .slice(start)
    .filter((l) => /level=(warning|error)/.test(l) || l.includes('msg="Peer Down"'))
    .at(-1);
  if (!problem) return undefined;
  const field = (k: string): string | undefined => new RegExp(`${k}="([^"]*)"`).exec(problem)?.[1];
  const at = field('time');
  const detail = field('Data') ?? field('Reason');
  return `${field('msg') ?? problem.slice(0, 200)}${detail && detail !== '[]' ? `: ${detail}` : ''}${at ? ` (${at})` : ''}`;
}
