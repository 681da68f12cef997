// Preset preview thumbnails (docs/COMPATIBILITY.md, presets): decode a JPEG, scale it so its shorter side is 256 px,
// re-encode at quality 75 and carry one metadata text as an EXIF UserComment. Pure JavaScript and CPU-bound: the
// server runs this in a worker process (thumbnail-pool.ts), never on the event loop.
import jpeg from 'jpeg-js';
import { readExifText, withExifUserComment } from './exif.js';

export const THUMBNAIL_SHORT_SIDE = 256;
export const THUMBNAIL_QUALITY = 75;
/** Largest source image decoded, in megapixels: a 24 MP camera photo fits (its decode takes 7-9 s of CPU here). */
export const MAX_SOURCE_MEGAPIXELS = 25;
// A complete JPEG spends at least one bit per 8x8 block (1 byte per 512 pixels); fewer bytes mean the decoder would
// invent the rest. The limit allows twice that many pixels per byte, a margin for unusually uniform images.
export const MAX_PIXELS_PER_BYTE = 1024;
/** The decoder's own memory cap, a second line behind the header checks: a 25 MP 4:4:4 decode needs about 480 MB. */
const DECODER_MEMORY_MB = 512;
/**
 * Largest thumbnail produced: a very thin source would otherwise become enormous once its short side is 256.
 * With that short side this allows sources whose long side is at most 64 times the short one.
 */
export const MAX_THUMBNAIL_PIXELS = 4 * 1024 * 1024;

/** Why a source is refused: unreadable, over the pixel budget, too thin, or claiming more pixels than its bytes hold. */
export type RefusalReason = 'invalid' | 'too-large' | 'too-narrow' | 'implausible';
export type ThumbnailResult = { ok: true; jpeg: Uint8Array } | { ok: false; reason: RefusalReason };
export type HeaderCheck = { ok: true; width: number; height: number } | { ok: false; reason: RefusalReason };

/** Reads width and height from the JPEG's start-of-frame header without decoding it; null when there is none. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > bytes.length) return null;
      const height = (bytes[i + 5]! << 8) | bytes[i + 6]!;
      const width = (bytes[i + 7]! << 8) | bytes[i + 8]!;
      return width > 0 && height > 0 ? { width, height } : null;
    }
    if (marker === 0xda || length < 2) return null;
    i += 2 + length;
  }
  return null;
}

/** Decides from the frame header alone, before any decoding, whether a source is within the pixel budget. */
export function checkJpegHeader(source: Uint8Array): HeaderCheck {
  const size = jpegSize(source);
  if (!size) return { ok: false, reason: 'invalid' };
  const pixels = size.width * size.height;
  if (pixels > MAX_SOURCE_MEGAPIXELS * 1_000_000) return { ok: false, reason: 'too-large' };
  const target = thumbnailSize(size.width, size.height);
  if (target.width * target.height > MAX_THUMBNAIL_PIXELS) return { ok: false, reason: 'too-narrow' };
  if (pixels > source.length * MAX_PIXELS_PER_BYTE) return { ok: false, reason: 'implausible' };
  return { ok: true, ...size };
}

/** The reference's target size: factor 256 / shorter side, each dimension truncated (small images grow). */
export function thumbnailSize(width: number, height: number): { width: number; height: number } {
  const factor = THUMBNAIL_SHORT_SIDE / Math.min(width, height);
  return { width: Math.max(1, Math.trunc(width * factor)), height: Math.max(1, Math.trunc(height * factor)) };
}

/** Resizes RGBA pixels: box averaging when shrinking (no aliasing), bilinear when growing. */
export function resizeRgba(src: Uint8Array, sw: number, sh: number, dw: number, dh: number): Uint8Array {
  const out = new Uint8Array(dw * dh * 4);
  const sx = sw / dw;
  const sy = sh / dh;
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      const o = (y * dw + x) * 4;
      if (sx >= 1 && sy >= 1) {
        const x0 = Math.floor(x * sx);
        const x1 = Math.max(x0 + 1, Math.min(sw, Math.floor((x + 1) * sx)));
        const y0 = Math.floor(y * sy);
        const y1 = Math.max(y0 + 1, Math.min(sh, Math.floor((y + 1) * sy)));
        let r = 0, g = 0, b = 0;
        for (let yy = y0; yy < y1; yy++) {
          for (let xx = x0; xx < x1; xx++) {
            const s = (yy * sw + xx) * 4;
            r += src[s]!;
            g += src[s + 1]!;
            b += src[s + 2]!;
          }
        }
        const n = (x1 - x0) * (y1 - y0);
        out[o] = Math.round(r / n);
        out[o + 1] = Math.round(g / n);
        out[o + 2] = Math.round(b / n);
      } else {
        const fx = Math.max(0, Math.min(sw - 1, (x + 0.5) * sx - 0.5));
        const fy = Math.max(0, Math.min(sh - 1, (y + 0.5) * sy - 0.5));
        const x0 = Math.floor(fx), y0 = Math.floor(fy);
        const x1 = Math.min(sw - 1, x0 + 1), y1 = Math.min(sh - 1, y0 + 1);
        const ax = fx - x0, ay = fy - y0;
        for (let c = 0; c < 3; c++) {
          const top = src[(y0 * sw + x0) * 4 + c]! * (1 - ax) + src[(y0 * sw + x1) * 4 + c]! * ax;
          const bottom = src[(y1 * sw + x0) * 4 + c]! * (1 - ax) + src[(y1 * sw + x1) * 4 + c]! * ax;
          out[o + c] = Math.round(top * (1 - ay) + bottom * ay);
        }
      }
      out[o + 3] = 255;
    }
  }
  return out;
}

/**
 * Makes the stored preview from source JPEG bytes. `metadata` (when not null) replaces whatever text the source
 * carried; a blank text means none.
 */
export function makeThumbnail(source: Uint8Array, metadata: string | null): ThumbnailResult {
  const header = checkJpegHeader(source);
  if (!header.ok) return header;
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(source, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_SOURCE_MEGAPIXELS, maxMemoryUsageInMB: DECODER_MEMORY_MB });
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (decoded.width <= 0 || decoded.height <= 0) return { ok: false, reason: 'invalid' };
  const target = thumbnailSize(decoded.width, decoded.height);
  const pixels = resizeRgba(decoded.data, decoded.width, decoded.height, target.width, target.height);
  const encoded = jpeg.encode({ data: pixels, width: target.width, height: target.height }, THUMBNAIL_QUALITY).data;
  const text = metadata ?? readExifText(source) ?? '';
  return { ok: true, jpeg: text.trim() === '' ? new Uint8Array(encoded) : withExifUserComment(new Uint8Array(encoded), text) };
}
