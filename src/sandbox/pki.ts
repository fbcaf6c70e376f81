/**
 * A throw-away PKI for the test control plane and the sandbox, made with the `openssl` CLI (Debian's openssl 3):
 * one CA, serving certificates for kube-apiserver and for webhooks served by the test process,
 * client certificates (CN = user, O = groups, as kube-apiserver's x509 authenticator reads them),
 * and the service-account signing key pair. EC P-256 keys keep generation fast (~10 ms each).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Error from an `openssl` invocation; carries the arguments and stderr. */
export class OpensslError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
  ) {
    super(`openssl ${args.join(' ')} failed: ${stderr.trim()}`);
    this.name = 'OpensslError';
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new OpensslError(args, err.stderr ?? err.message);
  }
}

/** PEM file paths plus contents of one key pair with its certificate. */
export interface CertFiles {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

/** Subject/extension request for {@link Pki.issue}. */
export interface CertRequest {
  /** Base file name in the PKI dir (`<name>.crt`, `<name>.key`). */
  name: string;
  /** Common name; for client certificates this is the Kubernetes user name. */
  cn: string;
  /** Organizations; for client certificates these are the Kubernetes groups. */
  groups?: readonly string[];
  /** Subject alternative names of a serving certificate: IP addresses and DNS names. */
  ips?: readonly string[];
  dns?: readonly string[];
  usage: 'server' | 'client';
  /** Validity in days (default 1: test control planes are short-lived; the sandbox asks for more). */
  days?: number;
}

/** A certificate authority in `dir` that issues certificates with {@link Pki.issue}. */
export class Pki {
  private constructor(
    readonly dir: string,
    readonly ca: CertFiles,
  ) {}

  /** Creates the CA (`ca.crt`/`ca.key`, valid `days`, default 1) in `dir`. */
  static async create(dir: string, days = 1): Promise<Pki> {
    const ca = files(dir, 'ca');
    await openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      ca.keyFile,
      '-out',
      ca.certFile,
      '-days',
      String(days),
      '-subj',
      '/CN=hybridnet-test-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ]);
    return new Pki(dir, await load(ca));
  }

  /** Issues a key pair + certificate signed by the CA (valid `req.days`, default 1). */
  async issue(req: CertRequest): Promise<CertFiles> {
    const f = files(this.dir, req.name);
    const csr = path.join(this.dir, `${req.name}.csr`);
    const ext = path.join(this.dir, `${req.name}.ext`);
    const subj = `/CN=${req.cn}` + (req.groups ?? []).map((g) => `/O=${g}`).join('');
    await openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      f.keyFile,
      '-out',
      csr,
      '-subj',
      subj,
    ]);
    const san = [...(req.ips ?? []).map((i) => `IP:${i}`), ...(req.dns ?? []).map((d) => `DNS:${d}`)];
    const lines = [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${req.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
    ];
    if (san.length > 0) lines.push(`subjectAltName=${san.join(',')}`);
    await writeFile(ext, lines.join('\n') + '\n');
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      this.ca.certFile,
      '-CAkey',
      this.ca.keyFile,
      // A random serial per call: -CAcreateserial shares one serial file and races when issuing in parallel.
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-out',
      f.certFile,
      '-days',
      String(req.days ?? 1),
      '-extfile',
      ext,
    ]);
    return load(f);
  }

  /** Creates the service-account token signing key pair (`sa.key`, `sa.pub`). */
  async serviceAccountKeys(): Promise<{ keyFile: string; pubFile: string }> {
    const keyFile = path.join(this.dir, 'sa.key');
    const pubFile = path.join(this.dir, 'sa.pub');
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', keyFile]);
    await openssl(['pkey', '-in', keyFile, '-pubout', '-out', pubFile]);
    return { keyFile, pubFile };
  }
}

function files(dir: string, name: string): CertFiles {
  return { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`), certPem: '', keyPem: '' };
}

async function load(f: CertFiles): Promise<CertFiles> {
  return { ...f, certPem: await readFile(f.certFile, 'utf8'), keyPem: await readFile(f.keyFile, 'utf8') };
}
