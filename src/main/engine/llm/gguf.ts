// GGUF v3 files (llama.cpp's model format), read lazily: the header, the typed key-values and
// the tensor infos are parsed with positioned reads of a few MB at most; tensor data is read
// one tensor at a time when asked for. A 98 MB (or 8 GB) file is never read into memory whole.
//
// Layout (little-endian), see /work/shared/docs/real-models.md:
//   magic "GGUF", version u32 (3), tensor count u64, key-value count u64,
//   key-values: key (u64 length + UTF-8), value type u32, value,
//   tensor infos: name, n_dims u32, dims u64 × n_dims (dims[0] fastest-varying), ggml type u32,
//                 offset u64 relative to the data section,
//   data section: at the first multiple of general.alignment (default 32) after the infos.
import { open, type FileHandle } from 'node:fs/promises'
import { GGML_TYPES, ggmlTypeName, tensorBytes } from './ggml-types.ts'

export class GgufError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'GgufError'
  }
}

/** GGUF metadata value types */
export const GGUF_VALUE_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12
} as const

const VALUE_TYPE_NAMES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64']

/** A metadata value: numbers (64-bit integers as number when exact, else bigint), booleans,
 *  strings, or arrays of those (numeric arrays as plain number arrays). */
export type GgufValue = number | bigint | boolean | string | GgufValue[]

export interface GgufTensorInfo {
  name: string
  /** ggml order: dims[0] is the fastest-varying (a [in, out] listing is out rows of in values) */
  dims: number[]
  /** ggml type id (GGML_TYPES) */
  type: number
  /** byte offset relative to the data section */
  offset: number
  /** values (product of dims) */
  count: number
  /** bytes in the file; null for a type whose block size this reader does not know */
  bytes: number | null
}

export interface GgufHeader {
  file: string
  version: number
  metadata: Map<string, GgufValue>
  tensors: GgufTensorInfo[]
  alignment: number
  /** absolute byte offset of the data section */
  dataOffset: number
  fileSize: number
}

const MAX_STRING = 64 * 1024 * 1024
const MAX_ARRAY = 1 << 28

/** thrown by the parser when the bytes read so far end before the header does */
class NeedMore extends Error {}

/** Synchronous reader over the first `buf.length` bytes of a file of `size` bytes. Running off
 *  the end of the buffer asks for more (NeedMore); running off the end of the file is an error
 *  that names the byte. */
class Cursor {
  pos = 0

  constructor(
    private readonly buf: Buffer,
    readonly size: number,
    private readonly file: string
  ) {}

  private take(n: number, what: string): number {
    const at = this.pos
    if (at + n > this.buf.length) {
      if (at + n > this.size) {
        throw new GgufError(
          `GGUF file "${this.file}": truncated at byte ${this.size} while reading ${what} at byte ${at} (needs ${at + n - this.size} more bytes); is the download complete?`
        )
      }
      throw new NeedMore()
    }
    this.pos += n
    return at
  }

  u32(what: string): number {
    return this.buf.readUInt32LE(this.take(4, what))
  }

  /** a u64 that must fit a JS number (counts, lengths, offsets) */
  size64(what: string, max = Number.MAX_SAFE_INTEGER): number {
    const at = this.take(8, what)
    const v = this.buf.readBigUInt64LE(at)
    if (v > BigInt(max)) throw new GgufError(`GGUF file "${this.file}": ${what} at byte ${at} is ${v}, larger than ${max}; the file is corrupt or not GGUF`)
    return Number(v)
  }

  bytes(n: number, what: string): Buffer {
    const at = this.take(n, what)
    return this.buf.subarray(at, at + n)
  }

  string(what: string): string {
    const n = this.size64(`the length of ${what}`, MAX_STRING)
    return this.bytes(n, what).toString('utf8')
  }

  scalar(type: number, what: string): number | bigint | boolean {
    const b = this.buf
    switch (type) {
      case 0:
        return b.readUInt8(this.take(1, what))
      case 1:
        return b.readInt8(this.take(1, what))
      case 2:
        return b.readUInt16LE(this.take(2, what))
      case 3:
        return b.readInt16LE(this.take(2, what))
      case 4:
        return b.readUInt32LE(this.take(4, what))
      case 5:
        return b.readInt32LE(this.take(4, what))
      case 6:
        return b.readFloatLE(this.take(4, what))
      case 7:
        return b.readUInt8(this.take(1, what)) !== 0
      case 10: {
        const v = b.readBigUInt64LE(this.take(8, what))
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
      }
      case 11: {
        const v = b.readBigInt64LE(this.take(8, what))
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v
      }
      default:
        return b.readDoubleLE(this.take(8, what))
    }
  }
}

function readValue(c: Cursor, type: number, key: string, file: string, depth = 0): GgufValue {
  const at = c.pos
  if (type === GGUF_VALUE_TYPE.STRING) return c.string(`the value of "${key}"`)
  if (type === GGUF_VALUE_TYPE.ARRAY) {
    if (depth > 2) throw new GgufError(`GGUF file "${file}": key "${key}" nests arrays too deeply`)
    const itemType = c.u32(`the item type of array "${key}"`)
    if (itemType > 12) throw new GgufError(`GGUF file "${file}": key "${key}" (byte ${at}) is an array of unknown value type ${itemType} (known: 0–12: ${VALUE_TYPE_NAMES.join(', ')})`)
    const n = c.size64(`the length of array "${key}"`, MAX_ARRAY)
    const out: GgufValue[] = new Array(n)
    for (let i = 0; i < n; i++) out[i] = readValue(c, itemType, key, file, depth + 1)
    return out
  }
  if (type > 12) throw new GgufError(`GGUF file "${file}": key "${key}" at byte ${at} has unknown value type ${type} (known: 0–12: ${VALUE_TYPE_NAMES.join(', ')})`)
  return c.scalar(type, `the value of "${key}"`)
}

function parseHeader(buf: Buffer, size: number, file: string): GgufHeader {
  const c = new Cursor(buf, size, file)
  if (size < 4) throw new GgufError(`"${file}" is not a GGUF file (${size} bytes)`)
  const magic = c.bytes(4, 'the magic').toString('latin1')
  if (magic !== 'GGUF') throw new GgufError(`"${file}" is not a GGUF file (bad magic ${JSON.stringify(magic)}, expected "GGUF")`)
  const version = c.u32('the version')
  if (version !== 3 && version !== 2)
    throw new GgufError(`GGUF file "${file}": unsupported version ${version} (this reader handles GGUF v3 and v2); re-convert the model with a current llama.cpp`)
  const nTensors = c.size64('the tensor count', 1 << 24)
  const nKv = c.size64('the key-value count', 1 << 24)
  const metadata = new Map<string, GgufValue>()
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`key ${i + 1} of ${nKv}`)
    const type = c.u32(`the value type of "${key}"`)
    metadata.set(key, readValue(c, type, key, file))
  }
  const alignRaw = metadata.get('general.alignment')
  const alignment = alignRaw === undefined ? 32 : Number(alignRaw)
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
    throw new GgufError(`GGUF file "${file}": general.alignment is ${String(alignRaw)}; it must be a power of two`)
  }
  const tensors: GgufTensorInfo[] = []
  for (let i = 0; i < nTensors; i++) {
    const name = c.string(`the name of tensor ${i + 1} of ${nTensors}`)
    const nDims = c.u32(`the dimension count of tensor "${name}"`)
    if (nDims < 1 || nDims > 4) throw new GgufError(`GGUF file "${file}": tensor "${name}" has ${nDims} dimensions (1–4 expected)`)
    const dims: number[] = []
    for (let d = 0; d < nDims; d++) dims.push(c.size64(`dimension ${d} of tensor "${name}"`))
    const type = c.u32(`the type of tensor "${name}"`)
    const offset = c.size64(`the data offset of tensor "${name}"`)
    const count = dims.reduce((a, b) => a * b, 1)
    let bytes: number | null = null
    if (GGML_TYPES[type]) {
      try {
        bytes = tensorBytes(type, dims)
      } catch (e) {
        throw new GgufError(`GGUF file "${file}": tensor "${name}": ${(e as Error).message}`)
      }
    }
    tensors.push({ name, dims, type, offset, count, bytes })
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment
  const dataSize = size - dataOffset
  for (const t of tensors) {
    if (t.bytes !== null && t.offset + t.bytes > dataSize) {
      throw new GgufError(
        `GGUF file "${file}": tensor "${t.name}" (${ggmlTypeName(t.type)} [${t.dims}]) needs bytes ${dataOffset + t.offset}–${dataOffset + t.offset + t.bytes} but the file is truncated at byte ${size}; is the download complete?`
      )
    }
  }
  return { file, version, metadata, tensors, alignment, dataOffset, fileSize: size }
}

async function readAt(fh: FileHandle, n: number, position: number): Promise<Buffer> {
  const b = Buffer.allocUnsafe(n)
  let got = 0
  while (got < n) {
    const { bytesRead } = await fh.read(b, got, n - got, position + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return b.subarray(0, got)
}

/** Parse a GGUF file's header, metadata and tensor infos (no tensor data). Reads the first 4 MB
 *  and doubles while the header runs on (SmolLM2's, with a 49k-token vocabulary, is ~2 MB). */
export async function readGgufHeader(file: string): Promise<GgufHeader> {
  let fh: FileHandle
  try {
    fh = await open(file, 'r')
  } catch (e) {
    throw new GgufError(`GGUF file "${file}": cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  try {
    const size = (await fh.stat()).size
    for (let n = Math.min(size, 4 << 20); ; n = Math.min(size, n * 2)) {
      const buf = await readAt(fh, n, 0)
      try {
        return parseHeader(buf, size, file)
      } catch (e) {
        if (!(e instanceof NeedMore) || n >= size) throw e
      }
    }
  } finally {
    await fh.close()
  }
}

/** An open GGUF file: metadata plus lazy, positioned reads of one tensor's raw bytes. */
export class GgufFile {
  private constructor(
    readonly header: GgufHeader,
    private readonly fh: FileHandle
  ) {}

  static async open(file: string): Promise<GgufFile> {
    const header = await readGgufHeader(file)
    const fh = await open(file, 'r')
    return new GgufFile(header, fh)
  }

  get file(): string {
    return this.header.file
  }

  tensor(name: string): GgufTensorInfo | undefined {
    return this.header.tensors.find((t) => t.name === name)
  }

  /** the tensor's bytes as stored (quantised blocks or floats) */
  async readRaw(name: string): Promise<{ info: GgufTensorInfo; bytes: Uint8Array }> {
    const info = this.tensor(name)
    if (!info) throw new GgufError(`GGUF file "${this.file}": has no tensor "${name}"`)
    if (info.bytes === null) throw new GgufError(`GGUF file "${this.file}": tensor "${name}" has ggml type ${ggmlTypeName(info.type)}, which this reader cannot size or read`)
    const bytes = new Uint8Array(info.bytes)
    let got = 0
    while (got < info.bytes) {
      const { bytesRead } = await this.fh.read(bytes, got, info.bytes - got, this.header.dataOffset + info.offset + got)
      if (bytesRead === 0) throw new GgufError(`GGUF file "${this.file}": truncated at byte ${this.header.dataOffset + info.offset + got} while reading tensor "${name}"`)
      got += bytesRead
    }
    return { info, bytes }
  }

  async close(): Promise<void> {
    await this.fh.close()
  }
}

// ---- typed metadata access (errors name the file and key) ----

export function metaString(h: GgufHeader, key: string): string | undefined {
  const v = h.metadata.get(key)
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw new GgufError(`GGUF file "${h.file}": metadata "${key}" should be a string, found ${describe(v)}`)
  return v
}

export function metaNumber(h: GgufHeader, key: string): number | undefined {
  const v = h.metadata.get(key)
  if (v === undefined) return undefined
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  throw new GgufError(`GGUF file "${h.file}": metadata "${key}" should be a number, found ${describe(v)}`)
}

export function metaBool(h: GgufHeader, key: string): boolean | undefined {
  const v = h.metadata.get(key)
  if (v === undefined) return undefined
  if (typeof v === 'boolean') return v
  if (typeof v === 'number') return v !== 0
  throw new GgufError(`GGUF file "${h.file}": metadata "${key}" should be a boolean, found ${describe(v)}`)
}

export function metaArray(h: GgufHeader, key: string): GgufValue[] | undefined {
  const v = h.metadata.get(key)
  if (v === undefined) return undefined
  if (!Array.isArray(v)) throw new GgufError(`GGUF file "${h.file}": metadata "${key}" should be an array, found ${describe(v)}`)
  return v
}

function describe(v: GgufValue): string {
  if (Array.isArray(v)) return `an array of ${v.length}`
  return `${typeof v} ${JSON.stringify(typeof v === 'bigint' ? v.toString() : v).slice(0, 40)}`
}
