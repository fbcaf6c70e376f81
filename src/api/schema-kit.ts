/**
 * TypeBox building blocks that stay inside the Kubernetes *structural schema* subset of OpenAPI v3 (every node has a
 * `type`; no anyOf/oneOf/allOf/not/$ref; maps as `additionalProperties`; `nullable: true` instead of a null union), and
 * the conversion of such a schema into the plain JSON that goes into a CRD's `openAPIV3Schema`.
 *
 * Source of the rules: Kubernetes "Extend the Kubernetes API with CustomResourceDefinitions", section "Specifying a
 * structural schema", and apiextensions.k8s.io/v1 `JSONSchemaProps`.
 */
import { Type } from '@sinclair/typebox';
import type { SchemaOptions, Static, TSchema, TUnsafe, TInteger, TString } from '@sinclair/typebox';

/** Smallest value of a Go `int32` (format `int32`). */
export const INT32_MIN = -2147483648;
/** Largest value of a Go `int32` (format `int32`); also Go's `math.MaxInt32` used for non-numeric stateful indexes. */
export const INT32_MAX = 2147483647;

/**
 * Marks `schema` as nullable the OpenAPI v3 way: returns `{...schema, nullable: true}` (the `type` stays, which both
 * Kubernetes and ajv require), with static type `Static<T> | null`. Use for Go pointer fields whose null has a meaning
 * (e.g. `netID`, `autoNatOutgoing`). Kubernetes keeps a null only for nullable fields; it prunes nulls elsewhere.
 */
export function Nullable<T extends TSchema>(schema: T, options: SchemaOptions = {}): TUnsafe<Static<T> | null> {
  return Type.Unsafe<Static<T> | null>({ ...schema, ...options, nullable: true });
}

/**
 * A string restricted to `values` as `{type: 'string', enum: [...]}` (TypeBox's own unions would emit `anyOf`, which
 * a structural schema forbids). Static type is the union of `values`.
 */
export function StringEnum<const V extends readonly string[]>(
  values: V,
  options: SchemaOptions = {},
): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ ...options, type: 'string', enum: [...values] });
}

/**
 * A string that must equal `value` (for `apiVersion` / `kind`), as a one-element `enum` so it stays structural.
 */
export function StringConst<const V extends string>(value: V, options: SchemaOptions = {}): TUnsafe<V> {
  return Type.Unsafe<V>({ ...options, type: 'string', enum: [value] });
}

/**
 * A Go `map[string]string`: `{type: 'object', additionalProperties: {type: 'string'}}` (TypeBox's `Record` would emit
 * `patternProperties`, which Kubernetes rejects). Static type `Record<string, string>`.
 */
export function StringMap(options: SchemaOptions = {}): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({ ...options, type: 'object', additionalProperties: { type: 'string' } });
}

/**
 * A Go `int32`: `{type: 'integer', format: 'int32', minimum, maximum}`. The bounds default to the int32 range so that
 * the value always fits the original's Go type (Kubernetes does not range-check `format: int32` by itself); narrow them
 * with `options.minimum` / `options.maximum`.
 */
export function Int32(options: SchemaOptions & { minimum?: number; maximum?: number } = {}): TInteger {
  return Type.Integer({ format: 'int32', minimum: INT32_MIN, maximum: INT32_MAX, ...options });
}

/**
 * Returns a copy of `schema` with `description` replaced, keeping its static type (for reusing one shape, such as
 * `Count`, under fields with different meanings).
 */
export function Described<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}

/** A Kubernetes `metav1.Time` on the wire: RFC 3339 string, `{type: 'string', format: 'date-time'}`. */
export function Timestamp(options: SchemaOptions = {}): TString {
  return Type.String({ ...options, format: 'date-time' });
}

/** A JSON value as emitted into a CRD: plain objects, arrays and scalars only. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A plain-JSON OpenAPI v3 schema node as it appears in a CRD (`JSONSchemaProps`). */
export interface CrdSchemaNode {
  [keyword: string]: JsonValue | undefined;
}

/**
 * Keywords allowed in emitted CRD schemas, in the order they are written (readable YAML, stable diffs); anything else is
 * a programming error caught at generation time.
 */
const EMITTED_KEYWORDS: readonly string[] = [
  'description',
  'type',
  'format',
  'nullable',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'required',
  'properties',
  'items',
  'additionalProperties',
];

/** Keywords that make a schema non-structural or are not supported by apiextensions v1. */
const FORBIDDEN_KEYWORDS: ReadonlySet<string> = new Set([
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  '$ref',
  '$id',
  'patternProperties',
  'const',
  'default',
]);

/** Thrown when a TypeBox schema cannot be emitted as a structural CRD schema; names the offending JSON path. */
export class NonStructuralSchemaError extends Error {
  /** Where in the schema the problem is, e.g. `spec.properties.config`. */
  readonly schemaPath: string;

  constructor(schemaPath: string, problem: string) {
    super(`schema at ${schemaPath || '<root>'} is not a structural CRD schema: ${problem}`);
    this.name = 'NonStructuralSchemaError';
    this.schemaPath = schemaPath;
  }
}

/**
 * Converts a TypeBox schema into the plain JSON of a CRD `openAPIV3Schema` node: drops TypeBox's symbol keys (Kind,
 * Optional markers), keeps only {@link EMITTED_KEYWORDS}, and recurses into `properties`, `items` and
 * `additionalProperties`. Property *names* such as `kind` are kept; only schema keywords are filtered.
 *
 * Throws {@link NonStructuralSchemaError} when a node has no `type`, uses a forbidden keyword (anyOf, oneOf, allOf, not,
 * $ref, patternProperties, const, default) or an unknown keyword, so a non-structural schema can never reach the YAML.
 */
export function toCrdSchema(schema: TSchema, path = ''): CrdSchemaNode {
  const source = schema as Record<string, unknown>;
  if (typeof source.type !== 'string') throw new NonStructuralSchemaError(path, 'node has no single `type`');
  for (const keyword of Object.keys(source)) {
    const where = path ? `${path}.${keyword}` : keyword;
    if (FORBIDDEN_KEYWORDS.has(keyword))
      throw new NonStructuralSchemaError(where, `keyword '${keyword}' is not allowed`);
    if (!EMITTED_KEYWORDS.includes(keyword)) throw new NonStructuralSchemaError(where, `unknown keyword '${keyword}'`);
  }
  const out: CrdSchemaNode = {};
  for (const keyword of EMITTED_KEYWORDS) {
    const value = source[keyword];
    if (value === undefined) continue;
    const where = path ? `${path}.${keyword}` : keyword;
    if (keyword === 'properties') {
      const properties: Record<string, JsonValue> = {};
      for (const [name, child] of Object.entries(value as Record<string, TSchema>)) {
        properties[name] = toCrdSchema(child, `${where}.${name}`) as JsonValue;
      }
      out.properties = properties;
    } else if (keyword === 'items' || (keyword === 'additionalProperties' && typeof value === 'object')) {
      out[keyword] = toCrdSchema(value as TSchema, where) as JsonValue;
    } else {
      out[keyword] = structuredClone(value) as JsonValue;
    }
  }
  if (out.type === 'object' && out.properties !== undefined && out.additionalProperties !== undefined) {
    throw new NonStructuralSchemaError(path, '`properties` and `additionalProperties` are mutually exclusive');
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  return out;
}
