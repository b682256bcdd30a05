// The GGUF reader on files written here byte by byte (the layout of real-models.md), on the
// parity fixtures, and on broken files.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { GgufError, GgufFile, readGgufHeader } from '../../src/main/engine/llm/gguf.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-gguf-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// ---- a small GGUF writer for the tests ----
type KV = { key: string; type: number; value: unknown; itemType?: number }
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(v)
  return b
}
const u64 = (v: number | bigint): Buffer => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(v))
  return b
}
const str = (s: string): Buffer => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s, 'utf8')])
function scalar(type: number, v: unknown): Buffer {
  const b = Buffer.alloc(8)
  switch (type) {
    case 0:
      return Buffer.from([v as number])
    case 1:
      b.writeInt8(v as number)
      return b.subarray(0, 1)
    case 2:
      b.writeUInt16LE(v as number)
      return b.subarray(0, 2)
    case 3:
      b.writeInt16LE(v as number)
      return b.subarray(0, 2)
    case 4:
      return u32(v as number)
    case 5:
      b.writeInt32LE(v as number)
      return b.subarray(0, 4)
    case 6:
      b.writeFloatLE(v as number)
      return b.subarray(0, 4)
    case 7:
      return Buffer.from([v ? 1 : 0])
    case 8:
      return str(v as string)
    case 10:
      return u64(v as number | bigint)
    case 11:
      b.writeBigInt64LE(BigInt(v as number))
      return b
    case 12:
      b.writeDoubleLE(v as number)
      return b
  }
  throw new Error(`type ${type}`)
}
function kvBytes(kv: KV): Buffer {
  const parts = [str(kv.key), u32(kv.type)]
  if (kv.type === 9) {
    const items = kv.value as unknown[]
    parts.push(u32(kv.itemType!), u64(items.length), ...items.map((it) => scalar(kv.itemType!, it)))
  } else parts.push(scalar(kv.type, kv.value))
  return Buffer.concat(parts)
}
function writeGguf(
  file: string,
  kvs: KV[],
  tensors: Array<{ name: string; dims: number[]; type: number; data: Buffer }>,
  opts: { version?: number; alignment?: number; magic?: string } = {}
): Buffer {
  const align = opts.alignment ?? 32
  const head = [Buffer.from(opts.magic ?? 'GGUF', 'latin1'), u32(opts.version ?? 3), u64(tensors.length), u64(kvs.length), ...kvs.map(kvBytes)]
  let offset = 0
  const infos: Buffer[] = []
  for (const t of tensors) {
    infos.push(str(t.name), u32(t.dims.length), ...t.dims.map((d) => u64(d)), u32(t.type), u64(offset))
    offset += Math.ceil(t.data.length / align) * align
  }
  let buf = Buffer.concat([...head, ...infos])
  buf = Buffer.concat([buf, Buffer.alloc((align - (buf.length % align)) % align)])
  for (const t of tensors) buf = Buffer.concat([buf, t.data, Buffer.alloc((align - (t.data.length % align)) % align)])
  writeFileSync(file, buf)
  return buf
}

const floats = (xs: number[]): Buffer => Buffer.from(new Float32Array(xs).buffer)

describe('GGUF header, metadata and tensors', () => {
  const file = join(dir, 'kv.gguf')
  const w = floats([1, 2, 3, 4, 5, 6])
  const b = floats([0.5, -0.5])
  writeGguf(
    file,
    [
      { key: 'general.architecture', type: 8, value: 'llama' },
      { key: 'general.alignment', type: 4, value: 64 },
      { key: 'a.u8', type: 0, value: 200 },
      { key: 'a.i8', type: 1, value: -5 },
      { key: 'a.u16', type: 2, value: 65000 },
      { key: 'a.i16', type: 3, value: -300 },
      { key: 'a.i32', type: 5, value: -70000 },
      { key: 'a.f32', type: 6, value: 0.25 },
      { key: 'a.bool', type: 7, value: true },
      { key: 'a.u64', type: 10, value: 2n ** 40n },
      { key: 'a.i64', type: 11, value: -7 },
      { key: 'a.f64', type: 12, value: 1e-300 },
      { key: 'a.strings', type: 9, itemType: 8, value: ['Ġthe', '<|im_start|>', 'é'] },
      { key: 'a.ints', type: 9, itemType: 5, value: [3, -1, 7] }
    ],
    [
      { name: 'w', dims: [3, 2], type: 0, data: w },
      { name: 'b', dims: [2], type: 0, data: b }
    ],
    { alignment: 64 }
  )

  it('reads every value type, arrays, alignment and tensor infos', async () => {
    const h = await readGgufHeader(file)
    expect(h.version).toBe(3)
    expect(h.alignment).toBe(64)
    const m = h.metadata
    expect(m.get('general.architecture')).toBe('llama')
    expect([m.get('a.u8'), m.get('a.i8'), m.get('a.u16'), m.get('a.i16'), m.get('a.i32')]).toEqual([200, -5, 65000, -300, -70000])
    expect(m.get('a.f32')).toBe(0.25)
    expect(m.get('a.bool')).toBe(true)
    expect(m.get('a.u64')).toBe(2 ** 40)
    expect(m.get('a.i64')).toBe(-7)
    expect(m.get('a.f64')).toBe(1e-300)
    expect(m.get('a.strings')).toEqual(['Ġthe', '<|im_start|>', 'é'])
    expect(m.get('a.ints')).toEqual([3, -1, 7])
    expect(h.tensors.map((t) => [t.name, t.dims, t.type, t.offset, t.count, t.bytes])).toEqual([
      ['w', [3, 2], 0, 0, 6, 24],
      ['b', [2], 0, 64, 2, 8]
    ])
    expect(h.dataOffset % 64).toBe(0)
  })

  it('reads tensor data lazily at the data offset', async () => {
    const g = await GgufFile.open(file)
    try {
      const rw = await g.readRaw('w')
      expect(Array.from(new Float32Array(rw.bytes.buffer))).toEqual([1, 2, 3, 4, 5, 6])
      const rb = await g.readRaw('b')
      expect(Array.from(new Float32Array(rb.bytes.buffer))).toEqual([0.5, -0.5])
      await expect(g.readRaw('nope')).rejects.toThrow(/kv\.gguf.*has no tensor "nope"/)
    } finally {
      await g.close()
    }
  })

  it('reads the parity fixture (gguf-py writer) as gguf-py describes it', async () => {
    const ref = JSON.parse(readFileSync(new URL('../fixtures/llm/gguf/logprobs.json', import.meta.url), 'utf8'))
    const tokRef = JSON.parse(readFileSync(new URL('../fixtures/llm/gguf/tokenization.json', import.meta.url), 'utf8'))
    const name = 'tiny-llama256-Kquants.gguf'
    const h = await readGgufHeader(new URL(`../fixtures/llm/gguf/${name}`, import.meta.url).pathname)
    const r = ref.files[name]
    const typeNames: Record<number, string> = { 0: 'F32', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K' }
    for (const t of h.tensors) {
      expect(t.dims).toEqual(r.tensor_shapes[t.name])
      expect(typeNames[t.type]).toBe(r.tensor_types[t.name])
    }
    expect(h.tensors.length).toBe(Object.keys(r.tensor_shapes).length)
    expect(h.fileSize).toBe(r.bytes)
    for (const [key, v] of Object.entries<{ type: string; value?: unknown; count?: number; first?: unknown[] }>(tokRef.metadata[name])) {
      const got = h.metadata.get(key)
      if (v.type === 'array') {
        expect((got as unknown[]).length).toBe(v.count)
        expect((got as unknown[]).slice(0, v.first!.length)).toEqual(v.first)
      } else if (typeof v.value === 'number') expect(got).toBeCloseTo(v.value, 6)
      else expect(got).toEqual(v.value)
    }
  })
})

describe('broken files are clear errors naming the file', () => {
  it('bad magic', async () => {
    const f = join(dir, 'notgguf.bin')
    writeGguf(f, [], [], { magic: 'GGML' })
    await expect(readGgufHeader(f)).rejects.toThrow(/notgguf\.bin" is not a GGUF file \(bad magic "GGML"/)
  })

  it('unsupported version', async () => {
    const f = join(dir, 'v9.gguf')
    writeGguf(f, [], [], { version: 9 })
    await expect(readGgufHeader(f)).rejects.toThrow(/v9\.gguf": unsupported version 9/)
  })

  it('unknown value type', async () => {
    const f = join(dir, 'badtype.gguf')
    const buf = writeGguf(f, [{ key: 'x', type: 4, value: 1 }], [])
    // the value type u32 sits after magic, version, counts and the key
    const at = 4 + 4 + 8 + 8 + 8 + 1
    buf.writeUInt32LE(13, at)
    writeFileSync(f, buf)
    await expect(readGgufHeader(f)).rejects.toThrow(/badtype\.gguf": key "x" at byte \d+ has unknown value type 13/)
  })

  it('truncated in the metadata, and in the tensor data', async () => {
    const f = join(dir, 'trunc.gguf')
    const buf = writeGguf(f, [{ key: 'general.name', type: 8, value: 'a model name' }], [{ name: 'w', dims: [64], type: 0, data: floats(new Array(64).fill(1)) }])
    writeFileSync(f, buf.subarray(0, 40))
    await expect(readGgufHeader(f)).rejects.toThrow(/trunc\.gguf": truncated at byte 40/)
    writeFileSync(f, buf.subarray(0, buf.length - 100))
    await expect(readGgufHeader(f)).rejects.toThrow(/trunc\.gguf": tensor "w" \(F32 \[64\]\) needs bytes \d+–\d+ but the file is truncated at byte \d+/)
  })

  it('a missing file', async () => {
    await expect(readGgufHeader(join(dir, 'absent.gguf'))).rejects.toThrow(GgufError)
    await expect(readGgufHeader(join(dir, 'absent.gguf'))).rejects.toThrow(/absent\.gguf": cannot be opened \(ENOENT\)/)
  })

  it('a quantised tensor whose rows are not whole blocks', async () => {
    const f = join(dir, 'rows.gguf')
    writeGguf(f, [], [{ name: 'q', dims: [40, 2], type: 8, data: Buffer.alloc(96) }])
    await expect(readGgufHeader(f)).rejects.toThrow(/rows\.gguf": tensor "q": a Q8_0 tensor's rows must hold whole blocks of 32 values; this one has rows of 40/)
  })
})
