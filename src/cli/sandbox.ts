/**
 * `hybridnet sandbox up | demo | down | env | status` (a whole cluster in network namespaces on this machine), and
 * the hidden `sandbox kubelet-standin` that `up` starts inside each node namespace. See src/sandbox/README.md.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import pino from 'pino';
import { KubeletStandin } from '../sandbox/kubelet-standin.ts';
import { Progress } from '../sandbox/progress.ts';
import { down, envLines, PreflightError, status, topologyOf, up } from '../sandbox/sandbox.ts';
import { DEFAULT_API_PORT, DEFAULT_DIR, DEFAULT_NODES, DEFAULT_PREFIX, TopologyError } from '../sandbox/topology.ts';

interface CommonFlags {
  dir: string;
  prefix: string;
  nodes: number;
  apiPort: number;
}

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${value} is not a positive integer`);
  return n;
}

function common(cmd: Command): Command {
  return cmd
    .option('--dir <dir>', 'state directory (kubeconfig, logs, PKI, pidfiles)', DEFAULT_DIR)
    .option('--prefix <prefix>', 'prefix of every network namespace the sandbox creates', DEFAULT_PREFIX)
    .option('--nodes <n>', 'number of nodes', int, DEFAULT_NODES)
    .option('--api-port <port>', 'loopback port of the API server proxy in the root namespace', int, DEFAULT_API_PORT);
}

async function guarded(fn: () => Promise<void>, hint = ''): Promise<void> {
  try {
    await fn();
  } catch (e) {
    // Nothing was started when the refusal came before any work.
    const before = e instanceof PreflightError || e instanceof TopologyError;
    process.stderr.write(`[sandbox] error: ${e instanceof Error ? e.message : String(e)}\n${before ? '' : hint}`);
    process.exitCode = 1;
  }
}

const LEFT_AS_IS =
  '[sandbox] what was started is left as is for inspection (logs in <dir>/logs); ' +
  '`hybridnet sandbox down` removes it, `up` again starts afresh\n';

/** Registers `sandbox` and its subcommands on `program`. */
export function registerSandboxCommand(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('A whole Hybridnet cluster on this machine, in network namespaces (root required)');

  common(sandbox.command('up'))
    .description('Start control plane, nodes (daemon + kubelet stand-in) and the LAN; harmless when already up')
    .action((f: CommonFlags) =>
      guarded(async () => {
        const t = await up(f);
        process.stdout.write(envLines(t.dir).join('\n') + '\n');
      }, LEFT_AS_IS),
    );

  common(sandbox.command('demo'))
    .description('Bring the sandbox up if needed, create networks and workloads, prove connectivity, print a table')
    .action((f: CommonFlags) =>
      guarded(async () => {
        const { runDemo } = await import('../sandbox/demo.ts');
        const ok = await runDemo(f, new Progress());
        if (!ok) process.exitCode = 1;
      }, LEFT_AS_IS),
    );

  common(sandbox.command('down'))
    .description('Remove every process, namespace, mount and file the sandbox made (also after a crashed up)')
    .action((f: CommonFlags) => guarded(() => down(f)));

  common(sandbox.command('env'))
    .description('Print `export KUBECONFIG=…` (and PATH for kubectl) for the sandbox')
    .action((f: CommonFlags) =>
      guarded(() => {
        process.stdout.write(envLines(topologyOf(f).dir).join('\n') + '\n');
        return Promise.resolve();
      }),
    );

  common(sandbox.command('status'))
    .description('Show the sandbox processes, namespaces and nodes; exit 1 unless everything runs')
    .action((f: CommonFlags) =>
      guarded(async () => {
        const s = await status(f);
        process.stdout.write(s.text + '\n');
        if (!s.up) process.exitCode = 1;
      }),
    );

  sandbox
    .command('kubelet-standin', { hidden: true })
    .description('Minimal kubelet stand-in for one sandbox node (started by `sandbox up` in the node namespace)')
    .requiredOption('--node <name>', 'Node name')
    .requiredOption('--node-ip <ips>', 'InternalIP addresses (comma list)')
    .requiredOption('--kubeconfig <file>', 'kubeconfig of system:node:<name>')
    .requiredOption('--node-dir <dir>', 'per-node directory (bin/, net.d/, pods/)')
    .option('--labels <k=v,...>', 'node labels', '')
    .option('--prefix <prefix>', 'prefix of pod network namespaces', DEFAULT_PREFIX)
    .action(
      async (f: {
        node: string;
        nodeIp: string;
        kubeconfig: string;
        nodeDir: string;
        labels: string;
        prefix: string;
      }) => {
        const logger = pino();
        const labels: Record<string, string> = {};
        for (const kv of f.labels.split(',').filter((s) => s !== '')) {
          const i = kv.indexOf('=');
          labels[kv.slice(0, i)] = kv.slice(i + 1);
        }
        const ac = new AbortController();
        for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => ac.abort());
        try {
          await new KubeletStandin({
            nodeName: f.node,
            nodeIPs: f.nodeIp.split(','),
            labels,
            kubeconfig: f.kubeconfig,
            nodeDir: f.nodeDir,
            prefix: f.prefix,
            logger,
          }).run(ac.signal);
          process.exit(0);
        } catch (err) {
          logger.fatal({ err }, 'kubelet-standin failed');
          process.exit(1);
        }
      },
    );
}
