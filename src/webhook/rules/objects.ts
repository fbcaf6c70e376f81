/**
 * Decoding of the objects carried by an AdmissionRequest into typed Hybridnet objects, with the
 * schema validators of `src/api`. A schema failure is an errored 400 (the API server validated the
 * CRD schema already, so this means a version skew or a broken request), never a denial.
 */
import { SchemaValidationError } from '../../api/index.ts';
import type { AdmissionRequest } from '../admission.ts';
import { errored, type Errored } from '../decision.ts';

/** Decodes `req[which]` with `parse` (a `src/api` validate function); errored 400 when it is missing or invalid. */
export function decodeObject<T>(
  req: AdmissionRequest,
  which: 'object' | 'oldObject',
  parse: (obj: unknown) => T,
): T | Errored {
  const raw = req[which];
  if (raw === undefined) {
    return errored(400, `${req.operation} ${req.kind.kind} ${req.name ?? ''}: the request carries no ${which}`);
  }
  try {
    return parse(raw);
  } catch (e) {
    if (e instanceof SchemaValidationError) return errored(400, e.message);
    throw e;
  }
}

/** True when `v` is an {@link Errored} produced by {@link decodeObject}. */
export function isDecodeError(v: unknown): v is Errored {
  return typeof v === 'object' && v !== null && (v as { errored?: unknown }).errored === true;
}
