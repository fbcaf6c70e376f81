/**
 * The `hybridnet` command: one executable whose subcommands are the project's components
 * (manager, webhook, daemon, install-cni, sandbox, …). Each component registers its own
 * subcommands from its own module so that this file stays a list.
 */
import { Command } from 'commander';
import { registerManagerCommand } from './manager.ts';
import { registerWebhookCommand } from './webhook.ts';
import { registerSandboxCommand } from './sandbox.ts';
import { registerDaemonCommand } from './daemon.ts';
import { registerInstallCniCommand } from './install-cni.ts';

/** Builds the top-level command with every registered subcommand. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('hybridnet')
    .description('Hybridnet: one container network for underlay (VLAN, BGP) and overlay (VXLAN) pods')
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });
  registerWebhookCommand(program);
  registerManagerCommand(program);
  registerSandboxCommand(program);
  registerDaemonCommand(program);
  registerInstallCniCommand(program);
  return program;
}

/** Parses `argv` (process.argv shape) and runs the chosen subcommand. */
export async function main(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}
