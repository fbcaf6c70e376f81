/**
 * Shapes that describe a Hybridnet kind to Kubernetes tooling: where it lives in the API (group, version, plural,
 * scope; what client-node's `CustomObjectsApi` needs) and how `kubectl get` prints it (CRD
 * `additionalPrinterColumns`). The concrete descriptors live beside each kind's schema.
 */

/**
 * Where a kind lives in the API. `group`/`version`/`plural` are the `CustomObjectsApi` arguments; `namespaced`
 * tells whether to call the namespaced or the cluster-scoped method; `apiVersion` and `kind` go into objects.
 */
export interface ResourceDescriptor {
  /** API group, e.g. `networking.alibaba.com`. */
  readonly group: string;
  /** API version within the group, e.g. `v1`. */
  readonly version: string;
  /** `group/version`, the value of an object's `apiVersion`. */
  readonly apiVersion: string;
  /** Kind, e.g. `Network`. */
  readonly kind: string;
  /** Kind of the list type, e.g. `NetworkList`. */
  readonly listKind: string;
  /** Resource (URL path segment), e.g. `networks`. */
  readonly plural: string;
  /** Lower-case singular name, e.g. `network`. */
  readonly singular: string;
  /** Short names accepted by kubectl (none for Hybridnet's kinds, like the original). */
  readonly shortNames: readonly string[];
  /** True for namespaced kinds (IPInstance), false for cluster-scoped ones. */
  readonly namespaced: boolean;
}

/** One CRD `additionalPrinterColumns` entry (apiextensions.k8s.io/v1 `CustomResourceColumnDefinition`). */
export interface PrinterColumn {
  /** Column header as kubectl prints it. */
  readonly name: string;
  /** OpenAPI type of the column: `integer`, `number`, `string`, `boolean` or `date`. */
  readonly type: 'integer' | 'number' | 'string' | 'boolean' | 'date';
  /** Simple JSONPath into the object, e.g. `.spec.netID`. */
  readonly jsonPath: string;
  /** Optional `format` of the column (e.g. `int32`). */
  readonly format?: string;
  /** Optional column description. */
  readonly description?: string;
  /** Priority: 0 shows in the standard view, higher only with `-o wide`. */
  readonly priority?: number;
}
