/**
 * The outcome of an admission rule: allowed (optionally with a JSON patch for mutation), denied
 * with human-readable reasons and the id of the rule that denied, or errored (the webhook could
 * not decide: bad request or missing data). Mirrors controller-runtime's admission.Allowed /
 * admission.Denied / admission.Errored (SPEC §5.1 "Response conventions").
 */
import type { Operation } from 'fast-json-patch';

/** The request passed (a mutation may carry a JSON patch, RFC 6902). */
export interface Allowed {
  allowed: true;
  /** Why (shown in audit logs), e.g. "by pass" for kinds the webhook does not judge. */
  reason?: string;
  patch?: Operation[];
}

/** The request breaks a rule. `rule` is a stable id used as the metrics label. */
export interface Denied {
  allowed: false;
  /** Stable rule id, e.g. `subnet.range.order` (label of `hybridnet_webhook_denials_total`). */
  rule: string;
  /** One line per broken constraint: field, value and rule, e.g. `spec.range.end 10.0.0.5 is before …`. */
  reasons: string[];
}

/** The webhook could not judge the request: 400 for undecodable objects, 500 for lookup failures. */
export interface Errored {
  allowed: false;
  errored: true;
  code: 400 | 500;
  message: string;
}

/** Result of every admission rule. */
export type Decision = Allowed | Denied | Errored;

/** An allowed decision. */
export function allow(reason?: string, patch?: Operation[]): Allowed {
  const d: Allowed = { allowed: true };
  if (reason !== undefined) d.reason = reason;
  if (patch !== undefined) d.patch = patch;
  return d;
}

/** A denial by rule `rule` with one or more reasons. */
export function deny(rule: string, ...reasons: string[]): Denied {
  return { allowed: false, rule, reasons };
}

/** An errored decision (400: cannot decode; 500: cannot look something up / internal). */
export function errored(code: 400 | 500, message: string): Errored {
  return { allowed: false, errored: true, code, message };
}

/** True when `d` is {@link Errored}. */
export function isErrored(d: Decision): d is Errored {
  return !d.allowed && 'errored' in d;
}

/** True when `d` is {@link Denied}. */
export function isDenied(d: Decision): d is Denied {
  return !d.allowed && !('errored' in d);
}

/** The message a user sees for a non-allowed decision (reasons joined by `; `). */
export function decisionMessage(d: Decision): string {
  if (d.allowed) return d.reason ?? '';
  if (isErrored(d)) return d.message;
  return d.reasons.join('; ');
}
