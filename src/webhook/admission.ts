/**
 * AdmissionReview decoding and encoding (Kubernetes `admission.k8s.io/v1`, also `v1beta1`: the
 * response carries the request's apiVersion). A response to a mutation carries the JSON patch
 * base64-encoded with `patchType: JSONPatch`.
 *
 * Source: Kubernetes API reference, "Dynamic Admission Control" (request/response shapes).
 */
import { decisionMessage, isErrored, type Decision } from './decision.ts';

/** Admission API versions the server answers. */
export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionApiVersion = (typeof ADMISSION_API_VERSIONS)[number];

/** Admission operations. */
export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** The requesting user as the API server authenticated it. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** The part of `request` the rules use. Objects stay `unknown` until a rule narrows them. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: AdmissionOperation;
  userInfo: UserInfo;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

/** A decoded AdmissionReview: its apiVersion (echoed in the response) and request. */
export interface AdmissionReviewRequest {
  apiVersion: AdmissionApiVersion;
  request: AdmissionRequest;
}

/** Raised when a body is not an AdmissionReview this server can answer; carries what was wrong. */
export class AdmissionDecodeError extends Error {
  constructor(
    message: string,
    /** The request uid when it could be read (so a 400 can still be returned in a review). */
    readonly uid?: string,
    readonly apiVersion?: AdmissionApiVersion,
  ) {
    super(message);
    this.name = 'AdmissionDecodeError';
  }
}

const OPERATIONS: ReadonlySet<string> = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/**
 * Parses a JSON body into an {@link AdmissionReviewRequest}.
 * @throws AdmissionDecodeError for non-JSON, a wrong kind/apiVersion, or a request without uid/operation.
 */
export function parseAdmissionReview(body: string): AdmissionReviewRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    throw new AdmissionDecodeError(`request body is not JSON: ${(e as Error).message}`);
  }
  if (!isRecord(doc)) throw new AdmissionDecodeError('request body is not a JSON object');
  const apiVersion = str(doc.apiVersion);
  if (!(ADMISSION_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    throw new AdmissionDecodeError(
      `apiVersion ${JSON.stringify(apiVersion)} is not one of ${ADMISSION_API_VERSIONS.join(', ')}`,
    );
  }
  const version = apiVersion as AdmissionApiVersion;
  if (doc.kind !== 'AdmissionReview') {
    throw new AdmissionDecodeError(`kind ${JSON.stringify(doc.kind)} is not AdmissionReview`);
  }
  const r = doc.request;
  if (!isRecord(r)) throw new AdmissionDecodeError('AdmissionReview has no request');
  const uid = str(r.uid);
  if (uid === '') throw new AdmissionDecodeError('request.uid is empty');
  const operation = str(r.operation);
  if (!OPERATIONS.has(operation)) {
    throw new AdmissionDecodeError(`request.operation ${JSON.stringify(operation)} is not known`, uid, version);
  }
  const kind = isRecord(r.kind) ? r.kind : {};
  const resource = isRecord(r.resource) ? r.resource : {};
  const userInfo = isRecord(r.userInfo) ? r.userInfo : {};
  const request: AdmissionRequest = {
    uid,
    kind: { group: str(kind.group), version: str(kind.version), kind: str(kind.kind) },
    resource: { group: str(resource.group), version: str(resource.version), resource: str(resource.resource) },
    operation: operation as AdmissionOperation,
    userInfo: {
      username: str(userInfo.username),
      groups: Array.isArray(userInfo.groups) ? userInfo.groups.filter((g): g is string => typeof g === 'string') : [],
    },
  };
  if (typeof r.subResource === 'string' && r.subResource !== '') request.subResource = r.subResource;
  if (typeof r.name === 'string' && r.name !== '') request.name = r.name;
  if (typeof r.namespace === 'string' && r.namespace !== '') request.namespace = r.namespace;
  if (r.object !== undefined && r.object !== null) request.object = r.object;
  if (r.oldObject !== undefined && r.oldObject !== null) request.oldObject = r.oldObject;
  if (r.dryRun === true) request.dryRun = true;
  return { apiVersion: version, request };
}

/** The JSON AdmissionReview response for `decision` (status 403 for denials, the error code otherwise). */
export function admissionReviewResponse(apiVersion: AdmissionApiVersion, uid: string, decision: Decision): unknown {
  const response: Record<string, unknown> = { uid, allowed: decision.allowed };
  if (decision.allowed) {
    if (decision.reason !== undefined) response.status = { code: 200, message: decision.reason };
    if (decision.patch !== undefined && decision.patch.length > 0) {
      response.patchType = 'JSONPatch';
      response.patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
    }
  } else if (isErrored(decision)) {
    response.status = { code: decision.code, message: decision.message };
  } else {
    response.status = { code: 403, reason: 'Forbidden', message: decisionMessage(decision) };
  }
  return { apiVersion, kind: 'AdmissionReview', response };
}
