// The TensorFlow.js export: manifest layout, round trip, and tfjs's own decoder reads it.
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { decodeTfjs, encodeTfjs, TFJS_WEIGHTS_FILE } from '../../src/main/export/tfjs-format.ts'

const tensors = [
  { name: 'categorical/W0', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
  { name: 'categorical/b0', shape: [3], data: new Float32Array([-1, 0.5, 0]) }
]

describe('tfjs format', () => {
  it('writes a manifest with names, shapes and float32, and the weights back to back', () => {
    const { modelJson, weights } = encodeTfjs(tensors, { spec: { kind: 'categorical', obsDim: 2, actDim: 3, hidden: [] }, generatedBy: 'test' })
    expect(modelJson.format).toBe('iwsft-policy')
    expect(modelJson.generatedBy).toBe('test')
    expect(modelJson.modelTopology).toEqual({ class_name: 'IwsftPolicy', config: { kind: 'categorical', obsDim: 2, actDim: 3, hidden: [] } })
    expect(modelJson.weightsManifest).toEqual([
      {
        paths: [TFJS_WEIGHTS_FILE],
        weights: [
          { name: 'categorical/W0', shape: [2, 3], dtype: 'float32' },
          { name: 'categorical/b0', shape: [3], dtype: 'float32' }
        ]
      }
    ])
    expect(weights.byteLength).toBe(9 * 4)
    // 1.0f little-endian first, then -1.0f (0xBF800000) at the start of b0
    expect(Array.from(weights.subarray(0, 4))).toEqual([0, 0, 0x80, 0x3f])
    expect(Array.from(weights.subarray(24, 28))).toEqual([0, 0, 0x80, 0xbf])
  })

  it('round-trips through our reader', () => {
    const { modelJson, weights } = encodeTfjs(tensors, { generatedBy: 'test' })
    expect(modelJson.modelTopology).toBeNull()
    const back = decodeTfjs(JSON.parse(JSON.stringify(modelJson)), (p) => {
      expect(p).toBe(TFJS_WEIGHTS_FILE)
      return weights
    })
    expect(back).toEqual(tensors)
  })

  it('tf.io.decodeWeights and tf.io.weightsLoaderFactory read the manifest and shard', async () => {
    const { modelJson, weights } = encodeTfjs(tensors, { generatedBy: 'test' })
    const ab = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer
    const map = tf.io.decodeWeights(ab, modelJson.weightsManifest[0].weights)
    expect(Object.keys(map)).toEqual(['categorical/W0', 'categorical/b0'])
    expect(map['categorical/W0'].shape).toEqual([2, 3])
    expect(Array.from(map['categorical/W0'].dataSync())).toEqual([1, 2, 3, 4, 5, 6])
    expect(Array.from(map['categorical/b0'].dataSync())).toEqual([-1, 0.5, 0])
    Object.values(map).forEach((t) => t.dispose())
    const load = tf.io.weightsLoaderFactory(async (urls) => {
      expect(urls).toEqual([`dir/${TFJS_WEIGHTS_FILE}`])
      return [ab]
    })
    const loaded = await load(modelJson.weightsManifest, 'dir')
    expect(Array.from(loaded['categorical/b0'].dataSync())).toEqual([-1, 0.5, 0])
    Object.values(loaded).forEach((t) => t.dispose())
  })

  it('reads a manifest whose weights are split over two shards', () => {
    const { modelJson, weights } = encodeTfjs(tensors, { generatedBy: 'test' })
    modelJson.weightsManifest[0].paths = ['s1.bin', 's2.bin']
    const parts: Record<string, Uint8Array> = { 's1.bin': weights.subarray(0, 10), 's2.bin': weights.subarray(10) }
    expect(decodeTfjs(modelJson, (p) => parts[p])).toEqual(tensors)
  })

  it('refuses a shard of the wrong size, a non-float32 weight and a file without a manifest', () => {
    const { modelJson, weights } = encodeTfjs(tensors, { generatedBy: 'test' })
    expect(() => decodeTfjs(modelJson, () => weights.subarray(0, 20))).toThrow(/runs past the end/)
    const extra = new Uint8Array(weights.byteLength + 4)
    extra.set(weights)
    expect(() => decodeTfjs(modelJson, () => extra)).toThrow(/holds 40 bytes, the manifest describes 36/)
    const int = JSON.parse(JSON.stringify(modelJson))
    int.weightsManifest[0].weights[0].dtype = 'int32'
    expect(() => decodeTfjs(int, () => weights)).toThrow(/int32/)
    expect(() => decodeTfjs({ format: 'x' }, () => weights)).toThrow(/no "weightsManifest"/)
    expect(() => encodeTfjs([tensors[0], tensors[0]], { generatedBy: 't' })).toThrow(/two tensors/)
  })
})
