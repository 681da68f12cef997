// The one piece of EXIF a preset preview carries: a text (the generation parameters) as UserComment. Written
// as a minimal little-endian TIFF block; read back from UserComment, else the camera Model tag.

const TAG_EXIF_IFD = 0x8769;
const TAG_USER_COMMENT = 0x9286;
const TAG_MODEL = 0x0110;
const EXIF_HEADER = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0"
/** Bytes in front of the comment inside the TIFF block: header, IFD0 (1 entry), Exif IFD (1 entry). */
const COMMENT_OFFSET = 44;
/** A JPEG segment holds at most 65535 bytes including its length field. */
const MAX_COMMENT_BYTES = 65535 - 2 - EXIF_HEADER.length - COMMENT_OFFSET - 8;

function encodeComment(text: string): Uint8Array {
  const ascii = /^[\x00-\x7f]*$/.test(text);
  const chars = [...text];
  const unitBytes = (s: string): number => (ascii ? s.length : s.length * 2);
  let total = 0;
  let end = 0;
  for (; end < chars.length; end++) {
    const n = unitBytes(chars[end]!);
    if (total + n > MAX_COMMENT_BYTES) break;
    total += n;
  }
  const kept = chars.slice(0, end).join('');
  const out = new Uint8Array(8 + total);
  out.set(ascii ? [0x41, 0x53, 0x43, 0x49, 0x49, 0, 0, 0] : [0x55, 0x4e, 0x49, 0x43, 0x4f, 0x44, 0x45, 0]);
  if (ascii) for (let i = 0; i < kept.length; i++) out[8 + i] = kept.charCodeAt(i);
  else for (let i = 0; i < kept.length; i++) {
    const u = kept.charCodeAt(i);
    out[8 + i * 2] = u & 0xff;
    out[9 + i * 2] = u >> 8;
  }
  return out;
}

/** Returns the JPEG with an EXIF segment holding `text` as UserComment, placed after SOI and any JFIF segment. */
export function withExifUserComment(jpegBytes: Uint8Array, text: string): Uint8Array {
  const comment = encodeComment(text);
  const tiff = new Uint8Array(COMMENT_OFFSET + comment.length);
  const v = new DataView(tiff.buffer);
  tiff.set([0x49, 0x49, 0x2a, 0x00]);
  v.setUint32(4, 8, true);
  // IFD0: one entry pointing at the Exif IFD.
  v.setUint16(8, 1, true);
  v.setUint16(10, TAG_EXIF_IFD, true);
  v.setUint16(12, 4, true);
  v.setUint32(14, 1, true);
  v.setUint32(18, 26, true);
  v.setUint32(22, 0, true);
  // Exif IFD: one UNDEFINED entry, the comment.
  v.setUint16(26, 1, true);
  v.setUint16(28, TAG_USER_COMMENT, true);
  v.setUint16(30, 7, true);
  v.setUint32(32, comment.length, true);
  v.setUint32(36, COMMENT_OFFSET, true);
  v.setUint32(40, 0, true);
  tiff.set(comment, COMMENT_OFFSET);
  const segmentLength = 2 + EXIF_HEADER.length + tiff.length;
  const segment = new Uint8Array(2 + segmentLength);
  segment.set([0xff, 0xe1, segmentLength >> 8, segmentLength & 0xff, ...EXIF_HEADER]);
  segment.set(tiff, 4 + EXIF_HEADER.length);
  let at = 2;
  if (jpegBytes[2] === 0xff && jpegBytes[3] === 0xe0) at = 4 + ((jpegBytes[4]! << 8) | jpegBytes[5]!);
  const out = new Uint8Array(jpegBytes.length + segment.length);
  out.set(jpegBytes.subarray(0, at));
  out.set(segment, at);
  out.set(jpegBytes.subarray(at), at + segment.length);
  return out;
}

/** The TIFF block of the first EXIF segment, or null. */
function findExif(bytes: Uint8Array): Uint8Array | null {
  let i = 2;
  while (i + 4 <= bytes.length && bytes[i] === 0xff) {
    const marker = bytes[i + 1]!;
    if (marker === 0xda || marker === 0xd9) return null;
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (length < 2) return null;
    if (marker === 0xe1 && length >= 8 && EXIF_HEADER.every((b, k) => bytes[i + 4 + k] === b)) {
      return bytes.subarray(i + 10, Math.min(bytes.length, i + 2 + length));
    }
    i += 2 + length;
  }
  return null;
}

/** The metadata text a JPEG carries: EXIF UserComment, else Model; null when neither is there. */
export function readExifText(bytes: Uint8Array): string | null {
  const tiff = findExif(bytes);
  if (!tiff || tiff.length < 8) return null;
  const v = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const le = tiff[0] === 0x49;
  if (!le && tiff[0] !== 0x4d) return null;
  const entries = (ifd: number): Map<number, { type: number; count: number; at: number }> => {
    const found = new Map<number, { type: number; count: number; at: number }>();
    if (ifd + 2 > tiff.length) return found;
    const n = v.getUint16(ifd, le);
    for (let k = 0; k < n; k++) {
      const e = ifd + 2 + k * 12;
      if (e + 12 > tiff.length) break;
      const type = v.getUint16(e + 2, le);
      const count = v.getUint32(e + 4, le);
      const size = count * (type === 3 ? 2 : type === 4 ? 4 : 1);
      found.set(v.getUint16(e, le), { type, count, at: size <= 4 ? e + 8 : v.getUint32(e + 8, le) });
    }
    return found;
  };
  const bytesOf = (e: { count: number; at: number }): Uint8Array | null => (e.at + e.count <= tiff.length ? tiff.subarray(e.at, e.at + e.count) : null);
  const ifd0 = entries(v.getUint32(4, le));
  const exifPointer = ifd0.get(TAG_EXIF_IFD);
  if (exifPointer) {
    const comment = entries(v.getUint32(exifPointer.at, le)).get(TAG_USER_COMMENT);
    const raw = comment ? bytesOf(comment) : null;
    if (raw && raw.length >= 8) {
      const code = new TextDecoder('latin1').decode(raw.subarray(0, 8));
      const body = raw.subarray(8);
      const text = code.startsWith('UNICODE') ? new TextDecoder(le ? 'utf-16le' : 'utf-16be').decode(body) : new TextDecoder('utf-8').decode(body);
      const clean = text.replace(/\0+$/, '');
      if (clean.trim() !== '') return clean;
    }
  }
  const model = ifd0.get(TAG_MODEL);
  const raw = model ? bytesOf(model) : null;
  const text = raw ? new TextDecoder('utf-8').decode(raw).replace(/\0+$/, '') : '';
  return text.trim() === '' ? null : text;
}
