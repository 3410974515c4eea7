/**
 * Reads a JPEG's marker segments up to its first scan, in JavaScript: enough to tell whether the
 * file already is what the extract stage would store (see storableAsIs in normalize.ts) without a
 * round trip through libvips. Nothing here decodes pixels; a structure this reader does not
 * understand is simply "not known conforming", and the file takes the normalising path.
 */

export interface JpegHeader {
  /** The frame marker: 0xc0 baseline, 0xc1 extended, 0xc2 progressive, ... */
  sof: number;
  precision: number;
  width: number;
  height: number;
  components: number;
  /** APP1 present: EXIF (which may carry an orientation) or XMP. */
  app1: boolean;
  /** APP13 present: Photoshop resources, IPTC. */
  app13: boolean;
  /** The embedded ICC profile, its APP2 chunks joined; undefined when there is none. */
  icc: Buffer | undefined;
  /** Other APPn than JFIF, ICC and Adobe. */
  otherApp: boolean;
  /** The file ends with the EOI marker (a cut file does not). */
  endsWithEoi: boolean;
}

const SOI = 0xd8;
const SOS = 0xda;
const EOI = 0xd9;

const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** The header, or undefined when the bytes are not a JPEG this reader can walk to its first scan. */
export function readJpegHeader(input: Buffer): JpegHeader | undefined {
  if (input.length < 4 || input[0] !== 0xff || input[1] !== SOI) return undefined;
  let frame: Pick<JpegHeader, 'sof' | 'precision' | 'width' | 'height' | 'components'> | undefined;
  let app1 = false;
  let app13 = false;
  let otherApp = false;
  const iccChunks: { seq: number; count: number; data: Buffer }[] = [];
  let at = 2;
  for (;;) {
    if (at + 4 > input.length || input[at] !== 0xff) return undefined;
    // Fill bytes: any number of 0xff may precede a marker.
    while (input[at + 1] === 0xff && at + 5 <= input.length) at++;
    const marker = input[at + 1]!;
    if (marker === SOS) break;
    if (marker === SOI || marker === EOI || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) return undefined;
    const length = input.readUInt16BE(at + 2);
    const start = at + 4;
    const end = at + 2 + length;
    if (length < 2 || end > input.length) return undefined;
    const segment = input.subarray(start, end);
    if (isSof(marker)) {
      if (frame !== undefined || segment.length < 6) return undefined;
      frame = { sof: marker, precision: segment[0]!, height: segment.readUInt16BE(1), width: segment.readUInt16BE(3), components: segment[5]! };
    } else if (marker === 0xe1) {
      app1 = true;
    } else if (marker === 0xed) {
      app13 = true;
    } else if (marker === 0xe2 && segment.length >= 14 && segment.toString('latin1', 0, 12) === 'ICC_PROFILE\0') {
      iccChunks.push({ seq: segment[12]!, count: segment[13]!, data: segment.subarray(14) });
    } else if (marker >= 0xe0 && marker <= 0xef) {
      const known = (marker === 0xe0 && /^JF(IF|XX)\0/.test(segment.toString('latin1', 0, 5))) || (marker === 0xee && segment.toString('latin1', 0, 5) === 'Adobe');
      if (!known) otherApp = true;
    }
    at = end;
  }
  if (frame === undefined) return undefined;
  let icc: Buffer | undefined;
  if (iccChunks.length > 0) {
    iccChunks.sort((a, b) => a.seq - b.seq);
    // A profile with missing or repeated chunks cannot be trusted to say what it is.
    if (iccChunks.some((c, i) => c.seq !== i + 1 || c.count !== iccChunks.length)) return undefined;
    icc = Buffer.concat(iccChunks.map((c) => c.data));
  }
  const endsWithEoi = input[input.length - 2] === 0xff && input[input.length - 1] === EOI;
  return { ...frame, app1, app13, icc, otherApp, endsWithEoi };
}

/**
 * The profile's description ('sRGB IEC61966-2.1'), from its 'desc' tag in ICC v2 (ASCII) or v4
 * ('mluc', UTF-16BE, first record); '' when it has none or the profile is malformed.
 */
export function iccDescription(icc: Buffer): string {
  if (icc.length < 132) return '';
  const tags = icc.readUInt32BE(128);
  for (let i = 0; i < tags && 132 + (i + 1) * 12 <= icc.length; i++) {
    const entry = 132 + i * 12;
    if (icc.toString('latin1', entry, entry + 4) !== 'desc') continue;
    const offset = icc.readUInt32BE(entry + 4);
    const size = icc.readUInt32BE(entry + 8);
    if (offset + size > icc.length || size < 12) return '';
    const type = icc.toString('latin1', offset, offset + 4);
    if (type === 'desc') {
      const count = icc.readUInt32BE(offset + 8);
      return icc.toString('latin1', offset + 12, Math.min(offset + 12 + count, offset + size)).replace(/\0+$/, '');
    }
    if (type === 'mluc' && size >= 28) {
      const length = icc.readUInt32BE(offset + 20);
      const from = offset + icc.readUInt32BE(offset + 24);
      if (from + length > offset + size || length % 2 !== 0) return '';
      return Buffer.from(icc.subarray(from, from + length)).swap16().toString('utf16le');
    }
    return '';
  }
  return '';
}

/** An RGB profile that names itself sRGB: converting through it to sRGB changes nothing. */
export function isSrgbProfile(icc: Buffer): boolean {
  return icc.length >= 20 && icc.toString('latin1', 16, 20) === 'RGB ' && /sRGB/i.test(iccDescription(icc));
}
