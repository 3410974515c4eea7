/**
 * NumPy .npy files (format versions 1, 2 and 3), the on-disk form of embeddings, PCA parameters,
 * centroids and cluster ids: numpy reads what we write (byte-identical to numpy.save) and we read
 * what numpy writes. Only C-ordered little-endian float32, float16, float64 and int32 arrays:
 * floats are read as float32 (float16 exports and numpy's float64 default widen or narrow on read).
 *
 * Reading streams row blocks with positioned reads, so a file of any size costs one block of memory;
 * writing streams rows to a temporary file and patches the header with the final row count before
 * the rename, which works because numpy's header reserves room for a 21-digit first axis.
 */
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { ItemError } from '../errors.js';

export type NpyDtype = 'float32' | 'float16' | 'float64' | 'int32';

const DESCR: Record<string, NpyDtype> = { '<f4': 'float32', '<f2': 'float16', '<f8': 'float64', '<i4': 'int32' };
const ITEM_SIZE: Record<NpyDtype, number> = { float32: 4, float16: 2, float64: 8, int32: 4 };
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const MAX_HEADER = 1 << 20;
/** numpy.lib.format: headers are padded so the data starts on a 64-byte boundary … */
const ARRAY_ALIGN = 64;
/** … after room for the first axis to grow to this many digits (what lets us patch the count). */
const GROWTH_AXIS_MAX_DIGITS = 21;

export interface NpyHeader {
  version: 1 | 2 | 3;
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
}

function npyError(code: string, path: string, message: string, hint?: string): ItemError {
  return new ItemError(code, `${path}: ${message}`, { path, hint });
}

const TO_F32_HINT = (path: string) =>
  `convert it in Python: import numpy as np; a = np.load('${path}'); np.save('${path}', np.ascontiguousarray(a, dtype=np.float32))`;

// ---------------------------------------------------------------------------------------------
// Header text: a Python dict literal. A small parser for exactly the literals numpy writes
// (strings, True/False, integers, tuples, lists for structured dtypes); no eval.

type PyValue = string | number | boolean | PyValue[] | { [key: string]: PyValue };

function parsePyLiteral(text: string): PyValue {
  let at = 0;
  const ws = () => {
    while (at < text.length && /\s/.test(text[at]!)) at++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${at}`);
  };
  const value = (): PyValue => {
    ws();
    const c = text[at];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, at + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(at + 1, end);
      at = end + 1;
      return s;
    }
    if (c === '{' || c === '(' || c === '[') {
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      at++;
      const items: PyValue[] = [];
      const dict: Record<string, PyValue> = {};
      for (;;) {
        ws();
        if (text[at] === close) {
          at++;
          return c === '{' ? dict : items;
        }
        const item = value();
        if (c === '{') {
          ws();
          if (text[at] !== ':' || typeof item !== 'string') fail('expected a string key and ":"');
          at++;
          dict[item as string] = value();
        } else items.push(item);
        ws();
        if (text[at] === ',') at++;
        else if (text[at] !== close) fail(`expected "," or "${close}"`);
      }
    }
    const m = /^(True|False|-?\d+L?)/.exec(text.slice(at, at + 32));
    if (!m) return fail('unexpected token');
    at += m[0].length;
    if (m[0] === 'True' || m[0] === 'False') return m[0] === 'True';
    const n = Number(m[0].replace(/L$/, ''));
    if (!Number.isSafeInteger(n)) fail('integer out of range');
    return n;
  };
  const v = value();
  ws();
  if (at !== text.length) fail('trailing characters');
  return v;
}

/** Parse the header at the start of a .npy file; `head` must hold at least the whole header. */
export function parseNpyHeader(head: Buffer, path: string): NpyHeader {
  if (head.length < 10 || !head.subarray(0, 6).equals(MAGIC)) {
    throw npyError('NPY_NOT_NPY', path, 'not a .npy file (no \\x93NUMPY magic)', 'write it with numpy.save');
  }
  const major = head[6]!;
  if (major !== 1 && major !== 2 && major !== 3) {
    throw npyError('NPY_VERSION', path, `.npy format version ${major}.${head[7]} is not supported (1, 2 and 3 are)`, TO_F32_HINT(path));
  }
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = major === 1 ? head.readUInt16LE(8) : head.readUInt32LE(8);
  const dataOffset = 8 + lenBytes + headerLen;
  if (headerLen > MAX_HEADER) throw npyError('NPY_HEADER', path, `header of ${headerLen} bytes is implausibly large`);
  if (head.length < dataOffset) throw npyError('NPY_TRUNCATED', path, 'file ends inside its header');
  const text = head.subarray(8 + lenBytes, dataOffset).toString(major === 3 ? 'utf8' : 'latin1');
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (error) {
    throw npyError('NPY_HEADER', path, `malformed header ${JSON.stringify(text.trim())}: ${(error as Error).message}`);
  }
  if (typeof dict !== 'object' || Array.isArray(dict)) throw npyError('NPY_HEADER', path, 'header is not a dict');
  const { descr, fortran_order: fortran, shape } = dict;
  if (typeof fortran !== 'boolean' || !Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && d >= 0)) {
    throw npyError('NPY_HEADER', path, `header lacks a valid fortran_order or shape: ${text.trim()}`);
  }
  if (typeof descr !== 'string') {
    throw npyError('NPY_DTYPE', path, `structured dtype ${JSON.stringify(descr)} is not supported (float32, float16, float64 or int32 are)`, TO_F32_HINT(path));
  }
  const dtype = DESCR[descr.replace(/^=/, '<')];
  if (!dtype) {
    throw npyError('NPY_DTYPE', path, `dtype ${descr} is not supported (little-endian float32, float16, float64 or int32 are)`, TO_F32_HINT(path));
  }
  if (fortran && shape.length > 1) {
    throw npyError('NPY_FORTRAN_ORDER', path, 'Fortran-ordered (column-major) arrays are not supported', TO_F32_HINT(path));
  }
  return { version: major, dtype, shape: shape as number[], dataOffset };
}

/** numpy's own header for a C-ordered array: what numpy.save writes, byte for byte. */
export function formatNpyHeader(dtype: 'float32' | 'int32', shape: number[]): Buffer {
  const descr = dtype === 'float32' ? '<f4' : '<i4';
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  if (shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const hlen = dict.length + 1;
  const padlen = ARRAY_ALIGN - ((MAGIC.length + 2 + 2 + hlen) % ARRAY_ALIGN);
  const out = Buffer.alloc(MAGIC.length + 2 + 2 + hlen + padlen, 0x20);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(hlen + padlen, 8);
  out.write(dict, 10, 'latin1');
  out[out.length - 1] = 0x0a;
  return out;
}

// ---------------------------------------------------------------------------------------------
// float16 → float32 through a table: 65,536 entries, built once, faster than bit fiddling per value.

let HALF_TABLE: Float32Array | undefined;
function halfTable(): Float32Array {
  if (HALF_TABLE) return HALF_TABLE;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return (HALF_TABLE = table);
}

// ---------------------------------------------------------------------------------------------

export interface OpenOptions {
  /** 2: an N×D matrix (embeddings, centroids); 1: a vector (ids, a mean). */
  ndim: 1 | 2;
  /** Accepted element types; floats are read as float32, int32 as int32. */
  dtypes: readonly NpyDtype[];
}

/** Parse a header and check it against what the caller accepts and the file's real size. */
function checkedHeader(head: Buffer, size: number, path: string, options: OpenOptions): NpyHeader {
  const header = parseNpyHeader(head, path);
  if (header.shape.length !== options.ndim) {
    throw npyError('NPY_SHAPE', path, `expected a ${options.ndim}-D array, got shape (${header.shape.join(', ')})`,
      options.ndim === 2 ? 'save one row per item: an N×D array' : 'save a flat array of N values');
  }
  if (!options.dtypes.includes(header.dtype)) {
    throw npyError('NPY_DTYPE', path, `dtype ${header.dtype} where ${options.dtypes.join(' or ')} is expected`);
  }
  const expected = header.dataOffset + header.shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[header.dtype];
  if (size !== expected) {
    throw npyError(size < expected ? 'NPY_TRUNCATED' : 'NPY_SIZE', path,
      `${size} bytes where the header (shape (${header.shape.join(', ')}), ${header.dtype}) says ${expected}`,
      'the file is incomplete or damaged: write it again');
  }
  return header;
}

/** Little-endian float16/float64 bytes into float32 values (`raw` holds exactly out.length values). */
function widenToFloat32(raw: Uint8Array, dtype: 'float16' | 'float64', out: Float32Array): void {
  // Typed views need aligned offsets; a slice starts its own buffer at 0.
  const aligned = raw.byteOffset % ITEM_SIZE[dtype] === 0 ? raw : raw.slice();
  if (dtype === 'float64') {
    out.set(new Float64Array(aligned.buffer, aligned.byteOffset, out.length));
    return;
  }
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, out.length);
  const table = halfTable();
  for (let i = 0; i < out.length; i++) out[i] = table[halves[i]!]!;
}

/** Random access to the rows of a .npy file, one positioned read per block. */
export class NpyReader {
  private constructor(
    readonly path: string,
    readonly header: NpyHeader,
    private readonly handle: FileHandle,
  ) {}

  static async open(path: string, options: OpenOptions): Promise<NpyReader> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw npyError('NPY_MISSING', path, 'no such file');
      throw error;
    }
    try {
      const size = (await handle.stat()).size;
      const probe = Buffer.alloc(Math.min(size, 4096));
      await handle.read(probe, 0, probe.length, 0);
      let head = probe;
      if (probe.length >= 12 && probe.subarray(0, 6).equals(MAGIC) && probe[6] !== 1) {
        const want = Math.min(size, 12 + probe.readUInt32LE(8), 12 + MAX_HEADER + 1);
        if (want > probe.length) {
          head = Buffer.alloc(want);
          await handle.read(head, 0, want, 0);
        }
      }
      const header = checkedHeader(head, size, path, options);
      return new NpyReader(path, header, handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get rows(): number {
    return this.header.shape[0]!;
  }

  /** Values per row: D for a matrix, 1 for a vector. */
  get cols(): number {
    return this.header.shape[1] ?? 1;
  }

  private async readBytes(start: number, count: number, target: Uint8Array): Promise<void> {
    const item = ITEM_SIZE[this.header.dtype];
    const position = this.header.dataOffset + start * this.cols * item;
    let done = 0;
    while (done < target.length) {
      const { bytesRead } = await this.handle.read(target, done, target.length - done, position + done);
      if (bytesRead === 0) throw npyError('NPY_TRUNCATED', this.path, `file shrank while reading rows ${start}…${start + count}`);
      done += bytesRead;
    }
  }

  private checkRange(start: number, count: number): void {
    if (start < 0 || count < 0 || start + count > this.rows) {
      throw new RangeError(`rows ${start}…${start + count} outside 0…${this.rows} of ${this.path}`);
    }
  }

  /** Rows start…start+count as float32, row-major; `into` is reused when given and large enough. */
  async readFloat32(start: number, count: number, into?: Float32Array): Promise<Float32Array> {
    this.checkRange(start, count);
    const n = count * this.cols;
    const out = into && into.length >= n ? into.subarray(0, n) : new Float32Array(n);
    const dtype = this.header.dtype;
    if (dtype === 'int32') throw npyError('NPY_DTYPE', this.path, 'int32 array where floats are expected');
    if (dtype === 'float32') {
      await this.readBytes(start, count, new Uint8Array(out.buffer, out.byteOffset, n * 4));
    } else {
      const raw = new Uint8Array(n * ITEM_SIZE[dtype]);
      await this.readBytes(start, count, raw);
      widenToFloat32(raw, dtype, out);
    }
    return out;
  }

  async readInt32(start: number, count: number): Promise<Int32Array> {
    this.checkRange(start, count);
    if (this.header.dtype !== 'int32') throw npyError('NPY_DTYPE', this.path, `${this.header.dtype} array where int32 is expected`);
    const out = new Int32Array(count * this.cols);
    await this.readBytes(start, count, new Uint8Array(out.buffer));
    return out;
  }

  /**
   * Float32 blocks of at most `rowsPerBlock` rows, in order. The next block is read while the
   * caller works on the current one, so disk and compute overlap; two blocks in memory at most.
   */
  async *blocks(rowsPerBlock: number): AsyncGenerator<{ start: number; rows: number; data: Float32Array }> {
    const step = Math.max(1, Math.floor(rowsPerBlock));
    const read = (start: number) => {
      const rows = Math.min(step, this.rows - start);
      return this.readFloat32(start, rows).then((data) => ({ start, rows, data }));
    };
    let pending = this.rows > 0 ? read(0) : undefined;
    while (pending) {
      const block = await pending;
      const next = block.start + block.rows;
      pending = next < this.rows ? read(next) : undefined;
      // A read still in flight when the consumer stops early is awaited by close(); its error is
      // the consumer's to see only if it asks for that block.
      pending?.catch(() => undefined);
      yield block;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Open, use and always close a reader. */
export async function withNpy<T>(path: string, options: OpenOptions, use: (reader: NpyReader) => Promise<T>): Promise<T> {
  const reader = await NpyReader.open(path, options);
  try {
    return await use(reader);
  } finally {
    await reader.close();
  }
}

/**
 * Streams rows into `path`: a temporary file in the same folder, the header patched with the final
 * row count, fsync, rename. A reader sees the old file or the whole new one; abort() leaves nothing.
 */
export class NpyWriter {
  private rows = 0;
  private position: number;

  private constructor(
    readonly path: string,
    private readonly tmp: string,
    private readonly handle: FileHandle,
    private readonly dtype: 'float32' | 'int32',
    /** undefined: a 1-D array. */
    private readonly cols: number | undefined,
    headerLength: number,
  ) {
    this.position = headerLength;
  }

  static async create(path: string, dtype: 'float32' | 'int32', cols?: number): Promise<NpyWriter> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
    const handle = await open(tmp, 'w');
    const header = formatNpyHeader(dtype, cols === undefined ? [0] : [0, cols]);
    try {
      await handle.write(header, 0, header.length, 0);
    } catch (error) {
      await handle.close();
      await rm(tmp, { force: true });
      throw error;
    }
    return new NpyWriter(path, tmp, handle, dtype, cols, header.length);
  }

  /** Append whole rows (row-major); the array's type must match the file's. */
  async append(data: Float32Array | Int32Array): Promise<void> {
    if ((data instanceof Float32Array) !== (this.dtype === 'float32')) throw new TypeError(`append: ${this.dtype} file`);
    const per = this.cols ?? 1;
    if (data.length % per !== 0) throw new RangeError(`append: ${data.length} values is not a whole number of ${per}-value rows`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, this.position + done);
      done += bytesWritten;
    }
    this.position += bytes.length;
    this.rows += data.length / per;
  }

  /** Patch the header with the row count, fsync and rename into place. */
  async finish(): Promise<void> {
    try {
      const header = formatNpyHeader(this.dtype, this.cols === undefined ? [this.rows] : [this.rows, this.cols]);
      await this.handle.write(header, 0, header.length, 0);
      await this.handle.sync();
      await this.handle.close();
      await rename(this.tmp, this.path);
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Drop the temporary file; the destination is untouched. */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined); // already closed after a failed finish
    await rm(this.tmp, { force: true });
  }
}

/** Write a whole array atomically (shape [n] or [n, d]). */
export async function writeNpy(path: string, data: Float32Array | Int32Array, shape: [number] | [number, number]): Promise<void> {
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new RangeError(`writeNpy: ${data.length} values for shape (${shape.join(', ')})`);
  const writer = await NpyWriter.create(path, data instanceof Float32Array ? 'float32' : 'int32', shape[1]);
  try {
    await writer.append(data);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  await writer.finish();
}

const FLOAT_DTYPES = ['float32', 'float16', 'float64'] as const;

/**
 * A whole float array from bytes already in memory, checked like a file (the model loader hashes
 * these same bytes, so what it checks is what it uses).
 */
export function decodeNpyFloat32(bytes: Buffer, path: string, ndim: 1 | 2): { data: Float32Array; shape: number[] } {
  const header = checkedHeader(bytes, bytes.length, path, { ndim, dtypes: FLOAT_DTYPES });
  const n = header.shape.reduce((a, b) => a * b, 1);
  const raw = bytes.subarray(header.dataOffset);
  const data = new Float32Array(n);
  if (header.dtype === 'float32') new Uint8Array(data.buffer).set(raw);
  else widenToFloat32(raw, header.dtype as 'float16' | 'float64', data);
  return { data, shape: header.shape };
}

/** Read a whole (small) float array: the model's mean, components and centroids. */
export async function readNpyFloat32(path: string, ndim: 1 | 2): Promise<{ data: Float32Array; shape: number[] }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw npyError('NPY_MISSING', path, 'no such file');
    throw error;
  }
  return decodeNpyFloat32(bytes, path, ndim);
}
