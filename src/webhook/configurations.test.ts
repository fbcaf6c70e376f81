import { describe, expect, it } from 'vitest';
import { buildWebhookConfigurations } from './configurations.ts';

describe('buildWebhookConfigurations (SPEC §5.1)', () => {
  it('builds the chart names, rules and failure policies for a Service target', () => {
    const { validating, mutating } = buildWebhookConfigurations({
      caBundle: 'PEM',
      target: { service: { namespace: 'kube-system', name: 'hybridnet-webhook', port: 443 } },
    });
    expect(validating.metadata.name).toBe('hybridnet-validating-webhook');
    expect(mutating.metadata.name).toBe('hybridnet-mutating-webhook');
    expect(
      validating.webhooks.map((w) => [w.name, w.failurePolicy, w.rules[0]?.resources, w.rules[0]?.operations]),
    ).toEqual([
      ['hybridnet-v1.validating.hybridnet', 'Fail', ['networks', 'subnets'], ['CREATE', 'UPDATE', 'DELETE']],
      [
        'ipinstance-v1.validating.hybridnet',
        'Ignore',
        ['ipinstances', 'ipinstances/status'],
        ['CREATE', 'UPDATE', 'DELETE'],
      ],
      ['core-v1.validating.hybridnet', 'Ignore', ['pods'], ['CREATE']],
    ]);
    const m = mutating.webhooks[0];
    expect(m).toMatchObject({
      name: 'core-v1.mutating.hybridnet',
      failurePolicy: 'Ignore',
      reinvocationPolicy: 'Never',
      sideEffects: 'None',
      timeoutSeconds: 10,
      admissionReviewVersions: ['v1', 'v1beta1'],
      clientConfig: {
        service: { namespace: 'kube-system', name: 'hybridnet-webhook', path: '/mutate', port: 443 },
        caBundle: Buffer.from('PEM').toString('base64'),
      },
      objectSelector: {
        matchExpressions: [
          { key: 'webhook.hybridnet.io/ignore', operator: 'NotIn', values: ['TRUE', 'true'] },
          { key: 'app', operator: 'NotIn', values: ['kube-proxy'] },
        ],
      },
    });
    expect(validating.webhooks[2]?.objectSelector).toEqual(m?.objectSelector);
  });

  it('uses URLs with the paths appended, and can drop the IPInstance webhook', () => {
    const { validating, mutating } = buildWebhookConfigurations({
      caBundle: 'PEM',
      target: { url: 'https://127.0.0.1:9898/' },
      ipInstances: false,
      additionalPodMatchExpressions: [],
    });
    expect(validating.webhooks.map((w) => w.clientConfig.url)).toEqual([
      'https://127.0.0.1:9898/validate',
      'https://127.0.0.1:9898/validate',
    ]);
    expect(mutating.webhooks[0]?.clientConfig.url).toBe('https://127.0.0.1:9898/mutate');
    expect(mutating.webhooks[0]?.objectSelector?.matchExpressions).toHaveLength(1);
  });
});
