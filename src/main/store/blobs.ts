// Typed arrays <-> SQLite BLOBs, and the self-describing tensor layout used by checkpoints.
//
// A Buffer that better-sqlite3 returns may start at any byte offset of a shared pool, so a
// Float32Array view on it could be misaligned (and would alias the pool): every read copies
// the bytes into a fresh, aligned typed array. Byte order is the platform's (little-endian on
// every machine Node runs on); the tensor header records it so a foreign file is refused.
import type { NamedTensor } from '../common/tensors.ts'

export type TypedArray = Int32Array | Float32Array | Float64Array | Uint8Array

type TypedCtor<T extends TypedArray> = { new (length: number): T; readonly BYTES_PER_ELEMENT: number; readonly name: string }

/** SQLite's default limit on one BLOB (SQLITE_MAX_LENGTH) is 1e9 bytes. */
export const MAX_BLOB_BYTES = 1_000_000_000

export class BlobError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BlobError'
  }
}

/** A Buffer view of a typed array's bytes (no copy), for binding as a BLOB parameter. */
export function toBlob(a: TypedArray, what: string): Buffer {
  if (a.byteLength > MAX_BLOB_BYTES) {
    throw new BlobError(`${what} is ${(a.byteLength / 1e6).toFixed(0)} MB, more than SQLite's ${MAX_BLOB_BYTES / 1e6} MB limit for one value; split the data into smaller datasets`)
  }
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength)
}

/** Copy a BLOB into a new, correctly aligned typed array of the given type. */
export function fromBlob<T extends TypedArray>(buf: Uint8Array, Ctor: TypedCtor<T>, what: string): T {
  if (buf.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) {
    throw new BlobError(`${what}: ${buf.byteLength} bytes is not a whole number of ${Ctor.name} values (the stored data is damaged)`)
  }
  const out = new Ctor(buf.byteLength / Ctor.BYTES_PER_ELEMENT)
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(buf)
  return out
}

// ---- tensors ---------------------------------------------------------------------------
// Layout: "IWT1" | u32 LE header length H | H bytes of UTF-8 JSON header | zero padding to a
// multiple of 4 | the tensors' float32 data back to back. The header is
// {"endian":"LE","tensors":[{"name","shape","dtype":"float32","offset","length"}]} with
// offset and length in elements, counted from the start of the data section.

const MAGIC = 'IWT1'
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

interface TensorHeader {
  endian: 'LE' | 'BE'
  tensors: Array<{ name: string; shape: number[]; dtype: 'float32'; offset: number; length: number }>
}

export function encodeTensors(tensors: NamedTensor[]): Buffer {
  const header: TensorHeader = { endian: LITTLE_ENDIAN ? 'LE' : 'BE', tensors: [] }
  let offset = 0
  const names = new Set<string>()
  for (const t of tensors) {
    if (names.has(t.name)) throw new BlobError(`tensor "${t.name}" appears twice in one checkpoint; tensor names must be unique`)
    names.add(t.name)
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new BlobError(`tensor "${t.name}" has shape [${t.shape.join(', ')}]; every dimension must be a whole number ≥ 0`)
    }
    const n = t.shape.reduce((a, b) => a * b, 1)
    if (n !== t.data.length) {
      throw new BlobError(`tensor "${t.name}" has shape [${t.shape.join(', ')}] (${n} values) but ${t.data.length} values of data`)
    }
    header.tensors.push({ name: t.name, shape: [...t.shape], dtype: 'float32', offset, length: n })
    offset += n
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8')
  const dataStart = align4(8 + json.length)
  const total = dataStart + offset * 4
  if (total > MAX_BLOB_BYTES) {
    throw new BlobError(`checkpoint is ${(total / 1e6).toFixed(0)} MB, more than SQLite's ${MAX_BLOB_BYTES / 1e6} MB limit for one value; use a smaller model`)
  }
  const out = Buffer.alloc(total)
  out.write(MAGIC, 0, 'latin1')
  out.writeUInt32LE(json.length, 4)
  json.copy(out, 8)
  for (let i = 0; i < tensors.length; i++) {
    const d = tensors[i].data
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), dataStart + header.tensors[i].offset * 4)
  }
  return out
}

export function decodeTensors(buf: Uint8Array, what: string): NamedTensor[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  if (b.length < 8 || b.toString('latin1', 0, 4) !== MAGIC) throw new BlobError(`${what}: not a tensor blob (bad magic; the stored data is damaged)`)
  const h = b.readUInt32LE(4)
  if (8 + h > b.length) throw new BlobError(`${what}: tensor header runs past the end (the stored data is damaged)`)
  let header: TensorHeader
  try {
    header = JSON.parse(b.toString('utf8', 8, 8 + h)) as TensorHeader
  } catch {
    throw new BlobError(`${what}: tensor header is not valid JSON (the stored data is damaged)`)
  }
  if (header.endian !== (LITTLE_ENDIAN ? 'LE' : 'BE')) {
    throw new BlobError(`${what}: written on a ${header.endian} machine, this one is ${LITTLE_ENDIAN ? 'LE' : 'BE'}; export the model on the original machine`)
  }
  const dataStart = align4(8 + h)
  return header.tensors.map((t) => {
    const start = dataStart + t.offset * 4
    const end = start + t.length * 4
    if (t.dtype !== 'float32' || end > b.length) throw new BlobError(`${what}: tensor "${t.name}" is truncated or of unknown type ${t.dtype}`)
    return { name: t.name, shape: t.shape, data: fromBlob(b.subarray(start, end), Float32Array, `${what}: tensor "${t.name}"`) }
  })
}

const align4 = (n: number): number => (n + 3) & ~3
