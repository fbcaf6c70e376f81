/** AdmissionRequest builders for the rule unit tests. Not used by production code. */
import type { AdmissionOperation, AdmissionRequest } from '../admission.ts';

const KINDS: Record<string, { group: string; resource: string }> = {
  Network: { group: 'networking.alibaba.com', resource: 'networks' },
  Subnet: { group: 'networking.alibaba.com', resource: 'subnets' },
  IPInstance: { group: 'networking.alibaba.com', resource: 'ipinstances' },
  Pod: { group: '', resource: 'pods' },
};

/** A request for `kind` with `operation`, the new object and optionally the old one. */
export function request(
  kind: 'Network' | 'Subnet' | 'IPInstance' | 'Pod',
  operation: AdmissionOperation,
  object: unknown,
  oldObject?: unknown,
  user: { username: string; groups?: string[] } = { username: 'alice', groups: ['system:authenticated'] },
): AdmissionRequest {
  const k = KINDS[kind] ?? { group: '', resource: '' };
  const meta = ((object ?? oldObject) as { metadata?: { name?: unknown; namespace?: unknown } } | undefined)?.metadata;
  const req: AdmissionRequest = {
    uid: 'uid-1',
    kind: { group: k.group, version: 'v1', kind },
    resource: { group: k.group, version: 'v1', resource: k.resource },
    operation,
    userInfo: user,
  };
  // as parseAdmissionReview does: request.name / request.namespace are strings or absent (a hostile object's
  // metadata may hold anything; the API server's request fields cannot)
  if (typeof meta?.name === 'string' && meta.name !== '') req.name = meta.name;
  if (typeof meta?.namespace === 'string' && meta.namespace !== '') req.namespace = meta.namespace;
  if (object !== undefined) req.object = object;
  if (oldObject !== undefined) req.oldObject = oldObject;
  return req;
}
