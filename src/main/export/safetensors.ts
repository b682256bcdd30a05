// The safetensors format (Hugging Face), written and read without dependencies:
//   bytes 0..8        N, the header length, unsigned 64-bit little-endian
//   bytes 8..8+N      the header: UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]},
//                     "__metadata__": {string: string}}, padded with spaces (0x20) so that the
//                     data starts at a multiple of 8 bytes (as the reference writer does)
//   bytes 8+N..       the data buffer; offsets are relative to its start, the tensors tile it
//                     exactly (no holes, no overlaps), little-endian, row-major ('C' order)
// Only F32 is written (every workbench parameter is float32); F16/BF16/F64 are read and
// widened to float32 so that a file saved from PyTorch in another precision still loads.
import type { NamedTensor } from '../common/tensors.ts'

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SafetensorsError'
  }
}

/** The reference implementation's limit on the header size. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024
export const HEADER_ALIGN = 8

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 }

const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1)

export interface SafetensorsHeaderEntry {
  dtype: string
  shape: number[]
  data_offsets: [number, number]
}

/** Serialise tensors (F32) and string metadata into one safetensors buffer. Tensors are laid
 *  out in the order given; names must be unique and not "__metadata__". */
export function encodeSafetensors(tensors: NamedTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {}
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata "${k}" must be a string (safetensors metadata is a string→string map), got ${typeof v}`)
    }
    header.__metadata__ = metadata
  }
  let offset = 0
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new SafetensorsError('a tensor cannot be named "__metadata__"')
    if (Object.prototype.hasOwnProperty.call(header, t.name)) throw new SafetensorsError(`two tensors are named "${t.name}"`)
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new SafetensorsError(`tensor "${t.name}" has an invalid shape [${t.shape}]`)
    if (numel(t.shape) !== t.data.length) {
      throw new SafetensorsError(`tensor "${t.name}" has shape [${t.shape}] (${numel(t.shape)} values) but ${t.data.length} values`)
    }
    const bytes = t.data.length * 4
    header[t.name] = { dtype: 'F32', shape: t.shape.slice(), data_offsets: [offset, offset + bytes] }
    offset += bytes
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8')
  const pad = (HEADER_ALIGN - ((8 + json.length) % HEADER_ALIGN)) % HEADER_ALIGN
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)])
  const out = new Uint8Array(8 + json.length + offset)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(json.length), true)
  out.set(json, 8)
  let pos = 8 + json.length
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++, pos += 4) view.setFloat32(pos, t.data[i], true)
  }
  return out
}

export interface DecodedSafetensors {
  /** in data-offset order (the order the writer laid them out) */
  tensors: NamedTensor[]
  metadata: Record<string, string>
  /** the raw header entries by name */
  header: Record<string, SafetensorsHeaderEntry>
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * 2 ** -14 * (f / 1024)
  if (e === 31) return f ? NaN : s * Infinity
  return s * 2 ** (e - 15) * (1 + f / 1024)
}

/** Parse and check a safetensors buffer; every error names what is wrong. */
export function decodeSafetensors(buf: Uint8Array, source = 'safetensors file'): DecodedSafetensors {
  if (buf.byteLength < 8) throw new SafetensorsError(`${source}: ${buf.byteLength} bytes is too short for a safetensors file (it starts with an 8-byte header length)`)
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const n64 = view.getBigUint64(0, true)
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`${source}: header length ${n64} is larger than the ${MAX_HEADER_BYTES}-byte limit; not a safetensors file?`)
  const n = Number(n64)
  if (8 + n > buf.byteLength) throw new SafetensorsError(`${source}: header length ${n} runs past the end of the file (${buf.byteLength} bytes)`)
  const text = Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString('utf8')
  if (!text.startsWith('{')) throw new SafetensorsError(`${source}: the header does not start with "{"; not a safetensors file?`)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    throw new SafetensorsError(`${source}: the header is not valid JSON (${(e as Error).message})`)
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SafetensorsError(`${source}: the header must be a JSON object`)
  const dataStart = 8 + n
  const dataLen = buf.byteLength - dataStart
  const metadata: Record<string, string> = {}
  const header: Record<string, SafetensorsHeaderEntry> = {}
  const entries: Array<{ name: string; e: SafetensorsHeaderEntry }> = []
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SafetensorsError(`${source}: __metadata__ must be an object of strings`)
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError(`${source}: __metadata__.${k} must be a string`)
        metadata[k] = v
      }
      continue
    }
    const e = raw as SafetensorsHeaderEntry
    if (!e || typeof e !== 'object' || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
      throw new SafetensorsError(`${source}: tensor "${name}" needs dtype, shape and data_offsets [begin, end]`)
    }
    const size = DTYPE_BYTES[e.dtype]
    if (!size) throw new SafetensorsError(`${source}: tensor "${name}" has dtype ${e.dtype}; the workbench reads F32, F16, BF16 and F64`)
    if (!e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new SafetensorsError(`${source}: tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}`)
    const [b, end] = e.data_offsets
    if (!Number.isInteger(b) || !Number.isInteger(end) || b < 0 || end < b || end > dataLen) {
      throw new SafetensorsError(`${source}: tensor "${name}" has data_offsets [${b}, ${end}] outside the ${dataLen}-byte data buffer`)
    }
    if (end - b !== numel(e.shape) * size) {
      throw new SafetensorsError(`${source}: tensor "${name}" (${e.dtype} [${e.shape}]) needs ${numel(e.shape) * size} bytes, data_offsets give ${end - b}`)
    }
    header[name] = e
    entries.push({ name, e })
  }
  entries.sort((x, y) => x.e.data_offsets[0] - y.e.data_offsets[0] || x.e.data_offsets[1] - y.e.data_offsets[1])
  let expect = 0
  for (const { name, e } of entries) {
    if (e.data_offsets[0] !== expect) {
      throw new SafetensorsError(`${source}: tensor "${name}" starts at byte ${e.data_offsets[0]}, expected ${expect} (the tensors must tile the data buffer without holes or overlaps)`)
    }
    expect = e.data_offsets[1]
  }
  if (expect !== dataLen) throw new SafetensorsError(`${source}: the tensors cover ${expect} bytes of a ${dataLen}-byte data buffer`)
  const tensors: NamedTensor[] = entries.map(({ name, e }) => {
    const count = numel(e.shape)
    const data = new Float32Array(count)
    const at = dataStart + e.data_offsets[0]
    for (let i = 0; i < count; i++) {
      if (e.dtype === 'F32') data[i] = view.getFloat32(at + 4 * i, true)
      else if (e.dtype === 'F64') data[i] = view.getFloat64(at + 8 * i, true)
      else if (e.dtype === 'F16') data[i] = halfToFloat(view.getUint16(at + 2 * i, true))
      else {
        // BF16: the top 16 bits of a float32
        const u = new DataView(new ArrayBuffer(4))
        u.setUint32(0, view.getUint16(at + 2 * i, true) << 16, false)
        data[i] = u.getFloat32(0, false)
      }
    }
    return { name, shape: e.shape.slice(), data }
  })
  return { tensors, metadata, header }
}
