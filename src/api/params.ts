// Parameter binding with the reference's coercion rules (reference/01 §2.6): every scalar is read through the
// JSON token's text form, then parsed; the first failing parameter aborts with a soft error.
import { softError } from './errors.js';
import { tokenText } from '../util/token-text.js';

export { tokenText };

export type ParamType = 'string' | 'int' | 'long' | 'float' | 'double' | 'bool' | 'string[]' | 'object';

/** The .NET type names the reference prints in its "Invalid value" message. */
export const PARAM_TYPE_NAMES: Record<ParamType, string> = {
  string: 'String',
  int: 'Int32',
  long: 'Int64',
  float: 'Single',
  double: 'Double',
  bool: 'Boolean',
  'string[]': 'String[]',
  object: 'JObject',
};

export interface ParamDef {
  type: ParamType;
  description: string;
  /** Absent = required. `null` is a valid default ("(null)" in the docs). Ignored for `object`. */
  default?: string | number | boolean | null | readonly string[];
}

type BaseValue<T extends ParamType> = T extends 'string'
  ? string
  : T extends 'int' | 'long' | 'float' | 'double'
    ? number
    : T extends 'bool'
      ? boolean
      : T extends 'string[]'
        ? string[]
        : Record<string, unknown>;

export type ParamValue<D extends ParamDef> = D extends { default: infer V } ? BaseValue<D['type']> | (V extends null ? null : never) : BaseValue<D['type']>;

export type ParamValues<P extends Record<string, ParamDef>> = { [K in keyof P]: ParamValue<P[K]> };

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

/** Coerces one present value; returns undefined when it does not parse. */
export function coerce(type: ParamType, value: unknown): unknown {
  switch (type) {
    case 'string':
      return tokenText(value);
    case 'int':
      return parseInteger(tokenText(value), INT32_MIN, INT32_MAX);
    case 'long':
      return parseInteger(tokenText(value), INT64_MIN, INT64_MAX);
    case 'float':
    case 'double': {
      const text = tokenText(value);
      if (!DECIMAL.test(text)) return undefined;
      const n = Number(text.trim());
      if (!Number.isFinite(n)) return undefined;
      return type === 'float' ? Math.fround(n) : n;
    }
    case 'bool': {
      const text = tokenText(value).trim().toLowerCase();
      return text === 'true' ? true : text === 'false' ? false : undefined;
    }
    case 'string[]':
      if (Array.isArray(value)) return value.map(tokenText);
      if (value !== null && typeof value === 'object') return Object.entries(value).map(([k, v]) => `"${k}": ${JSON.stringify(v)}`);
      return [];
    case 'object':
      return value;
  }
}

/** Binds every declared parameter from the request input, in declaration order. */
export function bindParams<P extends Record<string, ParamDef>>(params: P, input: Record<string, unknown>): ParamValues<P> {
  const out: Record<string, unknown> = {};
  let whole: Record<string, unknown> | undefined;
  for (const [name, def] of Object.entries(params)) {
    if (def.type === 'object') {
      // A JObject parameter receives the whole input without its session id, whatever it is called.
      if (!whole) {
        whole = { ...input };
        delete whole.session_id;
      }
      out[name] = whole;
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(input, name)) {
      if (!('default' in def)) throw softError(`Missing required parameter '${name}'`);
      const d = def.default;
      out[name] = Array.isArray(d) ? [...d] : d;
      continue;
    }
    const raw = input[name];
    const value = coerce(def.type, raw);
    if (value === undefined) {
      throw softError(`Invalid value '${tokenText(raw)}' for parameter '${name}', must be type '${PARAM_TYPE_NAMES[def.type]}'`);
    }
    out[name] = value;
  }
  return out as ParamValues<P>;
}
