// Turns raw request bytes into the input object, refusing what the reference would choke on: invalid UTF-8,
// non-object JSON and pathological nesting (checked before parsing, so nothing recurses on it). Large bodies are
// parsed in slices, a bounded amount per event-loop turn, into the same object JSON.parse would give.
//
// Integers too long for a double (docs/COMPATIBILITY.md#exact-numbers): JSON.parse rounds them, so a body holding
// an integer token of more than 15 digits (found by the shape scan, at no extra pass) is parsed by the byte-level
// parser below instead, which records the digits as sent in the side table of src/util/token-text.ts. The values
// handed on stay plain JSON values either way; other bodies keep JSON.parse, which is several times faster.
import { isAscii, isUtf8 } from 'node:buffer';
import { apiError, type ApiError } from './errors.js';
import { exactNumberText, forgetExactNumber, recordExactNumber } from '../util/token-text.js';

/** Deepest nesting of objects/arrays accepted in a request. Real clients stay under 10. */
export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function badBody(why: string): ApiError {
  return apiError('internal_error', `The request body is not a valid JSON object: ${why}.`);
}

/**
 * Most JSON values (objects, arrays, strings, numbers, literals; keys not counted) accepted in one request. Each
 * becomes a heap object, and a heap of millions of tiny objects makes V8's collector pause the whole process for
 * up to a second however the parse is sliced; real clients send at most a few hundred values.
 */
export const MAX_JSON_VALUES = 100_000;

const tooDeep = `it is nested deeper than ${MAX_JSON_DEPTH} levels`;
const tooMany = `it holds more than ${MAX_JSON_VALUES.toLocaleString('en-US')} values`;

/** Integer tokens longer than this many digits may not survive a double; their bodies are parsed exactly. */
const SAFE_INTEGER_DIGITS = 15;

/**
 * Why JSON text must not be parsed (nested beyond MAX_JSON_DEPTH or holding more than MAX_JSON_VALUES values),
 * or null. A scan without recursion or allocation that ignores brackets inside strings; for valid JSON it counts
 * values exactly as the sliced parser does, so both paths refuse the same bodies.
 */
export function jsonShapeProblem(text: string): string | null {
  return scanJson(text).problem;
}

interface Scan {
  problem: string | null;
  /** Whether an integer token has more than SAFE_INTEGER_DIGITS digits. */
  longIntegers: boolean;
}

function scanJson(text: string): Scan {
  const inObject: boolean[] = [];
  let values = 0;
  let longIntegers = false;
  let prev = 0; // the last character outside strings that is not white space (0: none yet)
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (c === 123 || c === 91) {
      if (inObject.length >= MAX_JSON_DEPTH) return { problem: tooDeep, longIntegers };
      inObject.push(c === 123);
      values++;
    } else if (c === 125 || c === 93) inObject.pop();
    else if (c === 34) {
      const isKey = prev === 123 || (prev === 44 && inObject[inObject.length - 1] === true);
      if (!isKey) values++;
      i = stringEnd(text, i); // nothing inside a string counts
    } else if (c !== 44 && c !== 58 && (prev === 0 || prev === 91 || prev === 44 || prev === 58)) {
      values++; // a number or literal starts
      if (!longIntegers && (c === 45 || (c >= 48 && c <= 57))) longIntegers = isLongInteger(text, c === 45 ? i + 1 : i);
    }
    if (values > MAX_JSON_VALUES) return { problem: tooMany, longIntegers };
    prev = c;
  }
  return { problem: null, longIntegers };
}

const PLAIN: Scan = { problem: null, longIntegers: false };
/** Sixteen digits in a row: an integer token longer than SAFE_INTEGER_DIGITS has them (a string may too). */
const SIXTEEN_DIGITS = /[0-9]{16}/;

/**
 * Whether scanJson would surely find nothing, told with native searches instead of its character loop (most
 * bodies are a session id and a few short parameters): nesting deeper than MAX_JSON_DEPTH takes more opening
 * brackets than that, more than MAX_JSON_VALUES values take more characters than that, and a long integer
 * takes sixteen digits in a row. Brackets and digits inside strings are counted too, so a body that only
 * might have a problem is scanned in full.
 */
function surelyPlain(text: string): boolean {
  if (text.length > MAX_JSON_VALUES || SIXTEEN_DIGITS.test(text)) return false;
  let brackets = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++brackets > MAX_JSON_DEPTH) return false;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++brackets > MAX_JSON_DEPTH) return false;
  return true;
}

/** The index of the quote that closes the string opened at `open` (text.length when none does). */
function stringEnd(text: string, open: number): number {
  for (let q = text.indexOf('"', open + 1); q !== -1; q = text.indexOf('"', q + 1)) {
    // Escaped when an odd number of backslashes stands right before it (the opening quote stops the count).
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return q;
  }
  return text.length;
}

/** Whether the number token whose digits start at `i` is an integer of more than SAFE_INTEGER_DIGITS digits. */
function isLongInteger(text: string, i: number): boolean {
  let end = i;
  for (let c = text.charCodeAt(end); c >= 48 && c <= 57; c = text.charCodeAt(++end));
  if (end - i <= SAFE_INTEGER_DIGITS) return false;
  const next = text.charCodeAt(end);
  return next !== 46 && next !== 101 && next !== 69; // not a fraction or an exponent
}

export function parseInput(body: Buffer | string): Record<string, unknown> {
  return parseWhole(body, true)!;
}

/**
 * parseInput; with `exactNow` false, a body holding long integers is not parsed but answered null, so the caller
 * can parse it exactly in slices (the byte-level parser costs a few times what JSON.parse does).
 */
function parseWhole(body: Buffer | string, exactNow: boolean): Record<string, unknown> | null {
  let text: string;
  if (typeof body === 'string') text = body;
  else if (isAscii(body)) text = body.toString('latin1'); // the same text, without the UTF-8 decoder's checks
  else {
    try {
      text = utf8.decode(body);
    } catch {
      throw badBody('it is not valid UTF-8');
    }
  }
  const scan = surelyPlain(text) ? PLAIN : scanJson(text);
  if (scan.problem) throw badBody(scan.problem);
  if (scan.longIntegers) {
    if (!exactNow) return null;
    const parser = new SlicedJsonParser(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
    while (!parser.step(Number.POSITIVE_INFINITY));
    return asInputObject(parser.result);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badBody((err as Error).message.replace(/\.$/, ''));
  }
  return asInputObject(value);
}

function asInputObject(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badBody(`the top level is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not an object`);
  }
  return value as Record<string, unknown>;
}

/** Bodies from this size on are parsed in slices: JSON.parse on them could hold the event loop for tens of ms. */
export const SLICED_PARSE_MIN_BYTES = 512 * 1024;
/** Bodies holding long integers are parsed exactly at once below this size (a few ms at most), else in slices. */
const EXACT_AT_ONCE_MAX_BYTES = 64 * 1024;
/**
 * Bytes examined per event-loop turn: about 1-3 ms of work on a slow core for typical JSON. A turn also ends
 * after PARSE_SLICE_MS (JSON of many tiny objects costs more per byte), and a single string is decoded in pieces
 * of at most STRING_PIECE_BYTES, so no one step of the parse grows with the body.
 */
export const PARSE_SLICE_BYTES = 256 * 1024;
const PARSE_SLICE_MS = 8;
const STRING_PIECE_BYTES = 1024 * 1024;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * parseInput for a body of any size: small ones at once, large ones and those holding long integers (parsed
 * exactly, docs/COMPATIBILITY.md#exact-numbers) in slices (parseInputSliced).
 */
export async function parseInputAsync(body: Buffer): Promise<Record<string, unknown>> {
  const small = parseSmallInput(body);
  if (small !== null) return small;
  if (body.length >= SLICED_PARSE_MIN_BYTES) return parseInputSliced(body);
  return parseWhole(body, false) ?? parseInputSliced(body);
}

/**
 * The first step of parseInputAsync, which a caller can take without a promise: a body under
 * EXACT_AT_ONCE_MAX_BYTES parsed at once (exactly, long integers included); null for a larger body.
 */
export function parseSmallInput(body: Buffer): Record<string, unknown> | null {
  return body.length < EXACT_AT_ONCE_MAX_BYTES ? parseWhole(body, true) : null;
}

/** The same object as parseInput, yielding to the event loop after every `sliceBytes` of the body. */
export async function parseInputSliced(body: Buffer, sliceBytes = PARSE_SLICE_BYTES): Promise<Record<string, unknown>> {
  // UTF-8 is checked first, in slices cut at character starts (a valid text splits into valid pieces there).
  for (let start = 0; start < body.length; ) {
    let end = Math.min(body.length, start + sliceBytes);
    for (let k = 0; k < 4 && end < body.length && (body[end]! & 0xc0) === 0x80; k++) end++;
    if (!isUtf8(body.subarray(start, end))) throw badBody('it is not valid UTF-8');
    start = end;
    if (start < body.length) await nextTurn();
  }
  const parser = new SlicedJsonParser(body);
  while (!parser.step(sliceBytes)) await nextTurn();
  return asInputObject(parser.result);
}

type Container = Record<string, unknown> | unknown[];

const enum Expect {
  Value,
  ValueOrEnd, // just after '['
  KeyOrEnd, // just after '{'
  Key, // after ',' in an object
  Colon,
  CommaOrEnd,
  Done,
}

/** Sets a member as JSON.parse does: `__proto__` becomes an own property, a repeated key keeps its last value. */
function setMember(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const ESCAPES: Record<number, string> = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };

/**
 * A JSON parser over UTF-8 bytes with an explicit stack, so it can stop after any number of bytes and resume.
 * Strings and numbers may span slices; they keep their scan position between steps.
 */
class SlicedJsonParser {
  result: unknown = undefined;
  private pos: number;
  private expect = Expect.Value;
  private readonly stack: Container[] = [];
  private readonly keys: (string | null)[] = [];
  /** Inside a string: where its undecoded run starts, what is decoded so far, and whether it is a key. */
  private inString = false;
  private runStart = 0;
  private decoded = '';
  private stringIsKey = false;
  /** Inside a number: where it starts. */
  private numberStart = -1;
  /** Values begun so far, against MAX_JSON_VALUES. */
  private values = 0;

  constructor(private readonly buf: Buffer) {
    this.pos = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0; // a leading BOM, as TextDecoder drops it
  }

  private fail(what: string): never {
    throw badBody(`${what} at byte ${this.pos}`);
  }

  /** Parses up to about `budget` bytes; true when the whole body is parsed. */
  step(budget: number): boolean {
    const buf = this.buf;
    const stop = Math.min(buf.length, this.pos + budget);
    const started = performance.now();
    let tokens = 0;
    while (this.pos < stop) {
      if ((++tokens & 0xfff) === 0 && performance.now() - started > PARSE_SLICE_MS) return false;
      if (this.inString) {
        if (!this.scanString(stop)) return false;
        continue;
      }
      if (this.numberStart >= 0) {
        if (!this.scanNumber(stop)) return false;
        continue;
      }
      const c = buf[this.pos]!;
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
        this.pos++;
        continue;
      }
      switch (this.expect) {
        case Expect.Done:
          this.fail('Unexpected data after the JSON value');
        case Expect.Colon:
          if (c !== 0x3a) this.fail("Expected ':'");
          this.pos++;
          this.expect = Expect.Value;
          continue;
        case Expect.CommaOrEnd: {
          const top = this.stack[this.stack.length - 1]!;
          const isArray = Array.isArray(top);
          if (c === 0x2c) {
            this.pos++;
            this.expect = isArray ? Expect.Value : Expect.Key;
          } else if (c === (isArray ? 0x5d : 0x7d)) {
            this.pos++;
            this.close();
          } else this.fail(isArray ? "Expected ',' or ']'" : "Expected ',' or '}'");
          continue;
        }
        case Expect.KeyOrEnd:
        case Expect.Key:
          if (c === 0x7d && this.expect === Expect.KeyOrEnd) {
            this.pos++;
            this.close();
          } else if (c === 0x22) this.openString(true);
          else this.fail('Expected a property name');
          continue;
        case Expect.ValueOrEnd:
          if (c === 0x5d) {
            this.pos++;
            this.close();
            continue;
          }
          this.value(c);
          continue;
        case Expect.Value:
          this.value(c);
          continue;
      }
    }
    if (this.inString || this.numberStart >= 0 || this.pos < buf.length) {
      if (this.pos < buf.length) return false;
      if (this.inString) this.fail('Unterminated string');
      this.endNumber();
    }
    if (this.expect !== Expect.Done) this.fail('Unexpected end of JSON input');
    return true;
  }

  private value(c: number): void {
    if (++this.values > MAX_JSON_VALUES) this.fail(`More than ${MAX_JSON_VALUES.toLocaleString('en-US')} values`);
    if (c === 0x7b || c === 0x5b) {
      if (this.stack.length >= MAX_JSON_DEPTH) this.fail(`Nested deeper than ${MAX_JSON_DEPTH} levels`);
      this.stack.push(c === 0x7b ? {} : []);
      this.keys.push(null);
      this.pos++;
      this.expect = c === 0x7b ? Expect.KeyOrEnd : Expect.ValueOrEnd;
    } else if (c === 0x22) this.openString(false);
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) this.numberStart = this.pos;
    else if (this.literal('true')) this.deliver(true);
    else if (this.literal('false')) this.deliver(false);
    else if (this.literal('null')) this.deliver(null);
    else this.fail('Unexpected character');
  }

  private literal(word: string): boolean {
    if (this.buf.toString('latin1', this.pos, this.pos + word.length) !== word) return false;
    this.pos += word.length;
    return true;
  }

  /** A finished value goes into its container (or becomes the result); `exact`: an integer's digits as sent. */
  private deliver(value: unknown, exact?: string): void {
    const depth = this.stack.length;
    if (depth === 0) {
      this.result = value;
      this.expect = Expect.Done;
      return;
    }
    const top = this.stack[depth - 1]!;
    const key = Array.isArray(top) ? top.length : this.keys[depth - 1]!;
    if (Array.isArray(top)) top.push(value);
    else setMember(top, key as string, value);
    if (exact !== undefined) recordExactNumber(top, key, exact, this.stack.slice(0, depth - 1));
    else if (exactNumberText(top, key) !== undefined) forgetExactNumber(top, key); // a repeated key's last value wins
    this.expect = Expect.CommaOrEnd;
  }

  private close(): void {
    const done = this.stack.pop()!;
    this.keys.pop();
    this.deliver(done);
  }

  private openString(isKey: boolean): void {
    this.pos++;
    this.inString = true;
    this.stringIsKey = isKey;
    this.runStart = this.pos;
    this.decoded = '';
  }

  /** Decodes the pending run of plain bytes [runStart, end). */
  private flushRun(end: number): void {
    if (end > this.runStart) this.decoded += this.buf.toString('utf8', this.runStart, end);
    this.runStart = end;
  }

  /** Scans string bytes until the closing quote (true) or `stop` (false: resume later). */
  private scanString(stop: number): boolean {
    const buf = this.buf;
    let i = this.pos;
    while (i < stop) {
      const c = buf[i]!;
      if (c === 0x22) {
        this.flushRun(i);
        this.pos = i + 1;
        this.inString = false;
        const text = this.decoded;
        this.decoded = '';
        if (this.stringIsKey) {
          this.keys[this.keys.length - 1] = text;
          this.expect = Expect.Colon;
        } else this.deliver(text);
        return true;
      }
      if (c === 0x5c) {
        this.flushRun(i);
        this.pos = i;
        const e = buf[i + 1];
        if (e === 0x75) {
          const hex = buf.toString('latin1', i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('Bad Unicode escape');
          this.decoded += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else {
          const ch = e === undefined ? undefined : ESCAPES[e];
          if (ch === undefined) this.fail('Bad escaped character');
          this.decoded += ch;
          i += 2;
        }
        this.runStart = i;
        continue;
      }
      if (c < 0x20) {
        this.pos = i;
        this.fail('Bad control character in string literal');
      }
      // Long runs are decoded in pieces, cut before a character start so no UTF-8 sequence is split.
      if (i - this.runStart >= STRING_PIECE_BYTES && (c & 0xc0) !== 0x80) this.flushRun(i);
      i++;
    }
    this.pos = i;
    return false;
  }

  private scanNumber(stop: number): boolean {
    const buf = this.buf;
    let i = this.pos;
    for (; i < stop; i++) {
      const c = buf[i]!;
      if (!((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x2b || c === 0x65 || c === 0x45)) break;
    }
    this.pos = i;
    if (i === stop && i < buf.length) return false;
    this.endNumber();
    return true;
  }

  private endNumber(): void {
    const text = this.buf.toString('latin1', this.numberStart, this.pos);
    if (!NUMBER.test(text)) {
      this.pos = this.numberStart;
      this.fail('Bad number');
    }
    this.numberStart = -1;
    const n = Number(text);
    // An integer whose digits its double does not reproduce keeps them (src/util/token-text.ts).
    const exact = text.length > SAFE_INTEGER_DIGITS && /^-?\d+$/.test(text) && String(n) !== text ? text : undefined;
    this.deliver(n, exact);
  }
}
