/**
 * The Validating/MutatingWebhookConfiguration objects of Hybridnet (SPEC §5.1), for the Helm chart,
 * for `hybridnet webhook` users who register by hand, and for the integration tests. Plain
 * `admissionregistration.k8s.io/v1` objects (structurally `V1ValidatingWebhookConfiguration` /
 * `V1MutatingWebhookConfiguration` of @kubernetes/client-node).
 *
 * Names and policies follow the original chart: Network/Subnet webhooks fail closed, Pod webhooks
 * fail open (the manager covers pods the webhook never saw). The IPInstance webhook is new; it fails
 * open by default so that IPAM never stalls on an unavailable webhook (RBAC stays the first guard).
 */
import {
  IPInstanceResource,
  KUBE_PROXY_APP_VALUE,
  LABEL_APP,
  LABEL_WEBHOOK_IGNORE,
  NETWORKING_GROUP,
  NETWORKING_VERSION,
  NetworkResource,
  SubnetResource,
  WEBHOOK_IGNORE_VALUES,
} from '../api/index.ts';

/** Name of the ValidatingWebhookConfiguration (SPEC §5.1). */
export const VALIDATING_CONFIGURATION_NAME = 'hybridnet-validating-webhook';
/** Name of the MutatingWebhookConfiguration (SPEC §5.1). */
export const MUTATING_CONFIGURATION_NAME = 'hybridnet-mutating-webhook';
/** Webhook names (SPEC §5.1; the IPInstance one is ours). */
export const WEBHOOK_NAMES = {
  networking: 'hybridnet-v1.validating.hybridnet',
  ipInstances: 'ipinstance-v1.validating.hybridnet',
  podValidating: 'core-v1.validating.hybridnet',
  podMutating: 'core-v1.mutating.hybridnet',
} as const;

/** A label selector requirement. */
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** Where the API server reaches the webhook: a Service (in-cluster) or a URL (tests, external). */
export type WebhookTarget =
  | { service: { namespace: string; name: string; port?: number } }
  | { url: string /** base URL without path, e.g. https://127.0.0.1:9898 */ };

/** Options of {@link buildWebhookConfigurations}. */
export interface WebhookConfigurationOptions {
  /** PEM CA bundle that signed the serving certificate. */
  caBundle: string;
  target: WebhookTarget;
  /** Extra pod objectSelector expressions (chart `webhook.additionalPodMatchExpressions`; default `app NotIn [kube-proxy]`). */
  additionalPodMatchExpressions?: LabelSelectorRequirement[];
  /** failurePolicy of the IPInstance webhook (default Ignore, see module doc). */
  ipInstanceFailurePolicy?: 'Fail' | 'Ignore';
  /** Register the IPInstance webhook at all (default true). */
  ipInstances?: boolean;
  /** timeoutSeconds of every webhook (default 10). */
  timeoutSeconds?: number;
}

/** One webhook entry (subset of admissionregistration.k8s.io/v1 ValidatingWebhook / MutatingWebhook). */
export interface Webhook {
  name: string;
  clientConfig: {
    url?: string;
    service?: { namespace: string; name: string; path: string; port?: number };
    caBundle: string;
  };
  rules: { apiGroups: string[]; apiVersions: string[]; resources: string[]; operations: string[]; scope?: string }[];
  failurePolicy: 'Fail' | 'Ignore';
  sideEffects: 'None';
  admissionReviewVersions: string[];
  timeoutSeconds: number;
  matchPolicy: 'Equivalent';
  objectSelector?: { matchExpressions: LabelSelectorRequirement[] };
  reinvocationPolicy?: 'Never' | 'IfNeeded';
}

/** A *WebhookConfiguration object. */
export interface WebhookConfiguration {
  apiVersion: 'admissionregistration.k8s.io/v1';
  kind: 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';
  metadata: { name: string };
  webhooks: Webhook[];
}

/** The pod objectSelector: not ignored, plus the additional expressions (SPEC §5.1). */
export function podObjectSelector(extra?: LabelSelectorRequirement[]): {
  matchExpressions: LabelSelectorRequirement[];
} {
  return {
    matchExpressions: [
      { key: LABEL_WEBHOOK_IGNORE, operator: 'NotIn', values: [...WEBHOOK_IGNORE_VALUES] },
      ...(extra ?? [{ key: LABEL_APP, operator: 'NotIn', values: [KUBE_PROXY_APP_VALUE] }]),
    ],
  };
}

/**
 * Builds both configurations. Paths: `/validate` and `/mutate` on the target.
 * @returns `{ validating, mutating }` ready to create with the API (caBundle base64-encoded).
 */
export function buildWebhookConfigurations(opts: WebhookConfigurationOptions): {
  validating: WebhookConfiguration;
  mutating: WebhookConfiguration;
} {
  const caBundle = Buffer.from(opts.caBundle).toString('base64');
  const clientConfig = (path: string): Webhook['clientConfig'] =>
    'url' in opts.target
      ? { url: `${opts.target.url.replace(/\/+$/, '')}${path}`, caBundle }
      : {
          service: {
            namespace: opts.target.service.namespace,
            name: opts.target.service.name,
            path,
            ...(opts.target.service.port !== undefined ? { port: opts.target.service.port } : {}),
          },
          caBundle,
        };
  const common = {
    sideEffects: 'None' as const,
    admissionReviewVersions: ['v1', 'v1beta1'],
    timeoutSeconds: opts.timeoutSeconds ?? 10,
    matchPolicy: 'Equivalent' as const,
  };
  const all = ['CREATE', 'UPDATE', 'DELETE'];
  const validating: Webhook[] = [
    {
      name: WEBHOOK_NAMES.networking,
      clientConfig: clientConfig('/validate'),
      rules: [
        {
          apiGroups: [NETWORKING_GROUP],
          apiVersions: [NETWORKING_VERSION],
          resources: [NetworkResource.plural, SubnetResource.plural],
          operations: all,
          scope: 'Cluster',
        },
      ],
      failurePolicy: 'Fail',
      ...common,
    },
  ];
  if (opts.ipInstances !== false) {
    validating.push({
      name: WEBHOOK_NAMES.ipInstances,
      clientConfig: clientConfig('/validate'),
      rules: [
        {
          apiGroups: [NETWORKING_GROUP],
          apiVersions: [NETWORKING_VERSION],
          resources: [IPInstanceResource.plural, `${IPInstanceResource.plural}/status`],
          operations: all,
          scope: 'Namespaced',
        },
      ],
      failurePolicy: opts.ipInstanceFailurePolicy ?? 'Ignore',
      ...common,
    });
  }
  const podRules = [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'] }];
  validating.push({
    name: WEBHOOK_NAMES.podValidating,
    clientConfig: clientConfig('/validate'),
    rules: podRules,
    failurePolicy: 'Ignore',
    objectSelector: podObjectSelector(opts.additionalPodMatchExpressions),
    ...common,
  });
  return {
    validating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: VALIDATING_CONFIGURATION_NAME },
      webhooks: validating,
    },
    mutating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: MUTATING_CONFIGURATION_NAME },
      webhooks: [
        {
          name: WEBHOOK_NAMES.podMutating,
          clientConfig: clientConfig('/mutate'),
          rules: podRules,
          failurePolicy: 'Ignore',
          objectSelector: podObjectSelector(opts.additionalPodMatchExpressions),
          reinvocationPolicy: 'Never',
          ...common,
        },
      ],
    },
  };
}
