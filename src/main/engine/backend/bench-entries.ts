// The training steps `iwsft bench` times (issue 17's table), each through the engine's own
// train(): the control policy (Gaussian MLP 17 → 3×256 → 6, 16 traces × 16 steps a batch, Adam)
// with SFT and with iw-SFT for every kind of q, and the sequence policy (causal transformer
// d64, 4 heads, 2 layers, ff 256, vocabulary 32, 8 traces × 128 tokens, AdamW, clip 1). An entry
// also describes itself to the PyTorch peer (peer.py: the same data, initial weights, loss and
// optimiser), and gives its first step's loss and gradient norm so the two can be checked to
// compute the same thing before they are timed.
import { defaultConfig, type Method, type RunConfig } from '../../../shared/config.ts'
import { fromTraces, type TraceDataset } from '../../common/trace.ts'
import { createPolicy } from '../policies/index.ts'
import { readWeights, type Policy } from '../policies/policy.ts'
import { Rng, WeightedSampler } from '../rng.ts'
import { scoreSteps } from '../train/scoring.ts'
import { train } from '../train/trainer.ts'
import { b64 } from './bench-peer.ts'

export interface TrainBench {
  name: string
  /** ms per training step over `steps` steps of a fresh schedule (the policy keeps training) */
  run(steps: number, seed: number): Promise<number>
  /** what peer.py needs to train the same thing; null: no PyTorch mirror of this entry */
  peerSpec(): Record<string, unknown> | null
  /** the batch rows, loss and gradient norm (before clipping) of the first step of a run with
   *  this seed, from the initial weights */
  firstStep(seed: number): Promise<{ idx: number[]; loss: number; grad_norm: number }>
  dispose(): void
}

export function syntheticControl(traces: number, len: number, seed: number): TraceDataset {
  const rng = new Rng(seed)
  return fromTraces(
    'bench',
    'continuous',
    17,
    6,
    Array.from({ length: traces }, (_, i) => ({
      obs: Float32Array.from({ length: len * 17 }, () => rng.normal()),
      actions: Float32Array.from({ length: len * 6 }, () => Math.tanh(rng.normal())),
      score: i
    }))
  )
}

/** Token traces over a vocabulary of 32: lengths 120–128 (the batch pads to 128), the first
 *  16–31 tokens a prompt (mask 0), the rest the scored completion. */
export function syntheticSequences(traces: number, seed: number): TraceDataset {
  const rng = new Rng(seed)
  return fromTraces(
    'bench-seq',
    'sequence',
    0,
    32,
    Array.from({ length: traces }, (_, i) => {
      const len = i % 4 === 0 ? 128 : 120 + Math.floor(rng.next() * 9)
      const prompt = 16 + Math.floor(rng.next() * 16)
      return {
        actions: Int32Array.from({ length: len }, () => Math.floor(rng.next() * 32)),
        mask: Uint8Array.from({ length: len }, (_, t) => (t < prompt ? 0 : 1)),
        score: i
      }
    })
  )
}

/** One benchmark entry: a dataset, a run config, a policy and the reference log-probs
 *  (scored by an independently initialised policy, so the importance weights are not all 1). */
export function trainBench(name: string, ds: TraceDataset, config: RunConfig, peer: boolean): TrainBench {
  const policy = createPolicy(config.policy, ds, new Rng(0))
  const initial = readWeights(policy)
  const refPolicy = createPolicy(config.policy, ds, new Rng(1))
  const ref = scoreSteps(refPolicy, ds)
  refPolicy.dispose()
  const n = ds.offsets.length - 1
  const multiplicity = new Uint8Array(n).fill(1)
  const runOn = (p: Policy, steps: number, seed: number, onLog?: (m: Record<string, number>) => void): Promise<unknown> =>
    train(
      {
        config: { ...config, train: { ...config.train, steps, log_every: steps, snapshot_every: 10 * steps, eval_every: steps } },
        dataset: ds,
        policy: p,
        multiplicity,
        refLogProbs: ref,
        rng: new Rng(seed)
      },
      { onLog: (_s, m) => onLog?.(m) }
    )
  return {
    name,
    async run(steps, seed) {
      const t0 = performance.now()
      await runOn(policy, steps, seed)
      return (performance.now() - t0) / steps
    },
    peerSpec() {
      if (!peer) return null
      const { method, weights: w, optim, train: tc, policy: pc } = config
      return {
        name,
        method,
        policy: { ...policy.spec, ...(pc.kind === 'gaussian-mlp' ? { hidden: pc.hidden } : {}) },
        data: {
          kind: ds.kind,
          obsDim: ds.obsDim,
          actDim: ds.actDim,
          offsets: b64(ds.offsets),
          obs: b64(ds.obs),
          actions: b64(ds.actions),
          mask: b64(ds.mask),
          ref: b64(ref)
        },
        weights: initial.map((t) => ({ name: t.name, shape: t.shape, data: b64(t.data) })),
        weights_settings: { temp: w.temp, aggregate: w.aggregate, clamp: w.clamp, normalize: w.normalize },
        optim,
        train: { batch_size: tc.batch_size, loss_norm: tc.loss_norm }
      }
    },
    async firstStep(seed) {
      // train() draws its first batch from a fresh Rng(seed) exactly like this
      const idx = Array.from(new WeightedSampler(multiplicity).sampleMany(new Rng(seed), config.train.batch_size))
      const fresh = createPolicy(config.policy, ds, new Rng(0))
      let m: Record<string, number> = {}
      try {
        await runOn(fresh, 1, seed, (x) => (m = x))
      } finally {
        fresh.dispose()
      }
      return { idx, loss: m.loss, grad_norm: m.grad_norm }
    },
    dispose() {
      policy.dispose()
    }
  }
}

/** The control MLP entries: `sft`, `iw-sft/current` (both with a PyTorch mirror), and
 *  `iw-sft/ema`, `iw-sft/periodic`. */
export function mlpBenches(): TrainBench[] {
  const ds = syntheticControl(256, 16, 1)
  const base = defaultConfig('control')
  const variants: Array<{ name: string; method: Method; q: RunConfig['weights']['q']; peer: boolean }> = [
    { name: 'sft', method: 'sft', q: { kind: 'current' }, peer: true },
    { name: 'iw-sft/current', method: 'iw-sft', q: { kind: 'current' }, peer: true },
    { name: 'iw-sft/ema', method: 'iw-sft', q: { kind: 'ema', beta: 0.9 }, peer: false },
    { name: 'iw-sft/periodic', method: 'iw-sft', q: { kind: 'periodic', every: 50 }, peer: false }
  ]
  return variants.map((v) =>
    trainBench(v.name, ds, { ...base, method: v.method, curation: { mode: 'all' }, weights: { ...base.weights, q: v.q }, train: { ...base.train, batch_size: 16 } }, v.peer)
  )
}

/** The sequence suite's transformer (its domain defaults: AdamW, clip 1, token loss), SFT. */
export function transformerBenches(): TrainBench[] {
  const ds = syntheticSequences(64, 2)
  const base = defaultConfig('sequence')
  return [trainBench('transformer/sft', ds, { ...base, method: 'sft', curation: { mode: 'all' } }, true)]
}
