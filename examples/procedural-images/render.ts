// Renders an image from a prompt and a seed: layers of domain-warped gradient noise, coloured by a palette
// derived from the prompt. Pure CPU work on the main thread, cut into slices of a few milliseconds with an
// `await` between them, so the server keeps answering and an abort is seen within one slice.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { encodePng } from './png.js';

export interface RenderRequest {
  prompt: string;
  seed: number;
  width: number;
  height: number;
  /** Noise layers; the work grows linearly with it. */
  steps: number;
}

export interface RenderProgress {
  step: number;
  steps: number;
}

/** Longest stretch of work between two turns of the event loop. */
export const SLICE_MS = 4;

/** 32-bit FNV-1a of a string, then mixed with the seed. */
function hashSeed(prompt: string, seed: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < prompt.length; i++) h = Math.imul(h ^ prompt.charCodeAt(i), 0x01000193);
  h ^= Number(BigInt.asUintN(32, BigInt(Math.trunc(seed))));
  h ^= Math.floor(seed / 2 ** 32);
  return h >>> 0;
}

/** mulberry32: small, fast and good enough to place noise layers. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class GradientNoise {
  private readonly perm = new Uint16Array(512);
  private readonly gx = new Float32Array(256);
  private readonly gy = new Float32Array(256);

  constructor(rand: () => number) {
    const p = Array.from({ length: 256 }, (_, i) => i);
    for (let i = 255; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    for (let i = 0; i < 512; i++) this.perm[i] = p[i & 255]!;
    for (let i = 0; i < 256; i++) {
      const a = rand() * Math.PI * 2;
      this.gx[i] = Math.cos(a);
      this.gy[i] = Math.sin(a);
    }
  }

  /** Smooth noise in about [-1, 1]. Written without closures: it runs millions of times per image. */
  at(x: number, y: number): number {
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    const fx = x - x0;
    const fy = y - y0;
    const xi = x0 & 255;
    const yi = y0 & 255;
    const p = this.perm;
    const gx = this.gx;
    const gy = this.gy;
    const r0 = p[xi]!;
    const r1 = p[(xi + 1) & 255]!;
    const g00 = p[r0 + yi]!;
    const g10 = p[r1 + yi]!;
    const g01 = p[r0 + ((yi + 1) & 255)]!;
    const g11 = p[r1 + ((yi + 1) & 255)]!;
    const a = gx[g00]! * fx + gy[g00]! * fy;
    const b = gx[g10]! * (fx - 1) + gy[g10]! * fy;
    const c = gx[g01]! * fx + gy[g01]! * (fy - 1);
    const d = gx[g11]! * (fx - 1) + gy[g11]! * (fy - 1);
    const u = fx * fx * fx * (fx * (fx * 6 - 15) + 10);
    const v = fy * fy * fy * (fy * (fy * 6 - 15) + 10);
    return 1.4 * (a + u * (b - a) + v * (c - a + u * (a - b - c + d)));
  }
}

/** Three colour stops picked from the prompt's hash, blended into a 256-entry table. */
function palette(rand: () => number): Uint8Array {
  const stops = Array.from({ length: 3 }, () => {
    const hue = rand() * 360;
    const light = 0.25 + rand() * 0.5;
    return hslToRgb(hue, 0.55 + rand() * 0.4, light);
  });
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * 2;
    const [a, b] = t < 1 ? [stops[0]!, stops[1]!] : [stops[1]!, stops[2]!];
    const f = t < 1 ? t : t - 1;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(a[c]! + (b[c]! - a[c]!) * f);
  }
  return lut;
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number): number => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => 255 * (l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1)));
  return [f(0), f(8), f(4)];
}

/**
 * Renders and encodes a PNG. Throws the signal's reason as soon as it aborts (checked after every slice).
 * `onStep` runs after each finished layer.
 */
export async function renderPng(req: RenderRequest, signal: AbortSignal, onStep?: (p: RenderProgress) => void | Promise<void>): Promise<Buffer> {
  const { width, height, steps } = req;
  const rand = random(hashSeed(req.prompt, req.seed));
  const noise = new GradientNoise(rand);
  const lut = palette(rand);
  const field = new Float32Array(width * height);
  const scale = 3 / Math.max(width, height);
  let sliceStart = performance.now();
  signal.throwIfAborted();
  for (let step = 0; step < steps; step++) {
    const octave = step % 6;
    const freq = scale * 2 ** octave;
    const amp = 0.55 ** octave;
    const angle = rand() * Math.PI * 2;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const ox = rand() * 256;
    const oy = rand() * 256;
    const warp = 0.8 + rand() * 1.6;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        const rx = (x * cos - y * sin) * freq + ox;
        const ry = (x * sin + y * cos) * freq + oy;
        const w = field[i]! * warp;
        field[i]! += amp * noise.at(rx + w + noise.at(ry, rx) * 0.5, ry - w);
      }
      if (performance.now() - sliceStart >= SLICE_MS) {
        await nextTurn();
        signal.throwIfAborted();
        sliceStart = performance.now();
      }
    }
    await onStep?.({ step: step + 1, steps });
    signal.throwIfAborted();
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of field) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min || 1;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < field.length; i++) {
    const idx = Math.round(((field[i]! - min) / range) * 255) * 3;
    rgb[i * 3] = lut[idx]!;
    rgb[i * 3 + 1] = lut[idx + 1]!;
    rgb[i * 3 + 2] = lut[idx + 2]!;
  }
  return encodePng(width, height, rgb, { prompt: req.prompt.slice(0, 1000).replace(/[^\x20-\x7e]/g, '?'), seed: String(req.seed) });
}
