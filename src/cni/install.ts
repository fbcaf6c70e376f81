/**
 * Installing the CNI plugin on a host (SPEC §1, §6.1): what the chart's `install-cni` init container does through
 * `hybridnet install-cni` (src/cli/install-cni.ts, the command's flags) and what the sandbox does for each node
 * (src/sandbox/nodes.ts). Owns the conflist the plugin is configured with (`buildConflist`) and the copying: the plugin
 * executable to the CNI bin dir, the community plugins it chains (`NEEDED_COMMUNITY_CNI_PLUGINS`, default
 * `loopback`), the conflist (`CNI_CONF_NAME`, default `06-hybridnet.conflist`) written and old `*-hybridnet.conflist`
 * files removed, each file replaced by rename. Node.js file system code run by the `hybridnet` command, not part of
 * the plugin: `main.ts` (the plugin's bundle entry, tools/build-cni.ts) does not import it.
 */
import {
  copyFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

/** The conflist of SPEC §6.1 (bandwidth chained when listed in `plugins`). */
export function buildConflist(socket: string, plugins: string[], cniVersion = '0.3.1'): Record<string, unknown> {
  return {
    name: 'hybridnet',
    cniVersion,
    plugins: [
      { type: 'hybridnet', server_socket: socket },
      ...(plugins.includes('bandwidth') ? [{ type: 'bandwidth', capabilities: { bandwidth: true } }] : []),
    ],
  };
}

/** Where to install from and to (the flags of `hybridnet install-cni`). */
export interface InstallFlags {
  binDir: string;
  confDir: string;
  socket: string;
  plugin: string;
  communityDir: string;
  plugins: string;
  confName: string;
  cniVersion: string;
}

/**
 * Puts `write(tmp)`'s file at `target` by renaming a sibling temporary file over it: a runtime executing or reading
 * `target` meanwhile sees the old or the new file, never a missing or half-written one. Copying straight over an
 * executable that is running fails with ETXTBSY (and a runtime exec'ing a file open for writing gets ETXTBSY too).
 * The temporary name carries the PID, so two install-cni runs on one host (a DaemonSet update with surge) do not
 * write into each other's file. Throws the fs error; the temporary file is removed on failure.
 */
function replaceFile(target: string, mode: number, write: (tmp: string) => void): void {
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    write(tmp);
    chmodSync(tmp, mode);
    renameSync(tmp, target);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Installs plugin + conflist; returns the files written. */
export function installCni(f: InstallFlags): string[] {
  const written: string[] = [];
  mkdirSync(f.binDir, { recursive: true });
  mkdirSync(f.confDir, { recursive: true });
  if (!existsSync(f.plugin)) throw new Error(`plugin executable ${f.plugin} not found: run npm run build:cni first`);
  const target = path.join(f.binDir, 'hybridnet');
  replaceFile(target, 0o755, (tmp) => copyFileSync(f.plugin, tmp));
  written.push(target);
  const plugins = f.plugins
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const p of plugins) {
    const src = path.join(f.communityDir, p);
    if (!existsSync(src)) throw new Error(`community plugin ${p} not found in ${f.communityDir}`);
    // loopback runs for every pod sandbox: replaced by rename like the plugin, never written over
    replaceFile(path.join(f.binDir, p), 0o755, (tmp) => copyFileSync(src, tmp));
    written.push(path.join(f.binDir, p));
  }
  // the new conflist is in place before old ones go: the runtime never finds the directory without a hybridnet network
  const conf = path.join(f.confDir, f.confName);
  const text = JSON.stringify(buildConflist(f.socket, plugins, f.cniVersion), null, 2) + '\n';
  replaceFile(conf, 0o644, (tmp) => writeFileSync(tmp, text));
  for (const name of readdirSync(f.confDir))
    if (name.endsWith('-hybridnet.conflist') && name !== f.confName)
      rmSync(path.join(f.confDir, name), { force: true });
  written.push(conf);
  return written;
}
