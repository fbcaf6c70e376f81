/**
 * Admission webhooks served by the test process and called by a real kube-apiserver, registered
 * through the fixture's registerWebhook helper (url clientConfig to https://127.0.0.1:PORT).
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, refusalOf, useKube } from '../fixture/kube.ts';

interface AdmissionReview {
  request: { uid: string; object?: { metadata?: { labels?: Record<string, string> }; data?: Record<string, string> } };
}

/** Validating: deny ConfigMaps with data.deny=yes. Mutating: add label hn-test/mutated=true. */
function review(path: string, body: AdmissionReview): unknown {
  const { uid, object } = body.request;
  const response: Record<string, unknown> = { uid, allowed: true };
  if (path === '/validate' && object?.data?.deny === 'yes') {
    response.allowed = false;
    response.status = { code: 403, message: 'hn-test webhook: data.deny is "yes"' };
  }
  if (path === '/mutate') {
    const patch = object?.metadata?.labels
      ? [{ op: 'add', path: '/metadata/labels/hn-test~1mutated', value: 'true' }]
      : [{ op: 'add', path: '/metadata/labels', value: { 'hn-test/mutated': 'true' } }];
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

describe('kube-apiserver (real): admission webhooks served by the test process', () => {
  const kube = useKube();
  let server: https.Server;
  let port = 0;
  const calls: string[] = [];
  const ns = 'webhook-test';

  beforeAll(async () => {
    const cert = await kube().issueServingCert({ ips: ['127.0.0.1'] });
    server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString()));
      req.on('end', () => {
        // The API server appends ?timeout=10s to the configured URL.
        const path = new URL(req.url ?? '/', 'https://127.0.0.1').pathname;
        calls.push(path);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(review(path, JSON.parse(data) as AdmissionReview)));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    const core = kube().kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns, labels: { 'hn-test/webhook': 'on' } } } });
    const common = {
      caBundle: cert.caPem,
      namespaceSelector: { matchLabels: { 'hn-test/webhook': 'on' } },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['configmaps'] }],
    };
    await kube().registerWebhook({
      kind: 'validating',
      name: 'hn-validate',
      url: `https://127.0.0.1:${port}/validate`,
      ...common,
    });
    await kube().registerWebhook({
      kind: 'mutating',
      name: 'hn-mutate',
      url: `https://127.0.0.1:${port}/mutate`,
      ...common,
    });
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
  });

  it('the API server refuses an object the validating webhook denies, with its message', async () => {
    const core = kube().kubeConfig.makeApiClient(CoreV1Api);
    let attempt = 0;
    const refused = await eventually('webhook denial', async () => {
      // Until the API server has loaded the configuration the object is accepted: retry with a new name.
      const name = `denied-${attempt++}`;
      return refusalOf(
        core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name }, data: { deny: 'yes' } } }),
      );
    });
    expect(refused.code).toBe(403);
    expect(refused.message).toBe(
      'admission webhook "hn-validate.test.hybridnet.io" denied the request: hn-test webhook: data.deny is "yes"',
    );
    expect(calls).toContain('/validate');
  });

  it('the mutating webhook patch is applied to stored objects', async () => {
    const core = kube().kubeConfig.makeApiClient(CoreV1Api);
    const cm = await eventually('mutated configmap', async () => {
      const name = `ok-${Date.now()}`;
      const created = await core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name }, data: { deny: 'no' } },
      });
      return created.metadata?.labels?.['hn-test/mutated'] === 'true' ? created : undefined;
    });
    const stored = await core.readNamespacedConfigMap({ namespace: ns, name: cm.metadata?.name ?? '' });
    expect(stored.metadata?.labels).toEqual({ 'hn-test/mutated': 'true' });
  });
});
