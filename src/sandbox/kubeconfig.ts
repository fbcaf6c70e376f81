/**
 * Kubeconfig files of the sandbox: one per identity (admin, controllers, hybridnet components, each node's daemon
 * and kubelet stand-in), all with client certificates from the sandbox CA, embedded as data.
 */
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { CertFiles } from './pki.ts';

/** Kubeconfig YAML for `server` with a client certificate identity. */
export function kubeconfigYaml(server: string, caPem: string, user: string, cert: CertFiles): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'hybridnet-sandbox', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [
      { name: user, user: { 'client-certificate-data': b64(cert.certPem), 'client-key-data': b64(cert.keyPem) } },
    ],
    contexts: [{ name: 'hybridnet-sandbox', context: { cluster: 'hybridnet-sandbox', user } }],
    'current-context': 'hybridnet-sandbox',
  });
}

/** Writes {@link kubeconfigYaml} to `file` (mode 0600). */
export async function writeKubeconfig(
  file: string,
  server: string,
  caPem: string,
  user: string,
  cert: CertFiles,
): Promise<string> {
  await writeFile(file, kubeconfigYaml(server, caPem, user, cert), { mode: 0o600 });
  return file;
}
