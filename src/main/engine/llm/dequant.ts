// ggml tensor data → float32, following llama.cpp's ggml/src/ggml-quants.c
// (`dequantize_row_*`) block by block. Every product and sum is rounded to float32 as the C code
// computes it (Math.fround), so the values equal ggml's and gguf-py's bit for bit in the usual
// case (a compiler may contract a·b + c into one fused multiply-add; that differs in the last bit).
//
// Block layouts (little-endian; "d", "m", "dmin" are float16):
//   Q8_0  34 B / 32: d, int8 q[32]                          x = d·q
//   Q4_0  18 B / 32: d, u8 qs[16]                           x = d·(q − 8)
//   Q4_1  20 B / 32: d, m, u8 qs[16]                        x = d·q + m
//   Q5_0  22 B / 32: d, u32 qh, u8 qs[16]                   x = d·(q − 16), q = 4 low bits | 5th bit from qh
//   Q5_1  24 B / 32: d, m, u32 qh, u8 qs[16]                x = d·q + m
//     (4- and 5-bit: byte j holds value j in its low nibble and value j + 16 in its high nibble)
//   Q4_K 144 B / 256: d, dmin, scales[12] (8 × 6-bit scale + 6-bit min), qs[128]
//   Q5_K 176 B / 256: d, dmin, scales[12], qh[32], qs[128]
//   Q6_K 210 B / 256: ql[128], qh[64], int8 scales[16], d
import { GGML_TYPE_ID, ggmlTypeName } from './ggml-types.ts'

export const DEQUANT_TYPES = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q4_K', 'Q5_K', 'Q6_K'] as const

export class UnsupportedTensorType extends Error {
  constructor(
    readonly typeName: string,
    where: string
  ) {
    super(`${where}: tensor type ${typeName} is not supported (supported: ${DEQUANT_TYPES.join(', ')}); convert the model to one of these, e.g. with llama.cpp's llama-quantize`)
    this.name = 'UnsupportedTensorType'
  }
}

const f32 = Math.fround

/** float16 bits → float32, by table (64k entries, built once) */
let halfTable: Float32Array | null = null
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable
  const t = new Float32Array(65536)
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1
    const e = (h >> 10) & 0x1f
    const f = h & 0x3ff
    t[h] = e === 0 ? s * 2 ** -14 * (f / 1024) : e === 31 ? (f ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + f / 1024)
  }
  halfTable = t
  return t
}

export function halfToFloat(h: number): number {
  return halfToFloatTable()[h & 0xffff]
}

/** a little-endian u16 at byte o */
const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8)

/** the 6-bit scale and min of sub-block j from a K-quant's 12 packed bytes at `q` (get_scale_min_k4) */
function scaleMinK4(j: number, b: Uint8Array, q: number): [number, number] {
  if (j < 4) return [b[q + j] & 63, b[q + j + 4] & 63]
  return [(b[q + j + 4] & 0xf) | ((b[q + j - 4] >> 6) << 4), (b[q + j + 4] >> 4) | ((b[q + j] >> 6) << 4)]
}

function deqF16(b: Uint8Array, n: number): Float32Array {
  const t = halfToFloatTable()
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = t[b[2 * i] | (b[2 * i + 1] << 8)]
  return out
}

function deqBF16(b: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n)
  const bits = new Uint32Array(out.buffer)
  for (let i = 0; i < n; i++) bits[i] = (b[2 * i] << 16) | (b[2 * i + 1] << 24)
  return out
}

function deqF32(b: Uint8Array, n: number): Float32Array {
  // copy (the source may be unaligned)
  const out = new Float32Array(n)
  new Uint8Array(out.buffer).set(b.subarray(0, 4 * n))
  return out
}

function deqQ8_0(b: Uint8Array, n: number): Float32Array {
  const t = halfToFloatTable()
  const out = new Float32Array(n)
  for (let i = 0, o = 0; i < n; i += 32, o += 34) {
    const d = t[u16(b, o)]
    for (let j = 0; j < 32; j++) {
      const q = b[o + 2 + j]
      out[i + j] = d * (q > 127 ? q - 256 : q)
    }
  }
  return out
}

function deqQ4_0(b: Uint8Array, n: number): Float32Array {
  const t = halfToFloatTable()
  const out = new Float32Array(n)
  for (let i = 0, o = 0; i < n; i += 32, o += 18) {
    const d = t[u16(b, o)]
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j]
      out[i + j] = ((q & 0xf) - 8) * d
      out[i + j + 16] = ((q >> 4) - 8) * d
    }
  }
  return out
}

function deqQ4_1(b: Uint8Array, n: number): Float32Array {
  const t = halfToFloatTable()
  const out = new Float32Array(n)
  for (let i = 0, o = 0; i < n; i += 32, o += 20) {
    const d = t[u16(b, o)]
    const m = t[u16(b, o + 2)]
    for (let j = 0; j < 16; j++) {
      const q = b[o + 4 + j]
      out[i + j] = f32((q & 0xf) * d) + m
      out[i + j + 16] = f32((q >> 4) * d) + m
    }
  }
  return out
}

function deqQ5_0(b: Uint8Array, n: number): Float32Array {
  const t = halfToFloatTable()
  const out = new Float32Array(n)
  for (let i = 0, o = 0; i < n; i += 32, o += 22) {
    const d = t[u16(b, o)]
    const qh = (b[o + 2] | (b[o + 3] << 8) | (b[o + 4] << 16) | (b[o + 5] << 24)) >>> 0
    for (let j = 0; j < 16; j++) {
      const q = b[o + 6 + j]
      const h0 = ((qh >>> j) << 4) & 0x10
      const h1 = (qh >>> (j + 12)) & 0x10
      out[i + j] = (((q & 0xf) | h0) - 16) * d
      out[i + j + 16] = (((q >> 4) | h1) - 16) * d
    }
  }
  return out
}

function deqQ5_1(b: Uint8Array, n: number): Float32Array {
  const t = halfToFloatTable()
  const out = new Float32Array(n)
  for (let i = 0, o = 0; i < n; i += 32, o += 24) {
    const d = t[u16(b, o)]
    const m = t[u16(b, o + 2)]
    const qh = (b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24)) >>> 0
    for (let j = 0; j < 16; j++) {
      const q = b[o + 8 + j]
      const h0 = ((qh >>> j) << 4) & 0x10
      const h1 = (qh >>> (j + 12)) & 0x10
      out[i + j] = f32(((q & 0xf) | h0) * d) + m
      out[i + j + 16] = f32(((q >> 4) | h1) * d) + m
    }
  }
  return out
}

/** Q4_K and Q5_K: 256 values in 8 sub-blocks of 32, each with a 6-bit scale and min
 *  (scaleMinK4); Q5_K adds a fifth bit per value from a 32-byte plane `qh` (bit 2j / 2j+1 of
 *  byte l for the j-th pair of sub-blocks). Q4_K blocks are 144 bytes, Q5_K 176. */
function deqKScaleMin(b: Uint8Array, n: number, fiveBit: boolean): Float32Array {
  const t = halfToFloatTable()
  const out = new Float32Array(n)
  const blockBytes = fiveBit ? 176 : 144
  for (let i = 0, o = 0; i < n; i += 256, o += blockBytes) {
    const d = t[u16(b, o)]
    const min = t[u16(b, o + 2)]
    const sc = o + 4
    const qh = o + 16 // Q5_K only
    let ql = fiveBit ? o + 48 : o + 16
    let y = i
    let u1 = 1
    let u2 = 2
    for (let j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
      const [s1, m1raw] = scaleMinK4(is, b, sc)
      const [s2, m2raw] = scaleMinK4(is + 1, b, sc)
      const d1 = f32(d * s1)
      const m1 = f32(min * m1raw)
      const d2 = f32(d * s2)
      const m2 = f32(min * m2raw)
      if (fiveBit) {
        for (let l = 0; l < 32; l++) out[y++] = f32(d1 * ((b[ql + l] & 0xf) + (b[qh + l] & u1 ? 16 : 0))) - m1
        for (let l = 0; l < 32; l++) out[y++] = f32(d2 * ((b[ql + l] >> 4) + (b[qh + l] & u2 ? 16 : 0))) - m2
      } else {
        for (let l = 0; l < 32; l++) out[y++] = f32(d1 * (b[ql + l] & 0xf)) - m1
        for (let l = 0; l < 32; l++) out[y++] = f32(d2 * (b[ql + l] >> 4)) - m2
      }
    }
  }
  return out
}

function deqQ6_K(b: Uint8Array, n: number): Float32Array {
  const t = halfToFloatTable()
  const out = new Float32Array(n)
  const s8 = (v: number): number => (v > 127 ? v - 256 : v)
  for (let i = 0, o = 0; i < n; i += 256, o += 210) {
    const d = t[u16(b, o + 208)]
    let ql = o
    let qh = o + 128
    let sc = o + 192
    let y = i
    for (let k = 0; k < 256; k += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (let l = 0; l < 32; l++) {
        const is = l >> 4
        const h = b[qh + l]
        const q1 = ((b[ql + l] & 0xf) | ((h & 3) << 4)) - 32
        const q2 = ((b[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32
        const q3 = ((b[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32
        const q4 = ((b[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32
        out[y + l] = f32(d * s8(b[sc + is])) * q1
        out[y + l + 32] = f32(d * s8(b[sc + is + 2])) * q2
        out[y + l + 64] = f32(d * s8(b[sc + is + 4])) * q3
        out[y + l + 96] = f32(d * s8(b[sc + is + 6])) * q4
      }
    }
  }
  return out
}

const KERNELS: Record<string, (b: Uint8Array, n: number) => Float32Array> = {
  F32: deqF32,
  F16: deqF16,
  BF16: deqBF16,
  Q8_0: deqQ8_0,
  Q4_0: deqQ4_0,
  Q4_1: deqQ4_1,
  Q5_0: deqQ5_0,
  Q5_1: deqQ5_1,
  Q4_K: (b, n) => deqKScaleMin(b, n, false),
  Q5_K: (b, n) => deqKScaleMin(b, n, true),
  Q6_K: deqQ6_K
}

const BLOCK: Record<string, [number, number]> = {
  F32: [1, 4],
  F16: [1, 2],
  BF16: [1, 2],
  Q8_0: [32, 34],
  Q4_0: [32, 18],
  Q4_1: [32, 20],
  Q5_0: [32, 22],
  Q5_1: [32, 24],
  Q4_K: [256, 144],
  Q5_K: [256, 176],
  Q6_K: [256, 210]
}

/**
 * `count` values of ggml type `type` (id or name) from `bytes` as float32. `where` names the
 * file and tensor in errors (an unsupported type, too few bytes, a count that is not whole blocks).
 */
export function dequantize(type: number | string, bytes: Uint8Array, count: number, where = 'tensor'): Float32Array {
  const name = typeof type === 'number' ? ggmlTypeName(type) : type
  const kernel = KERNELS[name]
  if (!kernel || (typeof type === 'number' && GGML_TYPE_ID[name] !== type)) throw new UnsupportedTensorType(name, where)
  const [bs, ts] = BLOCK[name]
  if (count % bs !== 0) throw new Error(`${where}: ${count} values is not a whole number of ${name} blocks of ${bs}`)
  const need = (count / bs) * ts
  if (bytes.length < need) throw new Error(`${where}: ${name} data of ${count} values needs ${need} bytes, got ${bytes.length}`)
  return kernel(bytes, count)
}
