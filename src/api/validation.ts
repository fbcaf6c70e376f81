/**
 * Runtime validation of Hybridnet objects against the same TypeBox schemas that generate the CRDs, with ajv. Use at
 * trust boundaries (watch events, admission requests, files): `validateNetwork(obj: unknown): Network` either returns
 * the object, now typed, or throws {@link SchemaValidationError} naming every offending field path and value.
 *
 * Semantics follow the API server's schema validation, not its pruning: unknown fields are accepted and left in place
 * (the API server would prune them), and `null` is accepted only for `nullable` fields (the API server would prune a
 * null elsewhere before validating). Cross-object and cross-field rules belong to the webhook (SPEC §5), not here.
 */
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { TObject } from '@sinclair/typebox';
import { IPInstanceResource, IPInstanceSchema } from './ipinstance.ts';
import type { IPInstance } from './ipinstance.ts';
import { NetworkResource, NetworkSchema } from './network.ts';
import type { Network } from './network.ts';
import { NodeInfoResource, NodeInfoSchema } from './nodeinfo.ts';
import type { NodeInfo } from './nodeinfo.ts';
import { INT32_MAX, INT32_MIN } from './schema-kit.ts';
import { SubnetResource, SubnetSchema } from './subnet.ts';
import type { Subnet } from './subnet.ts';

/** One schema violation: where (`spec.config.bgpPeers[0].asn`), what is wrong, and the offending value. */
export interface SchemaIssue {
  /** Field path in dotted/bracket form; `metadata.labels["a.b/c"]` for keys that are not identifiers; `` for the root. */
  readonly path: string;
  /** What is wrong, e.g. `must be integer`, `is required`, `must be one of "4", "6"`. */
  readonly message: string;
  /** The offending value (`undefined` for a missing required field). */
  readonly value: unknown;
}

/**
 * Thrown by the `validate*` functions when an object does not match its kind's schema. `kind` and `objectName`
 * identify the object (name may be undefined if metadata is missing); `issues` lists every violation; the message
 * names them all so a user can fix the manifest in one go.
 */
export class SchemaValidationError extends Error {
  /** Kind the object was validated as, e.g. `Subnet`. */
  readonly kind: string;
  /** `metadata.name` (with `namespace/` prefix for namespaced objects) when present. */
  readonly objectName: string | undefined;
  /** All violations, in ajv order (document order). */
  readonly issues: readonly SchemaIssue[];

  constructor(kind: string, objectName: string | undefined, issues: readonly SchemaIssue[]) {
    const subject = objectName === undefined ? kind : `${kind} "${objectName}"`;
    const details = issues
      .map((issue) => `${issue.path || '<root>'}: ${issue.message}${describeValue(issue.value)}`)
      .join('; ');
    super(`${subject} does not match the ${kind} schema: ${details}`);
    this.name = 'SchemaValidationError';
    this.kind = kind;
    this.objectName = objectName;
    this.issues = issues;
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return '';
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  text ??= `<${typeof value}>`;
  return ` (got ${text.length > 80 ? `${text.slice(0, 77)}...` : text})`;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n: number) => Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX,
  });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => RFC3339.test(s) && !isNaN(Date.parse(s)) });
  return ajv;
}

const ajv = newAjv();

/**
 * A compiled validator for one kind: `validate` returns the typed object or throws {@link SchemaValidationError};
 * `is` is the non-throwing type guard.
 */
export interface Validator<T> {
  /** Kind name used in error messages. */
  readonly kind: string;
  /** Returns `obj` typed as `T`, or throws {@link SchemaValidationError} listing every violation. */
  readonly validate: (obj: unknown) => T;
  /** True when `obj` matches the schema; never throws. */
  readonly is: (obj: unknown) => obj is T;
}

/**
 * Compiles `schema` (a TypeBox object schema of a Hybridnet kind) into a {@link Validator}. Exported for schemas other
 * modules define the same way (e.g. multi-cluster kinds); the four networking kinds have ready-made validators below.
 * Throws ajv's own error if the schema itself is invalid (a programming error).
 */
export function compileValidator<T>(kind: string, schema: TObject): Validator<T> {
  const check: ValidateFunction = ajv.compile(schema);
  return {
    kind,
    validate: (obj: unknown): T => {
      if (check(obj)) return obj as T;
      throw new SchemaValidationError(kind, objectNameOf(obj), issuesOf(obj, check.errors ?? []));
    },
    is: (obj: unknown): obj is T => check(obj),
  };
}

function objectNameOf(obj: unknown): string | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const metadata = (obj as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const { name, namespace } = metadata as { name?: unknown; namespace?: unknown };
  if (typeof name !== 'string') return undefined;
  return typeof namespace === 'string' && namespace !== '' ? `${namespace}/${name}` : name;
}

/**
 * Converts ajv errors into issues with readable paths, derived from the JSON pointer and the data it points into. All
 * errors on one path become one issue (messages joined with "and"); a `format` error is dropped when the same value
 * already fails its `type`.
 */
function issuesOf(root: unknown, errors: readonly ErrorObject[]): SchemaIssue[] {
  const byPath = new Map<string, { value: unknown; messages: string[]; typeFailed: boolean }>();
  for (const error of errors) {
    const segments = error.instancePath === '' ? [] : error.instancePath.slice(1).split('/').map(unescapePointer);
    let message: string;
    let value: unknown = error.data;
    if (error.keyword === 'required') {
      segments.push(String((error.params as { missingProperty: string }).missingProperty));
      message = 'is required';
      value = undefined;
    } else if (error.keyword === 'enum') {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      message = `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
    } else {
      message = error.message ?? `fails ${error.keyword}`;
    }
    const path = formatPath(root, segments);
    const entry = byPath.get(path) ?? { value, messages: [], typeFailed: false };
    byPath.set(path, entry);
    if (error.keyword === 'format' && entry.typeFailed) continue;
    if (error.keyword === 'type') entry.typeFailed = true;
    if (!entry.messages.includes(message)) entry.messages.push(message);
  }
  return [...byPath].map(([path, { value, messages }]) => ({ path, message: messages.join(' and '), value }));
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `["spec","config","bgpPeers","0","asn"]` → `spec.config.bgpPeers[0].asn`, using the data to tell indexes from keys. */
function formatPath(root: unknown, segments: readonly string[]): string {
  let path = '';
  let node: unknown = root;
  for (const segment of segments) {
    if (Array.isArray(node)) {
      path += `[${segment}]`;
      node = node[Number(segment)];
    } else {
      path += IDENTIFIER.test(segment) ? (path === '' ? segment : `.${segment}`) : `[${JSON.stringify(segment)}]`;
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}

const networkValidator = compileValidator<Network>(NetworkResource.kind, NetworkSchema);
const subnetValidator = compileValidator<Subnet>(SubnetResource.kind, SubnetSchema);
const ipInstanceValidator = compileValidator<IPInstance>(IPInstanceResource.kind, IPInstanceSchema);
const nodeInfoValidator = compileValidator<NodeInfo>(NodeInfoResource.kind, NodeInfoSchema);

/**
 * Checks `obj` against the Network schema (SPEC §2.1) and returns it typed. Throws {@link SchemaValidationError} listing
 * every violation (e.g. `spec.type: must be one of "Underlay", ...`). Does not copy or modify `obj`.
 */
export function validateNetwork(obj: unknown): Network {
  return networkValidator.validate(obj);
}

/** Checks `obj` against the Subnet schema (SPEC §2.2) and returns it typed; throws {@link SchemaValidationError}. */
export function validateSubnet(obj: unknown): Subnet {
  return subnetValidator.validate(obj);
}

/** Checks `obj` against the IPInstance schema (SPEC §2.3) and returns it typed; throws {@link SchemaValidationError}. */
export function validateIPInstance(obj: unknown): IPInstance {
  return ipInstanceValidator.validate(obj);
}

/** Checks `obj` against the NodeInfo schema (SPEC §2.4) and returns it typed; throws {@link SchemaValidationError}. */
export function validateNodeInfo(obj: unknown): NodeInfo {
  return nodeInfoValidator.validate(obj);
}

/** True when `obj` is a valid Network (SPEC §2.1); never throws. */
export function isNetwork(obj: unknown): obj is Network {
  return networkValidator.is(obj);
}

/** True when `obj` is a valid Subnet (SPEC §2.2); never throws. */
export function isSubnet(obj: unknown): obj is Subnet {
  return subnetValidator.is(obj);
}

/** True when `obj` is a valid IPInstance (SPEC §2.3); never throws. */
export function isIPInstance(obj: unknown): obj is IPInstance {
  return ipInstanceValidator.is(obj);
}

/** True when `obj` is a valid NodeInfo (SPEC §2.4); never throws. */
export function isNodeInfo(obj: unknown): obj is NodeInfo {
  return nodeInfoValidator.is(obj);
}
