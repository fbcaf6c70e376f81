/**
 * Kubernetes object metadata as used by the Hybridnet kinds: a minimal `ObjectMeta` / `OwnerReference` schema whose
 * static types are structurally compatible with `@kubernetes/client-node`'s `V1ObjectMeta` and `V1OwnerReference` in
 * both directions, so our objects satisfy client-node's `KubernetesObject` (informers, `KubernetesObjectApi`) and a
 * Pod's `metadata.ownerReferences` can be copied into an IPInstance without conversion.
 *
 * Source: Kubernetes API conventions, "Metadata"; `k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta`.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { StringMap } from './schema-kit.ts';

/**
 * A metadata timestamp. Typed `Date` because client-node types it so; **over JSON (CustomObjectsApi, watches) it is an
 * RFC 3339 string at run time**. Test only for presence (`deletionTimestamp !== undefined`) or wrap with `new Date(x)`.
 * The schema accepts any value: the API server owns these fields.
 */
const MetaTime = Type.Unsafe<Date>({ description: 'RFC 3339 timestamp set by the API server.' });

/** Schema of one `metadata.ownerReferences[]` entry (all four identity fields required, as in Kubernetes). */
export const OwnerReferenceSchema = Type.Object(
  {
    apiVersion: Type.String(),
    kind: Type.String(),
    name: Type.String(),
    uid: Type.String(),
    controller: Type.Optional(Type.Boolean()),
    blockOwnerDeletion: Type.Optional(Type.Boolean()),
  },
  { description: 'Reference to an owner object (Kubernetes OwnerReference).' },
);

/** One owner reference: `{apiVersion, kind, name, uid, controller?, blockOwnerDeletion?}` (= client-node V1OwnerReference). */
export type OwnerReference = Static<typeof OwnerReferenceSchema>;

/** Schema of one `metadata.managedFields[]` entry (server-side apply bookkeeping; opaque to Hybridnet). */
export const ManagedFieldsEntrySchema = Type.Object({
  apiVersion: Type.Optional(Type.String()),
  fieldsType: Type.Optional(Type.String()),
  fieldsV1: Type.Optional(Type.Unknown()),
  manager: Type.Optional(Type.String()),
  operation: Type.Optional(Type.String()),
  subresource: Type.Optional(Type.String()),
  time: Type.Optional(MetaTime),
});

/** One managed-fields entry (= client-node V1ManagedFieldsEntry). */
export type ManagedFieldsEntry = Static<typeof ManagedFieldsEntrySchema>;

/**
 * Schema of `metadata` used for runtime validation. In generated CRDs `metadata` is emitted as a bare
 * `{type: object}` instead (Kubernetes validates metadata itself and forbids more at the root).
 */
export const ObjectMetaSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    generateName: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer()),
    selfLink: Type.Optional(Type.String()),
    creationTimestamp: Type.Optional(MetaTime),
    deletionTimestamp: Type.Optional(MetaTime),
    deletionGracePeriodSeconds: Type.Optional(Type.Integer()),
    labels: Type.Optional(StringMap()),
    annotations: Type.Optional(StringMap()),
    ownerReferences: Type.Optional(Type.Array(OwnerReferenceSchema)),
    finalizers: Type.Optional(Type.Array(Type.String())),
    managedFields: Type.Optional(Type.Array(ManagedFieldsEntrySchema)),
  },
  { description: 'Standard object metadata.' },
);

/**
 * Object metadata: name, namespace, uid, resourceVersion, generation, labels, annotations, ownerReferences, finalizers,
 * timestamps (see the `Date` caveat above), managedFields. Structurally compatible with client-node's `V1ObjectMeta`.
 */
export type ObjectMeta = Static<typeof ObjectMetaSchema>;
