/**
 * TLS settings of the webhook server and reloading of its serving certificate.
 *
 * SPEC §1.1: TLS ≥ 1.2, only TLS 1.3 suites and TLS 1.2 suites that are neither CBC nor 3DES. We
 * list the ECDHE + AEAD (GCM, ChaCha20-Poly1305) TLS 1.2 suites explicitly, so forward secrecy
 * holds for every suite on offer.
 *
 * Certificates mounted from a Secret change by an atomic symlink swap, which `fs.watch` on the
 * file misses; the reloader therefore polls the file contents (cheap: two small reads) and
 * installs a new secure context only when both files changed into a valid pair.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type https from 'node:https';
import tls from 'node:tls';
import type { Logger } from 'pino';

/** TLS 1.3 suites (all AEAD). */
export const TLS13_CIPHERSUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** TLS 1.2 suites: ECDHE key exchange with AEAD ciphers only (no CBC, no 3DES, no static RSA). */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/** Options for `https.createServer` / `tls.createSecureContext` enforcing the policy above. */
export const TLS_POLICY = {
  minVersion: 'TLSv1.2',
  ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':'),
  honorCipherOrder: true,
} as const satisfies tls.SecureContextOptions & { honorCipherOrder: boolean };

/** PEM certificate chain and private key. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** Raised when the certificate or key file cannot be read or do not form a valid pair. */
export class ServingCertificateError extends Error {
  constructor(
    readonly certFile: string,
    readonly keyFile: string,
    reason: string,
  ) {
    super(`serving certificate ${certFile} / key ${keyFile}: ${reason}`);
    this.name = 'ServingCertificateError';
  }
}

/**
 * Reads the key pair and checks that Node accepts it (parseable, key matches certificate).
 * @throws ServingCertificateError
 */
export async function loadKeyPair(certFile: string, keyFile: string): Promise<KeyPair> {
  let pair: KeyPair;
  try {
    pair = { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
  } catch (e) {
    throw new ServingCertificateError(certFile, keyFile, (e as Error).message);
  }
  try {
    tls.createSecureContext({ ...TLS_POLICY, ...pair });
  } catch (e) {
    throw new ServingCertificateError(certFile, keyFile, (e as Error).message);
  }
  return pair;
}

function digest(p: KeyPair): string {
  return createHash('sha256').update(p.cert).update('\0').update(p.key).digest('hex');
}

/**
 * Polls `certFile` and `keyFile` every `intervalMs` (ms) and calls `server.setSecureContext` when
 * their contents change into a valid pair. A broken intermediate state (cert written, key not yet)
 * is logged and retried on the next tick; the old context keeps serving meanwhile.
 */
export class CertificateReloader {
  private timer: NodeJS.Timeout | undefined;
  private current: string;
  private busy = false;
  /** Number of successful reloads (for tests and logs). */
  reloads = 0;

  constructor(
    private readonly server: https.Server,
    private readonly certFile: string,
    private readonly keyFile: string,
    initial: KeyPair,
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
  ) {
    this.current = digest(initial);
  }

  /** Starts polling (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops polling. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the files once and installs them if they changed and are valid. Returns true on reload. */
  async check(): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    try {
      const pair = await loadKeyPair(this.certFile, this.keyFile);
      const d = digest(pair);
      if (d === this.current) return false;
      this.server.setSecureContext({ ...TLS_POLICY, ...pair });
      this.current = d;
      this.reloads++;
      this.log.info({ certFile: this.certFile, keyFile: this.keyFile }, 'serving certificate reloaded');
      return true;
    } catch (e) {
      this.log.warn({ err: e }, 'serving certificate not reloaded; keeping the previous one');
      return false;
    } finally {
      this.busy = false;
    }
  }
}
