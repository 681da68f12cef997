// Parameter binding with the reference's coercion rules (docs/COMPATIBILITY.md): every scalar is read through the
// JSON token's text form, then parsed; the first failing parameter aborts with a soft error.
// Integers longer than a double holds are read with the digits the client sent (docs/COMPATIBILITY.md#exact-numbers):
// the parser records them beside the input (src/util/token-text.ts) and every scalar here is read through
// `memberText`, so a range check and an error message see exactly what was sent. Handlers get plain values.
import { softError } from './errors.js';
import { copyExactNumbers, exactJson, memberText, tokenText } from '../util/token-text.js';

export { tokenText };

/** Types read from the JSON token's text form, as the reference binds its scalar parameters. */
export type ScalarParamType = 'string' | 'int' | 'long' | 'float' | 'double' | 'bool' | 'string[]';
/**
 * `object`: the key's value, which must be a JSON object. `any`: the key's value as sent, unchecked.
 * `body`: every key of the body but `session_id` (the reference's whole-body parameter); for routes whose
 * body is a free-form map, so the docs name the map's keys instead of a field no client sends.
 */
export type ParamType = ScalarParamType | 'object' | 'any' | 'body';

/** The .NET type names the reference prints in its "Invalid value" message and its docs. */
export const PARAM_TYPE_NAMES: Record<ParamType, string> = {
  string: 'String',
  int: 'Int32',
  long: 'Int64',
  float: 'Single',
  double: 'Double',
  bool: 'Boolean',
  'string[]': 'String[]',
  object: 'JObject',
  any: 'JToken',
  body: 'JObject',
};

/**
 * The shape of a value, for the docs and OpenAPI: route outputs, and what an `object`, `any` or `body`
 * parameter holds. Scalar types are named as parameters are; `array`, `object` and `map` nest.
 */
export type Field =
  | { type: ScalarParamType | 'any'; description: string; optional?: true; nullable?: true; /** The only values it takes. */ values?: readonly (string | number | boolean)[] }
  | { type: 'array'; description: string; items: Field; optional?: true; nullable?: true }
  | { type: 'object'; description: string; fields: Fields; optional?: true; nullable?: true }
  /** An object whose keys are data (ids, names): `key` names what they are, e.g. `<model type>`. */
  | { type: 'map'; description: string; key: string; values: Field; optional?: true; nullable?: true }
  /** A value that may take any of several shapes, e.g. a setting value that is text, a number, a boolean or a list. */
  | { type: 'union'; description: string; of: readonly Field[]; optional?: true; nullable?: true };

export type Fields = Readonly<Record<string, Field>>;

type DefaultValue = string | number | boolean | null | readonly string[];

export type ParamDef =
  | { type: ScalarParamType; description: string; /** Absent = required. `null` is a valid default ("(null)" in the docs). */ default?: DefaultValue }
  | { type: 'object'; description: string; default?: null; /** What it holds, for the docs. */ shape?: Field }
  | { type: 'any'; description: string; default?: null; shape?: Field }
  | { type: 'body'; description: string; /** What the body's keys are, e.g. `<model type>`. */ key: string; values: Field };

export type Params = Readonly<Record<string, ParamDef>>;

type BaseValue<T extends ParamType> = T extends 'string'
  ? string
  : T extends 'int' | 'long' | 'float' | 'double'
    ? number
    : T extends 'bool'
      ? boolean
      : T extends 'string[]'
        ? string[]
        : T extends 'object' | 'body'
          ? Record<string, unknown>
          : unknown;

export type ParamValue<D extends ParamDef> = D extends { default: infer V } ? BaseValue<D['type']> | (V extends null ? null : never) : BaseValue<D['type']>;

export type ParamValues<P extends Params> = { -readonly [K in keyof P]: ParamValue<P[K]> };

const INTEGER = /^\s*[+-]?\d+\s*$/;
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function parseInteger(text: string, min: bigint, max: bigint): number | undefined {
  if (!INTEGER.test(text)) return undefined;
  const n = BigInt(text.trim());
  if (n < min || n > max) return undefined;
  return Number(n);
}

/**
 * Coerces one present value; returns undefined when it does not parse. `text` is the value's text form when it
 * differs from tokenText(value): the digits of a long integer as sent.
 */
export function coerce(type: ScalarParamType, value: unknown, text: string = tokenText(value)): unknown {
  switch (type) {
    case 'string':
      return text;
    case 'int':
      return parseInteger(text, INT32_MIN, INT32_MAX);
    case 'long':
      // A long beyond 2^53 is range-checked on its exact digits but handed on as the nearest number.
      return parseInteger(text, INT64_MIN, INT64_MAX);
    case 'float':
    case 'double': {
      if (!DECIMAL.test(text)) return undefined;
      const n = Number(text.trim());
      if (!Number.isFinite(n)) return undefined;
      return type === 'float' ? Math.fround(n) : n;
    }
    case 'bool': {
      const lower = text.trim().toLowerCase();
      return lower === 'true' ? true : lower === 'false' ? false : undefined;
    }
    case 'string[]':
      if (Array.isArray(value)) return value.map((_, i) => memberText(value, i));
      if (value !== null && typeof value === 'object') return Object.keys(value).map((k) => `"${k}": ${memberJson(value as Record<string, unknown>, k)}`);
      return [];
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A member as JSON writes it, a long integer with the digits it was sent with. */
function memberJson(container: Record<string, unknown>, key: string): string {
  return typeof container[key] === 'number' ? memberText(container, key) : exactJson(container[key]);
}

/** Binds every declared parameter from the request input, in declaration order. */
export function bindParams<P extends Params>(params: P, input: Record<string, unknown>): ParamValues<P> {
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(params)) {
    if (def.type === 'body') {
      const body = { ...input };
      delete body.session_id;
      copyExactNumbers(input, body);
      out[name] = body;
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(input, name)) {
      if (!('default' in def)) throw softError(`Missing required parameter '${name}'`);
      const d = def.default;
      out[name] = Array.isArray(d) ? [...d] : d;
      continue;
    }
    const raw = input[name];
    if (def.type === 'any') {
      out[name] = raw;
      continue;
    }
    if (def.type === 'object') {
      if (!isObject(raw)) throw softError(`Invalid value ${raw === null ? 'null' : `'${memberText(input, name)}'`} for parameter '${name}', must be a JSON object ('JObject')`);
      out[name] = raw;
      continue;
    }
    const text = memberText(input, name);
    const value = coerce(def.type, raw, text);
    if (value === undefined) {
      throw softError(`Invalid value '${text}' for parameter '${name}', must be type '${PARAM_TYPE_NAMES[def.type]}'`);
    }
    out[name] = value;
  }
  return out as ParamValues<P>;
}
