// Checkpoint export end to end: a real run's checkpoint and a multi-layer policy's checkpoint
// go out as safetensors and TensorFlow.js, come back, and give the same log-probs; the
// metadata records architecture, config, data hash, backend and versions; the CLI refuses to
// overwrite and refuses paths outside the chosen folder.
import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../../src/shared/config.ts'
import { executeRun } from '../../src/main/jobs/execute-run.ts'
import { openProject } from '../../src/main/store/index.ts'
import type { ProjectStore } from '../../src/main/store/types.ts'
import { exportCheckpoint, loadExport, policyFromExport } from '../../src/main/export/checkpoint-export.ts'
import { decodeSafetensors } from '../../src/main/export/safetensors.ts'
import { policyFromSpec } from '../../src/main/engine/policies/index.ts'
import { readWeights, writeWeights, type Batch, type Policy } from '../../src/main/engine/policies/policy.ts'
import { findCheckpoint, loadCheckpoint, saveCheckpoint } from '../../src/main/jobs/checkpoints.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { TransformerPolicy } from '../../src/main/engine/policies/transformer.ts'
import { cmdExport } from '../../src/main/cli/commands/export.ts'
import { UsageError } from '../../src/main/cli/args.ts'
import { quickBandit } from '../helpers/configs.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-export-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const quick = quickBandit

/** log π on a fixed batch: B=3 traces × T=2 steps */
function logProbsOn(p: Policy): Float32Array {
  const { obsDim, actDim, kind } = p.spec
  const B = 3
  const T = 2
  const rng = new Rng(99)
  const obs =
    obsDim > 0
      ? tf.tensor3d(
          Float32Array.from({ length: B * T * obsDim }, () => rng.normal()),
          [B, T, obsDim]
        )
      : null
  const actions =
    kind === 'gaussian-mlp'
      ? tf.tensor3d(
          Float32Array.from({ length: B * T * actDim }, () => rng.next() * 1.6 - 0.8),
          [B, T, actDim]
        )
      : tf.tensor2d(
          Int32Array.from({ length: B * T }, (_, i) => i % actDim),
          [B, T],
          'int32'
        )
  const batch: Batch = { B, T, obs, actions, mask: tf.ones([B, T]) as tf.Tensor2D, traceIndex: Int32Array.from([0, 1, 2]) }
  const lp = p.logProbs(batch)
  const out = lp.dataSync() as Float32Array
  lp.dispose()
  obs?.dispose()
  actions.dispose()
  batch.mask.dispose()
  return Float32Array.from(out)
}

/** The policy as the training loop itself restores it from the store. */
function originalPolicy(store: ProjectStore, runId: number): Policy {
  return loadCheckpoint(store, findCheckpoint(store, runId)).policy
}

let store: ProjectStore
let banditRun: number
let mlpRun: number

beforeAll(async () => {
  store = openProject(join(dir, 'p.iwsft'))
  const end = await executeRun(store, quick({ seed: 4 }))
  expect(end.status).toBe('completed')
  banditRun = end.runId
  // a Gaussian MLP with two hidden layers (7 tensors), stored as a checkpoint of a run row
  const spec = { kind: 'gaussian-mlp', obsDim: 3, actDim: 2, hidden: [5, 4], logStdMin: -5, logStdMax: 2 }
  const p = policyFromSpec(spec, new Rng(7))
  // move the weights off their initial values so zeros (biases, log-std) are not all that is checked
  const w = readWeights(p).map((t, i) => ({ ...t, data: t.data.map((v, j) => v + 0.01 * ((i + j) % 5) - 0.02) }))
  writeWeights(p, w)
  const cfg = { ...defaultConfig('control'), backend: 'cpu' as const }
  mlpRun = store.createRun({ name: 'mlp', config: cfg, datasetId: null, dataHash: 'feedfacefeedfacefeedfacefeedface', backend: 'cpu', versions: { tfjs: '4.22.0' } })
  // one checkpoint in the store's first layout (spec = policy spec, tensors = θ), one resumable
  // checkpoint as the training loop writes it (θ, Adam moments and θ_q beside it)
  store.putCheckpoint(mlpRun, 120, readWeights(p), p.spec, { loss: 1.5 })
  const zeros = readWeights(p).map((t) => new Float32Array(t.data.length))
  saveCheckpoint(store, mlpRun, p, { step: 240, rngState: 1, adam: { t: 240, m: zeros, v: zeros }, q: zeros }, null, { loss: 1.25 })
  store.setRunStatus(mlpRun, 'completed')
  p.dispose()
})
afterAll(() => store?.close())

describe('checkpoint export', () => {
  for (const format of ['safetensors', 'tfjs'] as const) {
    it(`${format}: export → reload → same log-probs (bandit run and 2-hidden-layer Gaussian MLP)`, async () => {
      for (const runId of [banditRun, mlpRun]) {
        const out = join(dir, `${format}-${runId}`)
        const res = await exportCheckpoint(store, runId, { format, outDir: out })
        expect(res.files.length).toBe(format === 'tfjs' ? 2 : 1)
        expect(readdirSync(out).sort()).toEqual(format === 'tfjs' ? ['group1-shard1of1.bin', 'model.json'] : ['model.safetensors'])
        const loaded = loadExport(out)
        expect(loaded.format).toBe(format)
        const orig = originalPolicy(store, runId)
        const back = policyFromExport(loaded)
        const a = logProbsOn(orig)
        const b = logProbsOn(back)
        expect(Array.from(b)).toEqual(Array.from(a))
        // the tensors are bit-identical, in the policy's order
        expect(loaded.tensors.map((t) => Array.from(t.data))).toEqual(readWeights(orig).map((t) => Array.from(t.data)))
        orig.dispose()
        back.dispose()
      }
    })
  }

  it('safetensors metadata records architecture, run config, data hash, backend, versions and the tensor order', async () => {
    const out = join(dir, 'meta')
    await exportCheckpoint(store, banditRun, { format: 'safetensors', outDir: out })
    const dec = decodeSafetensors(readFileSync(join(out, 'model.safetensors')))
    const m = dec.metadata
    for (const k of ['architecture', 'tokenizer', 'run_config', 'data_hash', 'backend', 'versions', 'tensor_order', 'step', 'seed', 'method', 'layout']) {
      expect(typeof m[k], k).toBe('string')
    }
    const run = store.getRun(banditRun)!
    expect(JSON.parse(m.architecture)).toMatchObject({ kind: 'categorical', obsDim: 0, actDim: 2 })
    expect(JSON.parse(m.run_config)).toEqual(run.config)
    expect(m.data_hash).toBe(run.dataHash)
    expect(m.backend).toBe('cpu')
    expect(JSON.parse(m.versions).tfjs).toBeTruthy()
    expect(m.tokenizer).toBe('null')
    expect(JSON.parse(m.tensor_order)).toEqual(['categorical/logits'])
    expect(Object.keys(dec.header)).toEqual(['categorical/logits'])
    // tfjs: the same facts in model.json
    const t = join(dir, 'meta-tfjs')
    await exportCheckpoint(store, mlpRun, { format: 'tfjs', outDir: t, step: 120 })
    const mj = JSON.parse(readFileSync(join(t, 'model.json'), 'utf8'))
    expect(mj.modelTopology.config).toMatchObject({ kind: 'gaussian-mlp', hidden: [5, 4] })
    expect(mj.userDefinedMetadata).toMatchObject({ step: 120, data_hash: 'feedfacefeedfacefeedfacefeedface', backend: 'cpu', metrics: { loss: 1.5 } })
    expect(mj.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual([
      'gaussian/W0',
      'gaussian/b0',
      'gaussian/W1',
      'gaussian/b1',
      'gaussian/W2',
      'gaussian/b2',
      'gaussian/log_std'
    ])
  })

  it('a tokenizer.json given to the export travels beside the weights', async () => {
    const tok = { version: '1.0', model: { type: 'WordLevel', vocab: { a: 0, b: 1 } } }
    const out = join(dir, 'tok')
    const res = await exportCheckpoint(store, banditRun, { format: 'safetensors', outDir: out, tokenizer: tok })
    expect(res.files.map((f) => f.split('/').pop()).sort()).toEqual(['model.safetensors', 'tokenizer.json'])
    expect(JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8'))).toEqual(tok)
    expect(loadExport(out).metadata.tokenizer).toEqual(tok)
  })

  it('picks a step, and names the saved steps when the asked one is missing', async () => {
    const res = await exportCheckpoint(store, mlpRun, { format: 'safetensors', outDir: join(dir, 'step'), step: 120 })
    expect(res.step).toBe(120)
    expect((await exportCheckpoint(store, mlpRun, { format: 'safetensors', outDir: join(dir, 'last') })).step).toBe(240)
    await expect(exportCheckpoint(store, mlpRun, { format: 'safetensors', outDir: join(dir, 'x'), step: 7 })).rejects.toThrow(/no checkpoint at step 7; saved steps: 120, 240/)
    await expect(exportCheckpoint(store, 999, { format: 'tfjs', outDir: join(dir, 'x') })).rejects.toThrow(/no run 999/)
  })
})

describe('sequence models', () => {
  it('a causal transformer checkpoint round-trips through both formats with its tokenizer.json', async () => {
    const p = new TransformerPolicy({ vocabSize: 12, dModel: 8, nHeads: 2, nLayers: 1, dFF: 16, maxLen: 8 }, { seed: 3 })
    const id = store.createRun({ name: 'tiny lm', config: { ...defaultConfig('sequence'), backend: 'cpu' }, datasetId: null, dataHash: null, backend: 'cpu', versions: {} })
    saveCheckpoint(store, id, p, null, null, {})
    const tokenizer = JSON.parse(readFileSync(new URL('../fixtures/text/wordlevel-tokenizer.json', import.meta.url), 'utf8'))
    const B = 2
    const T = 5
    const ids = [1, 4, 5, 6, 2, 1, 7, 3, 0, 0]
    const v = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    const lp = (q: Policy): number[] => {
      const valid = tf.tensor2d(v, [B, T])
      const actions = tf.tensor2d(ids, [B, T], 'int32')
      const out = q.logProbs({ B, T, obs: null, actions, mask: valid, valid, traceIndex: new Int32Array(B) })
      const r = Array.from(out.dataSync())
      out.dispose()
      valid.dispose()
      actions.dispose()
      return r
    }
    const want = lp(p)
    for (const format of ['safetensors', 'tfjs'] as const) {
      const out = join(dir, `lm-${format}`)
      const res = await exportCheckpoint(store, id, { format, outDir: out, tokenizer })
      expect(res.files.some((f) => f.endsWith('tokenizer.json'))).toBe(true)
      const loaded = loadExport(out)
      expect(loaded.spec).toMatchObject({ kind: 'transformer', vocabSize: 12, dModel: 8 })
      expect(loaded.metadata.tokenizer).toEqual(tokenizer)
      const back = policyFromExport(loaded)
      expect(lp(back)).toEqual(want)
      back.dispose()
    }
    p.dispose()
  })
})

describe('iwsft export', () => {
  const project = (): string[] => ['--project', join(dir, 'p.iwsft')]
  it('exports, refuses to overwrite without --overwrite, and replaces with it', async () => {
    const out = join(dir, 'cli')
    const write = process.stdout.write
    process.stdout.write = (() => true) as typeof process.stdout.write
    try {
      expect(await cmdExport([String(banditRun), '--format', 'tfjs', '--out', out, ...project()])).toBe(0)
      const before = readFileSync(join(out, 'model.json'), 'utf8')
      await expect(cmdExport([String(banditRun), '--format', 'tfjs', '--out', out, ...project()])).rejects.toThrow(/model.json already exists; pass overwrite \(--overwrite/)
      expect(readFileSync(join(out, 'model.json'), 'utf8')).toBe(before)
      expect(await cmdExport([String(banditRun), '--format', 'tfjs', '--out', out, '--overwrite', ...project()])).toBe(0)
      expect(readdirSync(out).sort()).toEqual(['group1-shard1of1.bin', 'model.json'])
    } finally {
      process.stdout.write = write
    }
  })

  it('refuses a destination reached through a symlink that leads out of the folder', async () => {
    const out = join(dir, 'cli-link')
    const elsewhere = join(dir, 'elsewhere')
    mkdirSync(out)
    mkdirSync(elsewhere)
    symlinkSync(join(elsewhere, 'model.safetensors'), join(out, 'model.safetensors'))
    await expect(cmdExport([String(banditRun), '--format', 'safetensors', '--out', out, '--overwrite', ...project()])).rejects.toThrow(/outside the export folder|dangling symlink/)
    expect(readdirSync(elsewhere)).toEqual([])
  })

  it('usage errors: missing format, unknown format, missing --out, bad run', async () => {
    await expect(cmdExport([String(banditRun), '--out', dir, ...project()])).rejects.toThrow(UsageError)
    await expect(cmdExport([String(banditRun), '--format', 'onnx', '--out', dir, ...project()])).rejects.toThrow(/tfjs or safetensors/)
    await expect(cmdExport([String(banditRun), '--format', 'tfjs', ...project()])).rejects.toThrow(/--out DIR is required/)
    await expect(cmdExport(['abc', '--format', 'tfjs', '--out', dir, ...project()])).rejects.toThrow(/usage: iwsft export/)
    await expect(cmdExport(['12345', '--format', 'tfjs', '--out', dir, ...project()])).rejects.toThrow(/no run 12345/)
  })
})
