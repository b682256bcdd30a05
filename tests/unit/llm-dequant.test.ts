// ggml dequantisation against gguf-py's (tests/fixtures/llm/quant/vectors.json, written by the
// parity script) and against blocks worked out by hand from the format description.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DEQUANT_TYPES, UnsupportedTensorType, dequantize, halfToFloat } from '../../src/main/engine/llm/dequant.ts'
import { GGML_TYPE_ID } from '../../src/main/engine/llm/ggml-types.ts'

interface Case {
  case: string
  n_values: number
  bytes_b64: string
  values_f32le_b64: string
}
const vectors = JSON.parse(readFileSync(new URL('../fixtures/llm/quant/vectors.json', import.meta.url), 'utf8')) as {
  types: Array<{ type: string; ggml_type: number; cases: Case[] }>
}

const f32s = (b64: string): Float32Array => {
  const b = Buffer.from(b64, 'base64')
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}

describe('dequantisation equals gguf-py on every block format', () => {
  it('covers every type the engine reads', () => {
    expect(vectors.types.map((t) => t.type).sort()).toEqual([...DEQUANT_TYPES].sort())
  })
  for (const t of vectors.types) {
    for (const c of t.cases) {
      it(`${t.type} ${c.case}`, () => {
        const bytes = new Uint8Array(Buffer.from(c.bytes_b64, 'base64'))
        const want = f32s(c.values_f32le_b64)
        const got = dequantize(t.ggml_type, bytes, c.n_values)
        expect(got.length).toBe(want.length)
        expect(GGML_TYPE_ID[t.type]).toBe(t.ggml_type)
        // bit for bit (products and sums rounded to float32 as ggml and numpy round them)
        let differ = 0
        for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) differ++
        expect(differ).toBe(0)
      })
    }
  }
})

// f16 bit patterns: 1.0 = 0x3c00, 0.5 = 0x3800, 2.0 = 0x4000, −0.25 = 0xb400
const le16 = (h: number): number[] => [h & 0xff, h >> 8]

describe('blocks worked out by hand', () => {
  it('reads float16 scales', () => {
    expect(halfToFloat(0x3c00)).toBe(1)
    expect(halfToFloat(0xb400)).toBe(-0.25)
    expect(halfToFloat(0x0001)).toBe(2 ** -24)
    expect(halfToFloat(0x7c00)).toBe(Infinity)
  })

  it('Q8_0: x = d·q', () => {
    const q = Array.from({ length: 32 }, (_, j) => j - 16) // −16 … 15 as int8
    const block = new Uint8Array([...le16(0x3800), ...q.map((v) => v & 0xff)])
    const x = dequantize('Q8_0', block, 32)
    expect(Array.from(x)).toEqual(q.map((v) => v * 0.5))
  })

  it('Q4_0: byte j holds value j (low nibble) and j + 16 (high nibble), x = d·(q − 8)', () => {
    const block = new Uint8Array(18)
    block.set(le16(0x4000)) // d = 2
    for (let j = 0; j < 16; j++) block[2 + j] = (j & 0xf) | ((15 - j) << 4)
    const x = dequantize('Q4_0', block, 32)
    for (let j = 0; j < 16; j++) {
      expect(x[j]).toBe(2 * (j - 8))
      expect(x[j + 16]).toBe(2 * (15 - j - 8))
    }
  })

  it('Q4_1: x = d·q + m', () => {
    const block = new Uint8Array(20)
    block.set(le16(0x3800)) // d = 0.5
    block.set(le16(0xb400), 2) // m = −0.25
    block[4] = 0xf3 // value 0 → 3, value 16 → 15
    const x = dequantize('Q4_1', block, 32)
    expect(x[0]).toBe(0.5 * 3 - 0.25)
    expect(x[16]).toBe(0.5 * 15 - 0.25)
    expect(x[1]).toBe(-0.25)
  })

  it('Q5_0: the fifth bit of value j is bit j of qh, of value j + 16 bit j + 16; x = d·(q − 16)', () => {
    const block = new Uint8Array(22)
    block.set(le16(0x3c00)) // d = 1
    const qh = (1 << 0) | (1 << 17) // value 0 and value 17 have their fifth bit
    block[2] = qh & 0xff
    block[3] = (qh >> 8) & 0xff
    block[4] = (qh >> 16) & 0xff
    block[5] = (qh >>> 24) & 0xff
    block[6] = 0x21 // value 0: 1 | 16 = 17; value 16: 2
    block[7] = 0x43 // value 1: 3; value 17: 4 | 16 = 20
    const x = dequantize('Q5_0', block, 32)
    expect(x[0]).toBe(17 - 16)
    expect(x[16]).toBe(2 - 16)
    expect(x[1]).toBe(3 - 16)
    expect(x[17]).toBe(20 - 16)
  })

  it('Q5_1: x = d·q + m with 5-bit q', () => {
    const block = new Uint8Array(24)
    block.set(le16(0x4000)) // d = 2
    block.set(le16(0x3c00), 2) // m = 1
    block[4] = 0x01 // qh bit 0: value 0 gets 16
    block[8] = 0x0f // value 0: 15 | 16 = 31
    const x = dequantize('Q5_1', block, 32)
    expect(x[0]).toBe(2 * 31 + 1)
    expect(x[16]).toBe(1)
  })

  // K-quant 6-bit scales: sub-blocks 0–3 in the low 6 bits of bytes 0–3 (scales) and 4–7 (mins);
  // sub-blocks 4–7: low 4 bits in bytes 8–11 (scale low nibble, min high nibble), top 2 bits in
  // the top bits of bytes 0–3 (scales) and 4–7 (mins)
  function packScales(sc: number[], mn: number[]): number[] {
    const b = new Array(12).fill(0)
    for (let j = 0; j < 4; j++) {
      b[j] = sc[j] | ((sc[j + 4] >> 4) << 6)
      b[j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6)
      b[j + 8] = (sc[j + 4] & 0xf) | ((mn[j + 4] & 0xf) << 4)
    }
    return b
  }

  it('Q4_K: 8 sub-blocks of 32, x = d·sc·q − dmin·m', () => {
    const sc = [1, 2, 3, 63, 5, 17, 33, 63]
    const mn = [0, 1, 63, 2, 4, 16, 40, 63]
    const block = new Uint8Array(144)
    block.set(le16(0x3800)) // d = 0.5
    block.set(le16(0x4000), 2) // dmin = 2
    block.set(packScales(sc, mn), 4)
    // quants: 32 bytes per 64 values, low nibbles first sub-block, high nibbles the next
    const q = Array.from({ length: 256 }, (_, i) => (i * 7 + 3) % 16)
    for (let g = 0; g < 4; g++) for (let l = 0; l < 32; l++) block[16 + 32 * g + l] = q[64 * g + l] | (q[64 * g + 32 + l] << 4)
    const x = dequantize('Q4_K', block, 256)
    for (let i = 0; i < 256; i++) {
      const s = Math.floor(i / 32)
      expect(x[i]).toBe(Math.fround(0.5 * sc[s] * q[i] - 2 * mn[s]))
    }
  })

  it('Q5_K: the fifth bit of value l in sub-block pair g is bit 2g (low half) or 2g + 1 (high half) of qh[l]', () => {
    const sc = [1, 2, 3, 4, 5, 6, 7, 8]
    const mn = [8, 7, 6, 5, 4, 3, 2, 1]
    const block = new Uint8Array(176)
    block.set(le16(0x3c00)) // d = 1
    block.set(le16(0x3800), 2) // dmin = 0.5
    block.set(packScales(sc, mn), 4)
    const q = Array.from({ length: 256 }, (_, i) => (i * 11 + 5) % 32)
    for (let g = 0; g < 4; g++) {
      for (let l = 0; l < 32; l++) {
        const lo = q[64 * g + l]
        const hi = q[64 * g + 32 + l]
        block[48 + 32 * g + l] = (lo & 0xf) | ((hi & 0xf) << 4)
        block[16 + l] |= ((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1))
      }
    }
    const x = dequantize('Q5_K', block, 256)
    for (let i = 0; i < 256; i++) {
      const s = Math.floor(i / 32)
      expect(x[i]).toBe(Math.fround(sc[s] * q[i] - 0.5 * mn[s]))
    }
  })

  it('Q6_K: 16 sub-blocks of 16 with int8 scales, x = d·sc·(q − 32)', () => {
    const scales = Array.from({ length: 16 }, (_, i) => (i % 2 ? -1 : 1) * (i + 1))
    const q = Array.from({ length: 256 }, (_, i) => (i * 13 + 1) % 64)
    const block = new Uint8Array(210)
    // per 128 values: ql 64 bytes (values l and l+64 share byte l; l+32 and l+96 byte l+32), qh 32 bytes
    for (let h = 0; h < 2; h++) {
      const v = (k: number): number => q[128 * h + k]
      for (let l = 0; l < 32; l++) {
        block[64 * h + l] = (v(l) & 0xf) | ((v(l + 64) & 0xf) << 4)
        block[64 * h + l + 32] = (v(l + 32) & 0xf) | ((v(l + 96) & 0xf) << 4)
        block[128 + 32 * h + l] = (v(l) >> 4) | ((v(l + 32) >> 4) << 2) | ((v(l + 64) >> 4) << 4) | ((v(l + 96) >> 4) << 6)
      }
    }
    scales.forEach((s, i) => (block[192 + i] = s & 0xff))
    block.set(le16(0x3800), 208) // d = 0.5
    const x = dequantize('Q6_K', block, 256)
    for (let i = 0; i < 256; i++) expect(x[i]).toBe(0.5 * scales[Math.floor(i / 16)] * (q[i] - 32))
  })
})

describe('bad input', () => {
  it('names an unsupported type and lists the supported ones', () => {
    expect(() => dequantize(10, new Uint8Array(84), 256, 'GGUF file "m.gguf", tensor "blk.0.attn_q.weight"')).toThrow(UnsupportedTensorType)
    expect(() => dequantize(10, new Uint8Array(84), 256, 'GGUF file "m.gguf"')).toThrow(
      /m\.gguf.*Q2_K is not supported \(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K\)/
    )
    expect(() => dequantize(20, new Uint8Array(18), 32)).toThrow(/IQ4_NL/)
  })

  it('refuses too few bytes and partial blocks', () => {
    expect(() => dequantize('Q4_0', new Uint8Array(17), 32)).toThrow(/needs 18 bytes/)
    expect(() => dequantize('Q8_0', new Uint8Array(68), 48)).toThrow(/whole number of Q8_0 blocks/)
  })
})
