/**
 * Development and test certificates for the webhook: a self-signed CA and a serving certificate
 * signed by it (RSA 2048, SHA-256), written as PEM files `ca.crt`, `tls.crt`, `tls.key`.
 *
 * Production installs get their certificates from Helm or cert-manager (SPEC D8); this is the
 * `hybridnet webhook gen-certs` command and what the integration tests use. Keys come from Node's
 * native `crypto.generateKeyPairSync`; certificates are built and signed with `node-forge`
 * (no hand-written crypto).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import forge from 'node-forge';

const DAY_MS = 86_400_000;

/** What to put in the serving certificate. */
export interface DevCertificateRequest {
  /** DNS subject alternative names, e.g. `hybridnet-webhook.kube-system.svc`. */
  dnsNames: readonly string[];
  /** IP subject alternative names, e.g. `127.0.0.1`. */
  ipAddresses: readonly string[];
  /** Validity in days (default 365). */
  validDays?: number;
  /** Clock, for tests (default `new Date()`). */
  now?: Date;
}

/** PEM-encoded CA certificate, serving certificate and its PKCS#8 private key. */
export interface DevCertificates {
  caCert: string;
  cert: string;
  key: string;
}

/** Raised when the request names no subject alternative name or an invalid IP address. */
export class CertificateRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateRequestError';
  }
}

/**
 * Generates a CA and a serving certificate for `dnsNames` and `ipAddresses` (both go into the
 * subjectAltName; Kubernetes ignores the common name). The CA key is discarded: the result can
 * serve and be trusted, never extended.
 *
 * @throws CertificateRequestError when there is no SAN at all or an IP address does not parse.
 */
export function generateDevCertificates(req: DevCertificateRequest): Promise<DevCertificates> {
  if (req.dnsNames.length === 0 && req.ipAddresses.length === 0) {
    return Promise.reject(
      new CertificateRequestError('at least one DNS name or IP address is needed for the serving certificate'),
    );
  }
  for (const ip of req.ipAddresses) {
    if (net.isIP(ip) === 0) {
      return Promise.reject(new CertificateRequestError(`--ip-addresses: ${ip} is not an IP address`));
    }
  }
  const now = req.now ?? new Date();
  const notBefore = new Date(now.getTime() - 5 * 60_000); // tolerate small clock skew
  const notAfter = new Date(now.getTime() + (req.validDays ?? 365) * DAY_MS);

  const caKeys = newRsaKeyPair();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = randomSerial();
  ca.validity.notBefore = notBefore;
  ca.validity.notAfter = notAfter;
  const caName = [{ name: 'commonName', value: 'hybridnet-webhook-ca' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const leafKeys = newRsaKeyPair();
  const leaf = forge.pki.createCertificate();
  leaf.publicKey = leafKeys.publicKey;
  leaf.serialNumber = randomSerial();
  leaf.validity.notBefore = notBefore;
  leaf.validity.notAfter = notAfter;
  leaf.setSubject([{ name: 'commonName', value: req.dnsNames[0] ?? req.ipAddresses[0] ?? 'hybridnet-webhook' }]);
  leaf.setIssuer(caName);
  leaf.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...req.dnsNames.map((value) => ({ type: 2, value })),
        ...req.ipAddresses.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  leaf.sign(caKeys.privateKey, forge.md.sha256.create());

  return Promise.resolve({
    caCert: forge.pki.certificateToPem(ca).replace(/\r\n/g, '\n'),
    cert: forge.pki.certificateToPem(leaf).replace(/\r\n/g, '\n'),
    key: leafKeys.privateKeyPem,
  });
}

/** File names written by {@link writeDevCertificates}, relative to the directory. */
export const CERT_FILE_NAMES = { caCert: 'ca.crt', cert: 'tls.crt', key: 'tls.key' } as const;

/**
 * Generates certificates and writes `ca.crt`, `tls.crt` and `tls.key` (mode 0600) into `dir`
 * (created if missing). Returns the absolute paths and the PEM contents.
 */
export async function writeDevCertificates(
  dir: string,
  req: DevCertificateRequest,
): Promise<DevCertificates & { caFile: string; certFile: string; keyFile: string }> {
  const certs = await generateDevCertificates(req);
  await mkdir(dir, { recursive: true });
  const caFile = path.resolve(dir, CERT_FILE_NAMES.caCert);
  const certFile = path.resolve(dir, CERT_FILE_NAMES.cert);
  const keyFile = path.resolve(dir, CERT_FILE_NAMES.key);
  await writeFile(caFile, certs.caCert, { mode: 0o644 });
  await writeFile(keyFile, certs.key, { mode: 0o600 });
  await writeFile(certFile, certs.cert, { mode: 0o644 });
  return { ...certs, caFile, certFile, keyFile };
}

/**
 * A random positive serial number in hex (RFC 5280 §4.1.2.2: positive, ≤ 20 octets). The first
 * byte is kept in 0x40–0x7f so the DER INTEGER is minimal and positive (Go's parser is strict).
 */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

/** An RSA 2048 key pair made by Node's native crypto, converted to node-forge objects. */
function newRsaKeyPair(): {
  publicKey: forge.pki.rsa.PublicKey;
  privateKey: forge.pki.rsa.PrivateKey;
  privateKeyPem: string;
} {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey),
    privateKey: forge.pki.privateKeyFromPem(privateKey),
    privateKeyPem: privateKey,
  };
}
