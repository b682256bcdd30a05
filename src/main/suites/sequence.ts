// The sequence suite (paper §5.1, Table 1, in miniature): the s1K pipeline on a verifiable
// arithmetic task with a small causal transformer trained here. Per seed:
//   1. a reference π_ref trained (from scratch) on noisy worked solutions of the training problems;
//   2. K = 4 samples per training problem from π_ref, verified and graded (wrong 0, correct
//      1 + shortness); the curated set D+ keeps the correct ones (score > 0.5);
//   3. SFT, iw-SFT and per-step iw-SFT fine-tuned from π_ref on D+;
//   4. held-out problems: greedy accuracy (the headline metric) and pass@4 from 8 samples.
// Every run (the reference included) is stored in the project.
import type { RunConfig } from '../../shared/config.ts'
import { defaultConfig } from '../../shared/config.ts'
import { arithmeticTokenizer, buildSequenceDataset, evaluateAccuracy, sampleCompletions, type ArithmeticProblem } from '../engine/datasets/arithmetic.ts'
import { ARITHMETIC_PRESETS, makeArithmeticSplits, type ArithmeticPreset } from '../engine/datasets/arithmetic-suite.ts'
import type { Policy } from '../engine/policies/policy.ts'
import { TransformerPolicy, type TransformerConfig } from '../engine/policies/transformer.ts'
import { Rng } from '../engine/rng.ts'
import { findCheckpoint, loadCheckpoint } from '../jobs/checkpoints.ts'
import { registerSuite, ResultTable, runInSuite, type Method } from './suite.ts'

interface Sizes {
  preset: ArithmeticPreset
  refSteps: number
  ftSteps: number
}
// problems with operands ≤ 9 (ARITHMETIC_PRESETS.quick): a 2-layer model learns them to ~40%
// held-out accuracy in ~1,500 steps, leaving room for fine-tuning to show a difference
const FULL: Sizes = { preset: ARITHMETIC_PRESETS.quick, refSteps: 2000, ftSteps: 400 }
const QUICK: Sizes = { preset: { ...ARITHMETIC_PRESETS.quick, trainProblems: 500, testProblems: 60 }, refSteps: 500, ftSteps: 100 }

const METHODS: Method[] = ['sft', 'iw-sft', 'iw-sft-step']

function evaluator(problems: ArithmeticProblem[], seed: number) {
  const tok = arithmeticTokenizer()
  return (policy: Policy, step: number): Record<string, number> => {
    if (!(policy instanceof TransformerPolicy)) throw new Error('the arithmetic task evaluates a transformer policy')
    const r = evaluateAccuracy(policy, tok, problems, { k: 4, n: 8, temperature: 1, rng: new Rng(50_000 + seed * 1000 + step) })
    return { accuracy: r.greedyAccuracy, pass_at_4: r.passAtK }
  }
}

export function sequenceConfig(datasetId: number, seed: number, steps: number, m: TransformerConfig, o: Partial<RunConfig>): RunConfig {
  const base = defaultConfig('sequence')
  return {
    ...base,
    dataset: String(datasetId),
    seed,
    curation: { mode: 'threshold', threshold: 0.5 },
    policy: { kind: 'transformer', d_model: m.dModel, n_heads: m.nHeads, n_layers: m.nLayers, d_ff: m.dFF, max_len: m.maxLen, tied: m.tied ?? true, bos: m.bos ?? 1 },
    train: { ...base.train, steps, batch_size: 32, log_every: 10, snapshot_every: steps, eval_every: steps, checkpoint_every: null },
    ...o
  }
}

registerSuite('sequence', {
  metric: 'accuracy',
  description: 'verifiable arithmetic (the s1K pipeline in miniature): SFT vs iw-SFT vs per-step iw-SFT from a trained reference; held-out greedy accuracy',
  expectation: 'paper (Qwen2.5-32B on s1K): iw-SFT above SFT on AIME24/MATH500/GPQA; compare, do not assume',
  async run(ctx) {
    const sizes = ctx.quick ? QUICK : FULL
    const tok = arithmeticTokenizer()
    const table = new ResultTable('accuracy')
    for (let seed = 0; seed < ctx.seeds; seed++) {
      const { train, test, referenceData: noisy, model } = makeArithmeticSplits(sizes.preset, new Rng(seed))
      const evaluate = evaluator(test, seed)
      // 1. the reference, from scratch on noisy worked solutions (a higher lr: it starts at random)
      noisy.name = `arithmetic noisy solutions (seed ${seed})`
      const noisyId = ctx.store.putDataset(noisy, `generated:sequence/noisy-seed${seed}`).id
      const refCfg = sequenceConfig(noisyId, seed, sizes.refSteps, model, {
        name: `sequence reference seed ${seed}`,
        method: 'bc',
        optim: { ...defaultConfig('sequence').optim, lr: 3e-3, warmup_steps: 50, weight_decay: 0 }
      })
      const ref = await runInSuite(ctx, `reference seed ${seed}`, refCfg, { evaluate })
      table.add('reference', 'accuracy', ref.final.accuracy)
      table.add('reference', 'pass_at_4', ref.final.pass_at_4)
      // 2. K samples per problem from π_ref, graded by the verifier (a sample that does not
      //    re-encode to the tokens generated is marked malformed and scores 0)
      const refPolicy = loadCheckpoint(ctx.store, findCheckpoint(ctx.store, ref.runId)).policy as TransformerPolicy
      const samples = sampleCompletions(refPolicy, tok, train, { k: sizes.preset.samplesPerProblem, temperature: 1, rng: new Rng(90_000 + seed) })
      refPolicy.dispose()
      const sampled = buildSequenceDataset(`arithmetic samples of π_ref (seed ${seed})`, tok, samples)
      const sampledId = ctx.store.putDataset(sampled, `generated:sequence/samples-seed${seed}`).id
      // 3. fine-tune from π_ref on the correct samples
      for (const method of METHODS) {
        const cfg = sequenceConfig(sampledId, seed, sizes.ftSteps, model, {
          name: `sequence ${method} seed ${seed}`,
          method,
          reference: { kind: 'checkpoint', run: ref.runId },
          optim: { ...defaultConfig('sequence').optim, lr: 3e-4, warmup_steps: Math.round(0.05 * sizes.ftSteps) }
        })
        const r = await runInSuite(ctx, `${method} seed ${seed}`, cfg, { evaluate })
        table.add(method, 'accuracy', r.final.accuracy)
        table.diagnose(method, r.diagnostics)
        table.add(method, 'pass_at_4', r.final.pass_at_4)
      }
    }
    return table.results()
  }
})
