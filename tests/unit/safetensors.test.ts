// safetensors against a file laid out by hand, round trips, and the reader's checks.
import { describe, expect, it } from 'vitest'
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from '../../src/main/export/safetensors.ts'

/** Build a safetensors buffer from a header string and raw data bytes, exactly as given. */
function handBuilt(header: string, data: number[]): Uint8Array {
  const h = Buffer.from(header, 'utf8')
  const out = new Uint8Array(8 + h.length + data.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true)
  out.set(h, 8)
  out.set(data, 8 + h.length)
  return out
}

describe('safetensors', () => {
  it('one tensor [2] of [1, 2] has the byte layout worked out by hand', () => {
    const bytes = encodeSafetensors([{ name: 'a', shape: [2], data: new Float32Array([1, 2]) }])
    // header JSON: 54 bytes; 8 + 54 = 62 → two spaces of padding so the data starts at byte 64
    const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    expect(json.length).toBe(54)
    expect(bytes.length).toBe(72)
    // u64 little-endian header length N = 56
    expect(Array.from(bytes.subarray(0, 8))).toEqual([56, 0, 0, 0, 0, 0, 0, 0])
    expect(Buffer.from(bytes.subarray(8, 64)).toString('utf8')).toBe(json + '  ')
    // 1.0f = 0x3F800000, 2.0f = 0x40000000, little-endian
    expect(Array.from(bytes.subarray(64))).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40])
    // and the reader gets the same tensor back
    const dec = decodeSafetensors(bytes)
    expect(dec.tensors).toEqual([{ name: 'a', shape: [2], data: new Float32Array([1, 2]) }])
    expect(dec.metadata).toEqual({})
  })

  it('reads a file built by hand (the same bytes)', () => {
    const buf = handBuilt('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ', [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40])
    expect(decodeSafetensors(buf).tensors[0].data).toEqual(new Float32Array([1, 2]))
  })

  it('every data start is 8-byte aligned and metadata is a string map', () => {
    for (const name of ['w', 'ww', 'www', 'layer/W0', 'é']) {
      const b = encodeSafetensors([{ name, shape: [1, 3], data: new Float32Array([0.5, -1, 3]) }], { architecture: '{"kind":"categorical"}', step: '60' })
      const n = Number(new DataView(b.buffer).getBigUint64(0, true))
      expect((8 + n) % 8).toBe(0)
      const dec = decodeSafetensors(b)
      expect(dec.metadata).toEqual({ architecture: '{"kind":"categorical"}', step: '60' })
      expect(dec.tensors[0]).toEqual({ name, shape: [1, 3], data: new Float32Array([0.5, -1, 3]) })
    }
    expect(() => encodeSafetensors([], { step: 60 as unknown as string })).toThrow(/must be a string/)
  })

  it('round-trips several tensors in order, scalars and empty tensors included', () => {
    const ts = [
      { name: 'm/W0', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      { name: 'm/b0', shape: [3], data: new Float32Array([-0.25, 1e-30, 3.4e38]) },
      { name: 's', shape: [], data: new Float32Array([7]) },
      { name: 'e', shape: [0, 4], data: new Float32Array(0) }
    ]
    const dec = decodeSafetensors(encodeSafetensors(ts, { k: 'v' }))
    expect(dec.tensors).toEqual(ts)
  })

  it('widens F16, BF16 and F64 to float32', () => {
    const f16 = handBuilt('{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', [0x00, 0x3c, 0x00, 0xc0]) // 1, -2
    expect(Array.from(decodeSafetensors(f16).tensors[0].data)).toEqual([1, -2])
    const bf16 = handBuilt('{"b":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}', [0x80, 0x3f]) // 1
    expect(Array.from(decodeSafetensors(bf16).tensors[0].data)).toEqual([1])
    const f64 = new Uint8Array(8)
    new DataView(f64.buffer).setFloat64(0, 0.5, true)
    const d = handBuilt('{"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}', Array.from(f64))
    expect(Array.from(decodeSafetensors(d).tensors[0].data)).toEqual([0.5])
  })

  it('refuses broken files with a message that says what is wrong', () => {
    expect(() => decodeSafetensors(new Uint8Array(3))).toThrow(/too short/)
    expect(() => decodeSafetensors(handBuilt('[1]', []))).toThrow(/does not start with "\{"/)
    expect(() => decodeSafetensors(handBuilt('{"a":', []))).toThrow(/not valid JSON/)
    const long = handBuilt('{}', [])
    new DataView(long.buffer).setBigUint64(0, 1000n, true)
    expect(() => decodeSafetensors(long)).toThrow(/runs past the end/)
    expect(() => decodeSafetensors(handBuilt('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [0, 0, 0, 0]))).toThrow(/outside the 4-byte data buffer/)
    expect(() => decodeSafetensors(handBuilt('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Array(8).fill(0)))).toThrow(/needs 12 bytes/)
    // a hole between tensors
    expect(() => decodeSafetensors(handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', new Array(12).fill(0)))).toThrow(
      /starts at byte 8, expected 4/
    )
    // trailing bytes no tensor covers
    expect(() => decodeSafetensors(handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Array(8).fill(0)))).toThrow(/cover 4 bytes of a 8-byte/)
    expect(() => decodeSafetensors(handBuilt('{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', new Array(8).fill(0)))).toThrow(/dtype I64/)
    expect(() => decodeSafetensors(handBuilt('{"__metadata__":{"a":1}}', []))).toThrow(/__metadata__.a must be a string/)
  })

  it('the writer refuses duplicate names, a tensor called __metadata__ and a wrong value count', () => {
    const t = { name: 'x', shape: [1], data: new Float32Array([1]) }
    expect(() => encodeSafetensors([t, t])).toThrow(SafetensorsError)
    expect(() => encodeSafetensors([{ ...t, name: '__metadata__' }])).toThrow(/__metadata__/)
    expect(() => encodeSafetensors([{ ...t, shape: [2] }])).toThrow(/2 values\) but 1 values/)
  })
})
