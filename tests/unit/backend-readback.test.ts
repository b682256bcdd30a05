// readBack / readBackRows: typed arrays out, rows as views of one read, tensors freed on request.
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { initBackend, readBack, readBackAll, readBackRows } from '../../src/main/engine/backend/index.ts'

describe('read-back helpers', () => {
  it('reads values, rows as zero-copy views, and disposes when asked', async () => {
    await initBackend('wasm')
    const before = tf.memory().numTensors
    const t = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2])
    const rows = readBackRows(t)
    expect(rows.map((r) => Array.from(r))).toEqual([
      [1, 2],
      [3, 4],
      [5, 6]
    ])
    expect(rows[1].buffer).toBe(rows[0].buffer) // one read, views into it
    expect(Array.from(readBack(t, { dispose: true }))).toEqual([1, 2, 3, 4, 5, 6])
    expect(t.isDisposed).toBe(true)
    const [a, b] = readBackAll([tf.scalar(7), tf.tensor1d([8, 9], 'int32')], { dispose: true })
    expect(Array.from(a)).toEqual([7])
    expect(b).toBeInstanceOf(Int32Array)
    expect(tf.memory().numTensors).toBe(before)
    expect(() => readBackRows(tf.tensor1d([1]))).toThrow(/2-D/)
  })
})
