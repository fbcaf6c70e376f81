/**
 * IPInstance admission: the addresses are IPAM's records, so only Hybridnet's own components may
 * write them; users may read them but not forge, move or delete them (issue 5). The original
 * registered no IPInstance webhook (SPEC §5.1); this is new.
 *
 * Policy:
 * - CREATE / UPDATE / DELETE (including the `status` subresource) by a user in `allowedUsers`
 *   (default: the manager and daemon service accounts, the garbage collector and namespace
 *   controller that delete IPInstances of deleted owners, and kube-controller-manager's own
 *   identity when it runs without per-controller credentials) pass.
 * - Members of `adminGroups` (default `system:masters`) may DELETE an IPInstance and may UPDATE one
 *   only to remove finalizers: the two things an operator needs to clean up after a lost manager.
 *   The IPAM release still goes through the manager's finalizer path. Webhooks are called for
 *   `system:masters` too (no built-in bypass), so this exception is explicit.
 * - Everyone else is refused, naming the user, the object and who may write.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AdmissionRequest } from '../admission.ts';
import { allow, deny, type Decision } from '../decision.ts';

/** Service accounts and users allowed to write IPInstances by default. */
export const DEFAULT_IPINSTANCE_WRITERS: readonly string[] = [
  'system:serviceaccount:kube-system:hybridnet-manager',
  'system:serviceaccount:kube-system:hybridnet-daemon',
  'system:serviceaccount:kube-system:generic-garbage-collector',
  'system:serviceaccount:kube-system:namespace-controller',
  'system:kube-controller-manager',
];

/** Groups whose members may delete IPInstances and strip their finalizers (default `system:masters`). */
export const DEFAULT_IPINSTANCE_ADMIN_GROUPS: readonly string[] = ['system:masters'];

/** Who may write IPInstances. */
export interface IPInstancePolicy {
  allowedUsers: readonly string[];
  adminGroups: readonly string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when `next` equals `prev` except for fewer finalizers (a subset). */
function onlyRemovesFinalizers(prev: unknown, next: unknown): boolean {
  if (!isRecord(prev) || !isRecord(next)) return false;
  const strip = (o: Record<string, unknown>): Record<string, unknown> => {
    const meta = isRecord(o.metadata) ? { ...o.metadata } : {};
    for (const k of ['finalizers', 'resourceVersion', 'managedFields', 'generation']) delete meta[k];
    return { ...o, metadata: meta };
  };
  const fin = (o: Record<string, unknown>): string[] => {
    const f = isRecord(o.metadata) ? o.metadata.finalizers : undefined;
    return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : [];
  };
  const before = fin(prev);
  const after = fin(next);
  return (
    after.length < before.length &&
    after.every((f) => before.includes(f)) &&
    isDeepStrictEqual(strip(prev), strip(next))
  );
}

/**
 * Judges a write to an IPInstance (or its status) against `policy`.
 * @returns allowed for the project's writers and permitted admin clean-ups; denied otherwise.
 */
export function validateIPInstance(req: AdmissionRequest, policy: IPInstancePolicy): Decision {
  const user = req.userInfo.username;
  if (policy.allowedUsers.includes(user)) return allow();
  const groups = req.userInfo.groups ?? [];
  const admin = groups.some((g) => policy.adminGroups.includes(g));
  if (admin && req.operation === 'DELETE') return allow('administrator clean-up');
  if (admin && req.operation === 'UPDATE' && onlyRemovesFinalizers(req.oldObject, req.object)) {
    return allow('administrator removed finalizers');
  }
  const verb = { CREATE: 'create', UPDATE: 'update', DELETE: 'delete', CONNECT: 'connect to' }[req.operation];
  const target = `IPInstance ${req.namespace ?? ''}/${req.name ?? ''}${req.subResource ? ` (${req.subResource})` : ''}`;
  const adminNote =
    policy.adminGroups.length > 0
      ? `; members of ${policy.adminGroups.join(', ')} may only delete IPInstances or remove their finalizers`
      : '';
  return deny(
    'ipinstance.writer',
    `user ${user} may not ${verb} ${target}: IPInstances record IPAM allocations and are written only by ` +
      `${policy.allowedUsers.join(', ')}${adminNote}; users may read them`,
  );
}
