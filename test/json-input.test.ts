// The sliced JSON parser gives exactly what JSON.parse gives (through parseInput), for many generated texts cut
// into slices at every kind of boundary, and refuses what parseInput refuses. Integers longer than a double holds
// keep the digits sent, for parameter binding and stored text (docs/COMPATIBILITY.md#exact-numbers).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../src/api/errors.js';
import { MAX_JSON_DEPTH, MAX_JSON_VALUES, parseInput, parseInputAsync, parseInputSliced } from '../src/api/json-input.js';
import { bindParams, type Params } from '../src/api/params.js';
import { paramMapText } from '../src/presets/presets.js';
import { memberText, tokenText } from '../src/util/token-text.js';
import { mulberry32 } from '../bench/prng.js';

const WS = [' ', '\t', '\n', '\r', ''];
const KEYS = ['a', 'session_id', '__proto__', 'constructor', '0', '10', '1', 'é', '日本', '😀', '', 'toString'];
const STRING_BITS = ['a', 'Z', ' ', 'é', '€', '日', '😀', '\\n', '\\"', '\\\\', '\\/', '\\b', '\\f', '\\r', '\\t', '\\u0041', '\\u00e9', '\\ud83d\\ude00', '\\ud800', '\\udfff', '\\u0000', '\x7f', '\u2028'];
const NUMBERS = ['0', '-0', '1', '-1', '12345678901234567890', '0.1', '1e3', '1E-7', '-2.5e+10', '9007199254740993', '1.7976931348623157e308', '1e400', '5e-324', '123.456e-2', '0.30000000000000004'];

function gen(rand: () => number, depth: number, object = false): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const ws = (): string => (rand() < 0.3 ? pick(WS) : '');
  const str = (): string => {
    let s = '"';
    const n = Math.floor(rand() * 6);
    for (let i = 0; i < n; i++) s += pick(STRING_BITS);
    return `${s}"`;
  };
  const r = rand();
  if (!object && (depth <= 0 || r < 0.35)) {
    const k = rand();
    if (k < 0.4) return str();
    if (k < 0.75) return pick(NUMBERS);
    return pick(['true', 'false', 'null']);
  }
  const n = Math.floor(rand() * 5);
  const items: string[] = [];
  if (object || r < 0.65) {
    for (let i = 0; i < n; i++) items.push(`${ws()}${rand() < 0.6 ? JSON.stringify(pick(KEYS)) : str()}${ws()}:${ws()}${gen(rand, depth - 1)}${ws()}`);
    return `{${items.join(',')}${ws()}}`;
  }
  for (let i = 0; i < n; i++) items.push(`${ws()}${gen(rand, depth - 1)}${ws()}`);
  return `[${items.join(',')}${ws()}]`;
}

function outcome(fn: () => unknown): { ok: true; value: unknown; text: string } | { ok: false } {
  try {
    const value = fn();
    return { ok: true, value, text: JSON.stringify(value) };
  } catch {
    return { ok: false };
  }
}

async function sliced(buf: Buffer, slice: number): Promise<ReturnType<typeof outcome>> {
  try {
    const value = await parseInputSliced(buf, slice);
    return { ok: true, value, text: JSON.stringify(value) };
  } catch {
    return { ok: false };
  }
}

/** Breaks a valid text the ways clients do: truncation, a stray byte, a removed byte. */
function damage(rand: () => number, text: string): string {
  const at = Math.floor(rand() * (text.length + 1));
  const k = rand();
  if (k < 0.33) return text.slice(0, at);
  if (k < 0.66) return text.slice(0, at) + ['}', ']', ',', ':', '"', '\\', 'x', '\u0001', '01', '-', '.'][Math.floor(rand() * 11)] + text.slice(at);
  return text.slice(0, at) + text.slice(at + 1);
}

describe('sliced JSON parsing', () => {
  test('2,000 generated JSON texts parse to the same object as JSON.parse, at every slice size, or are refused by both', async () => {
    // Seeded, so a failure names a text that reproduces it.
    const rng = mulberry32(20261129);
    const rand = (): number => rng.next();
    let accepted = 0;
    for (let n = 0; n < 2000; n++) {
      const valid = `${WS[n % 5]}${gen(rand, 6, true)}${WS[(n >> 2) % 5]}`;
      const text = n % 3 === 2 ? damage(rand, valid) : valid;
      const buf = Buffer.from(text, 'utf8');
      const expected = outcome(() => parseInput(buf));
      for (const slice of [3, 64, 1 << 20]) {
        const got = await sliced(buf, slice);
        assert.equal(got.ok, expected.ok, `case ${n} slice ${slice}: ${text}`);
        if (got.ok && expected.ok) {
          assert.equal(got.text, expected.text, `case ${n} slice ${slice}: key order and values`);
          assert.deepStrictEqual(got.value, expected.value, `case ${n} slice ${slice}: ${text}`);
        }
      }
      if (expected.ok) accepted++;
    }
    assert.ok(accepted > 1300, `only ${accepted} generated texts were valid`);
  });

  test('__proto__ is an own property, repeated keys keep the last value in the first position', async () => {
    const text = '{"b":1,"__proto__":{"polluted":true},"a":2,"b":3}';
    const got = await parseInputSliced(Buffer.from(text), 3);
    assert.deepEqual(Object.keys(got), ['b', '__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
    assert.deepStrictEqual(got, parseInput(text));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('nesting is limited to MAX_JSON_DEPTH levels and invalid UTF-8 is refused, as for small bodies', async () => {
    const deep = (n: number): Buffer => Buffer.from(`{"a":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`);
    assert.deepStrictEqual(await parseInputSliced(deep(MAX_JSON_DEPTH), 5), parseInput(deep(MAX_JSON_DEPTH)));
    await assert.rejects(parseInputSliced(deep(MAX_JSON_DEPTH + 1), 5), /nested deeper than 64 levels|Nested deeper than 64 levels/);
    assert.throws(() => parseInput(deep(MAX_JSON_DEPTH + 1)), /nested deeper/);
    for (const bad of [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x22, 0x7d]), Buffer.from('{"a":"\xed\xa0\x80"}', 'latin1'), Buffer.from('{"a":"\xc0\xaf"}', 'latin1')]) {
      await assert.rejects(parseInputSliced(bad, 2), /not valid UTF-8/);
      assert.throws(() => parseInput(bad), /not valid UTF-8/);
    }
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"x":"é"}')]);
    assert.deepStrictEqual(await parseInputSliced(bom, 2), parseInput(bom));
  });

  test('both parsers accept MAX_JSON_VALUES values and refuse one more, counting every kind of value but not keys', async () => {
    const kinds = ['{}', '[]', '"s"', '-1.5', 'true', 'false', 'null', '"a,b:{["'];
    // The top object and the array are values too.
    const body = (n: number): Buffer => Buffer.from(`{ "a" : [ ${Array.from({ length: n - 2 }, (_, i) => kinds[i % kinds.length]).join(' ,\n')} ] }`);
    const atLimit = body(MAX_JSON_VALUES);
    assert.equal((parseInput(atLimit).a as unknown[]).length, MAX_JSON_VALUES - 2);
    assert.deepStrictEqual(await parseInputSliced(atLimit, 4096), parseInput(atLimit));
    const over = body(MAX_JSON_VALUES + 1);
    assert.throws(() => parseInput(over), { message: 'The request body is not a valid JSON object: it holds more than 100,000 values.' });
    await assert.rejects(parseInputSliced(over, 4096), /More than 100,000 values at byte \d+/);
    // Keys are not values: an object of 99,999 members holds 100,000 values with the object itself.
    const members = Buffer.from(`{${Array.from({ length: MAX_JSON_VALUES - 1 }, (_, i) => `"k${i}":${i}`).join(',')}}`);
    assert.equal(Object.keys(parseInput(members)).length, MAX_JSON_VALUES - 1);
    assert.deepStrictEqual(await parseInputSliced(members, 4096), parseInput(members));
  });

  test('small bodies skip the shape scan only when it could find nothing: nesting, long integers and brackets or digits in strings', () => {
    // MAX_JSON_DEPTH opening brackets pass without the scan; one more is scanned and refused.
    // The top object is one level: `arrays(n)` inside it makes n + 1.
    const arrays = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
    assert.deepStrictEqual(parseInput(`{"a":${arrays(MAX_JSON_DEPTH - 1)}}`).a, JSON.parse(arrays(MAX_JSON_DEPTH - 1)));
    assert.throws(() => parseInput(`{"a":${arrays(MAX_JSON_DEPTH)}}`), { message: 'The request body is not a valid JSON object: it is nested deeper than 64 levels.' });
    // Brackets and digits inside strings send a body to the scan, which passes it.
    assert.deepStrictEqual(parseInput(`{"a":"${'{['.repeat(100)}"}`), { a: '{['.repeat(100) });
    assert.deepStrictEqual(parseInput('{"id":"12345678901234567890"}'), { id: '12345678901234567890' });
    // Sixteen digits in a number are a long integer, kept exactly; fifteen are read as JSON.parse reads them.
    assert.equal(memberText(parseInput('{"n":1234567890123456789}'), 'n'), '1234567890123456789');
    assert.equal(memberText(parseInput('{"n":123456789012345}'), 'n'), '123456789012345');
  });

  test('a long string with multi-byte characters decodes the same across slice and piece boundaries', async () => {
    const value = 'aé日😀'.repeat(600_000); // over one decode piece, with characters of every UTF-8 length
    const buf = Buffer.from(JSON.stringify({ image: value, session_id: 'x' }));
    const got = await parseInputSliced(buf, 65_537);
    assert.equal(got.image, value);
    assert.equal(got.session_id, 'x');
  });
});

describe('exact integers', () => {
  const TEXT = '{"a": 9223372036854775807, "b": [1, 12345678901234567890, {"c": -99999999999999999999, "d": 9007199254740993}], "e": 1.5, "f": 123, "g": 11111111111111111111, "g": 5}';

  test('integers longer than a double holds keep their digits as sent, in both parsers, while the values stay plain numbers', async () => {
    for (const input of [parseInput(TEXT), await parseInputSliced(Buffer.from(TEXT), 3)]) {
      // What handlers see is what JSON.parse gives: plain numbers, no wrappers.
      assert.deepStrictEqual(input, JSON.parse(TEXT));
      assert.equal(memberText(input, 'a'), '9223372036854775807');
      assert.equal(memberText(input, 'f'), '123');
      assert.equal(memberText(input, 'g'), '5', 'a repeated key keeps its last value, digits included');
      assert.equal(tokenText(input.b), '[1,12345678901234567890,{"c":-99999999999999999999,"d":9007199254740993}]');
      assert.equal(tokenText(input), '{"a":9223372036854775807,"b":[1,12345678901234567890,{"c":-99999999999999999999,"d":9007199254740993}],"e":1.5,"f":123,"g":5}');
    }
    // A body of any size: a mid-sized one holding a long integer is parsed in slices, with the same result.
    for (const pad of [0, 100_000, 600_000]) {
      const text = `{"pad": "${'x'.repeat(pad)}", "n": 18446744073709551615, "m": [9007199254740993]}`;
      const got = await parseInputAsync(Buffer.from(text));
      assert.equal(memberText(got, 'n'), '18446744073709551615', `pad ${pad}`);
      assert.equal(tokenText(got.m), '[9007199254740993]', `pad ${pad}`);
      assert.deepStrictEqual(got, JSON.parse(text));
    }
    // Digits a double reproduces, fractions and exponents are read as JSON.parse reads them.
    const plain = parseInput('{"a": 10000000000000000, "b": 1234567890123456.5, "c": 12345678901234567890e0}');
    assert.equal(tokenText(plain), '{"a":10000000000000000,"b":1234567890123456.5,"c":12345678901234567000}');
  });

  const PARAMS = {
    big: { type: 'long', description: '', default: null },
    small: { type: 'int', description: '', default: null },
    text: { type: 'string', description: '', default: null },
    list: { type: 'string[]', description: '', default: null },
    flag: { type: 'bool', description: '', default: null },
  } as const satisfies Params;
  const refusal = (text: string): string => {
    try {
      bindParams(PARAMS, parseInput(text));
    } catch (err) {
      if (err instanceof ApiError) return String(err.body.error);
      throw err;
    }
    return 'bound';
  };

  test('int and long parameters check their range on the exact digits and quote them when refused', () => {
    assert.equal(bindParams(PARAMS, parseInput('{"big": 9223372036854775807}')).big, 9223372036854775807);
    assert.equal(bindParams(PARAMS, parseInput('{"big": -9223372036854775808}')).big, -9223372036854775808);
    assert.equal(refusal('{"big": 9223372036854775808}'), "Invalid value '9223372036854775808' for parameter 'big', must be type 'Int64'");
    assert.equal(refusal('{"big": 123456789012345678901234}'), "Invalid value '123456789012345678901234' for parameter 'big', must be type 'Int64'");
    assert.equal(refusal('{"small": 12345678901234567890}'), "Invalid value '12345678901234567890' for parameter 'small', must be type 'Int32'");
    assert.equal(refusal('{"flag": 12345678901234567890}'), "Invalid value '12345678901234567890' for parameter 'flag', must be type 'Boolean'");
  });

  test('text parameters, string lists and stored parameter maps get the exact digits', () => {
    const bound = bindParams(PARAMS, parseInput('{"text": 12345678901234567890123, "list": [9007199254740993, "x", true]}'));
    assert.equal(bound.text, '12345678901234567890123');
    assert.deepEqual(bound.list, ['9007199254740993', 'x', 'True']);
    assert.equal(bindParams(PARAMS, parseInput('{"text": {"n": 9007199254740993}}')).text, '{"n":9007199254740993}');
    const body = bindParams({ all: { type: 'body', description: '', key: '<k>', values: { type: 'any', description: '' } } }, parseInput('{"session_id": "x", "seed": 18446744073709551615}')).all;
    assert.deepEqual(Object.keys(body), ['seed']);
    assert.equal(memberText(body, 'seed'), '18446744073709551615');
    const map = parseInput('{"param_map": {"seed": 18446744073709551615, "steps": 20, "on": true, "n": {"x": 9007199254740993}}}').param_map as Record<string, unknown>;
    assert.deepEqual(paramMapText(map), { seed: '18446744073709551615', steps: '20', on: 'true', n: '{"x":9007199254740993}' });
  });
});
