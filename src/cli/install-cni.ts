/**
 * `hybridnet install-cni`: what the chart's `install-cni` init container does (SPEC §1): copy the plugin executable to the
 * CNI bin dir, copy the community plugins it chains (`NEEDED_COMMUNITY_CNI_PLUGINS`, default `loopback`), remove old
 * `*-hybridnet.conflist` files and write the conflist (`CNI_CONF_NAME`, default `06-hybridnet.conflist`). The
 * installation itself is src/cni/install.ts; this module registers the command and its flags.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { installCni, type InstallFlags } from '../cni/install.ts';
import { DEFAULT_SOCKET } from '../daemon/constants.ts';

/** Registers `hybridnet install-cni`. */
export function registerInstallCniCommand(program: Command): void {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  program
    .command('install-cni')
    .description('install the CNI plugin and its conflist on this host (the install-cni init container)')
    .option('--bin-dir <dir>', 'CNI plugin directory', '/opt/cni/bin')
    .option('--conf-dir <dir>', 'CNI configuration directory', '/etc/cni/net.d')
    .option('--socket <path>', 'daemon socket written as server_socket', DEFAULT_SOCKET)
    .option(
      '--plugin <file>',
      'plugin executable to install (built by npm run build:cni)',
      path.join(repo, 'dist/cni/hybridnet'),
    )
    .option('--community-dir <dir>', 'where the community plugins are', '/usr/lib/cni')
    .option('--plugins <list>', 'community plugins to copy', process.env.NEEDED_COMMUNITY_CNI_PLUGINS ?? 'loopback')
    .option('--conf-name <name>', 'conflist file name', process.env.CNI_CONF_NAME ?? '06-hybridnet.conflist')
    .option('--cni-version <v>', 'cniVersion of the conflist', '0.3.1')
    .action((flags: InstallFlags) => {
      for (const f of installCni(flags)) console.log(`installed ${f}`);
    });
}
