// Lazy safetensors reading for Hugging Face model folders: the header is parsed once, each
// tensor is read with a positioned read when it is needed and widened to float32.
// src/main/export/safetensors.ts decodes a whole in-memory buffer into every tensor at once (made
// for the workbench's own small checkpoints); a model's multi-GB shards need one tensor at a time,
// so this reader sits beside the model loader. Format: u64 header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets}}, then the data buffer.
import { open, type FileHandle } from 'node:fs/promises'
import { halfToFloat } from './dequant.ts'
import { LlmError } from './errors.ts'

export interface SafetensorsEntry {
  dtype: string
  shape: number[]
  /** absolute byte range in the file */
  begin: number
  end: number
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 }
export const SAFETENSORS_DTYPES = Object.keys(DTYPE_BYTES)

export class SafetensorsFile {
  private constructor(
    readonly file: string,
    readonly entries: Map<string, SafetensorsEntry>,
    private readonly fh: FileHandle
  ) {}

  static async open(file: string): Promise<SafetensorsFile> {
    let fh: FileHandle
    try {
      fh = await open(file, 'r')
    } catch (e) {
      throw new LlmError(`weights file "${file}": cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
    }
    try {
      const size = (await fh.stat()).size
      if (size < 8) throw new LlmError(`weights file "${file}": ${size} bytes is too short for safetensors`)
      const lenBuf = Buffer.alloc(8)
      await fh.read(lenBuf, 0, 8, 0)
      const n = lenBuf.readBigUInt64LE(0)
      if (n > BigInt(Math.min(size - 8, 100 * 1024 * 1024)))
        throw new LlmError(`weights file "${file}": header length ${n} does not fit the ${size}-byte file; not safetensors, or truncated`)
      const hb = Buffer.alloc(Number(n))
      await fh.read(hb, 0, hb.length, 8)
      let header: Record<string, unknown>
      try {
        header = JSON.parse(hb.toString('utf8'))
      } catch (e) {
        throw new LlmError(`weights file "${file}": the safetensors header is not valid JSON (${(e as Error).message})`)
      }
      const dataStart = 8 + Number(n)
      const entries = new Map<string, SafetensorsEntry>()
      for (const [name, raw] of Object.entries(header)) {
        if (name === '__metadata__') continue
        const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
        if (typeof e?.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
          throw new LlmError(`weights file "${file}": tensor "${name}" needs dtype, shape and data_offsets`)
        }
        const [b, end] = e.data_offsets as number[]
        const shape = e.shape as number[]
        const count = shape.reduce((a, x) => a * x, 1)
        const bytes = DTYPE_BYTES[e.dtype]
        if (bytes && end - b !== count * bytes) throw new LlmError(`weights file "${file}": tensor "${name}" (${e.dtype} [${shape}]) has ${end - b} bytes, expected ${count * bytes}`)
        if (dataStart + end > size) throw new LlmError(`weights file "${file}": tensor "${name}" runs past the end of the file (byte ${dataStart + end} of ${size}); truncated?`)
        entries.set(name, { dtype: e.dtype, shape, begin: dataStart + b, end: dataStart + end })
      }
      return new SafetensorsFile(file, entries, fh)
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  /** one tensor as float32 (F32, F16, BF16, F64 widened or narrowed) */
  async read(name: string): Promise<{ shape: number[]; data: Float32Array }> {
    const e = this.entries.get(name)
    if (!e) throw new LlmError(`weights file "${this.file}": has no tensor "${name}"`)
    if (!DTYPE_BYTES[e.dtype]) throw new LlmError(`weights file "${this.file}": tensor "${name}" has dtype ${e.dtype}; supported: float32, float16, bfloat16 (F32, F16, BF16, F64)`)
    const n = e.end - e.begin
    const raw = new Uint8Array(n)
    let got = 0
    while (got < n) {
      const { bytesRead } = await this.fh.read(raw, got, n - got, e.begin + got)
      if (bytesRead === 0) throw new LlmError(`weights file "${this.file}": truncated at byte ${e.begin + got} while reading "${name}"`)
      got += bytesRead
    }
    const count = e.shape.reduce((a, x) => a * x, 1)
    return { shape: e.shape.slice(), data: toFloat32(e.dtype, raw, count) }
  }

  async close(): Promise<void> {
    await this.fh.close()
  }
}

function toFloat32(dtype: string, raw: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count)
  if (dtype === 'F32') {
    new Uint8Array(out.buffer).set(raw)
  } else if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer)
    for (let i = 0; i < count; i++) bits[i] = (raw[2 * i] << 16) | (raw[2 * i + 1] << 24)
  } else if (dtype === 'F16') {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(raw[2 * i] | (raw[2 * i + 1] << 8))
  } else {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
    for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true)
  }
  return out
}
