// The sequence suite (paper §5.1, Table 1, in miniature): the s1K pipeline on a verifiable
// arithmetic task with small causal transformers trained here. As in the paper, the curated
// traces come from a stronger model than the one fine-tuned, and π_ref is the start model:
//   1. π_ref (the start model): trained from scratch on noisy worked solutions;
//   2. a teacher (the stronger model, as s1K's traces came from a stronger model than Qwen2.5):
//      trained from scratch, longer, on clean worked solutions with more repeated steps, so its
//      traces are longer than π_ref's and differ from what π_ref would write;
//   3. K = 4 samples per training problem from the teacher, verified and graded (wrong 0,
//      correct 1 + shortness); the curated set D+ keeps the correct ones (score > 0.5);
//   4. SFT, iw-SFT (at temperatures 0.3, 1 and 3 on the mean log ratio) and per-step iw-SFT,
//      each fine-tuned from π_ref on D+ with π_ref as the weights' denominator;
//   5. held-out problems: greedy accuracy (the headline metric) and pass@4 from 8 samples.
// Every run (the reference and the teacher included) is stored in the project; the datasets
// carry their split in their source (arithmeticSource), so `iwsft run` / `iwsft eval` on them
// report held-out accuracy too.
import type { RunConfig } from '../../shared/config.ts'
import { defaultConfig } from '../../shared/config.ts'
import { arithmeticTokenizer, buildSequenceDataset, sampleCompletions } from '../engine/datasets/arithmetic.ts'
import { ARITHMETIC_PRESETS, arithmeticSource, makeArithmeticSplits, type ArithmeticPresetName } from '../engine/datasets/arithmetic-suite.ts'
import type { TransformerConfig, TransformerPolicy } from '../engine/policies/transformer.ts'
import { Rng } from '../engine/rng.ts'
import { findCheckpoint, loadCheckpoint } from '../jobs/checkpoints.ts'
import { registerSuite, ResultTable, runInSuite } from './suite.ts'

interface Sizes {
  preset: ArithmeticPresetName
  refSteps: number
  teacherSteps: number
  ftSteps: number
}
// problems with operands ≤ 9 (ARITHMETIC_PRESETS.quick): a 2-layer model learns them to ~40–50%
// held-out accuracy from noisy solutions in 2,000 steps, leaving room for fine-tuning
const FULL: Sizes = { preset: 'quick', refSteps: 2000, teacherSteps: 3000, ftSteps: 400 }
const QUICK: Sizes = { preset: 'suite-quick', refSteps: 500, teacherSteps: 800, ftSteps: 100 }

/** the fine-tuning rows: a label, the method and its weight temperature */
const FINE_TUNES: Array<{ label: string; method: RunConfig['method']; temp?: number }> = [
  { label: 'sft', method: 'sft' },
  { label: 'iw-sft T=0.3', method: 'iw-sft', temp: 0.3 },
  { label: 'iw-sft', method: 'iw-sft', temp: 1 },
  { label: 'iw-sft T=3', method: 'iw-sft', temp: 3 },
  { label: 'iw-sft-step', method: 'iw-sft-step' }
]

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
  description:
    'verifiable arithmetic (the s1K pipeline in miniature): traces from a stronger teacher, SFT vs iw-SFT (temperature 0.3, 1, 3) vs per-step iw-SFT from the start model π_ref; held-out greedy accuracy',
  expectation: 'paper (Qwen2.5-32B on s1K): iw-SFT above SFT on AIME24/MATH500/GPQA; compare, do not assume',
  async run(ctx) {
    const sizes = ctx.quick ? QUICK : FULL
    const preset = ARITHMETIC_PRESETS[sizes.preset]
    const tok = arithmeticTokenizer()
    const table = new ResultTable('accuracy')
    const bcOptim = { ...defaultConfig('sequence').optim, lr: 3e-3, warmup_steps: 50, weight_decay: 0 }
    for (let seed = 0; seed < ctx.seeds; seed++) {
      const { train, referenceData: noisy, teacherData, model } = makeArithmeticSplits(preset, new Rng(seed))
      // 1. π_ref, the start model: from scratch on noisy worked solutions (a higher lr: it starts at random)
      noisy.name = `arithmetic noisy solutions (seed ${seed})`
      const noisyId = ctx.store.putDataset(noisy, arithmeticSource(sizes.preset, seed, 'noisy')).id
      const ref = await runInSuite(
        ctx,
        `reference seed ${seed}`,
        sequenceConfig(noisyId, seed, sizes.refSteps, model, { name: `sequence reference seed ${seed}`, method: 'bc', optim: bcOptim })
      )
      table.add('reference', 'accuracy', ref.final.accuracy)
      table.add('reference', 'pass_at_4', ref.final.pass_at_4)
      // 2. the teacher: from scratch, longer, on clean and longer worked solutions
      teacherData.name = `arithmetic teacher solutions (seed ${seed})`
      const teacherDataId = ctx.store.putDataset(teacherData, arithmeticSource(sizes.preset, seed, 'teacher-data')).id
      const teacher = await runInSuite(
        ctx,
        `teacher seed ${seed}`,
        sequenceConfig(teacherDataId, seed + 1000, sizes.teacherSteps, model, { name: `sequence teacher seed ${seed}`, method: 'bc', optim: bcOptim })
      )
      table.add('teacher', 'accuracy', teacher.final.accuracy)
      table.add('teacher', 'pass_at_4', teacher.final.pass_at_4)
      // 3. K samples per training problem from the teacher, graded by the verifier (a sample that
      //    does not re-encode to the tokens generated is marked malformed and scores 0)
      const teacherPolicy = loadCheckpoint(ctx.store, findCheckpoint(ctx.store, teacher.runId)).policy as TransformerPolicy
      const samples = sampleCompletions(teacherPolicy, tok, train, { k: preset.samplesPerProblem, temperature: 1, rng: new Rng(90_000 + seed) })
      teacherPolicy.dispose()
      const sampled = buildSequenceDataset(`arithmetic samples of the teacher (seed ${seed})`, tok, samples)
      const sampledId = ctx.store.putDataset(sampled, arithmeticSource(sizes.preset, seed, 'teacher-samples')).id
      // 4. fine-tune from π_ref on the correct samples; π_ref stays the weights' denominator
      for (const ft of FINE_TUNES) {
        const base = defaultConfig('sequence')
        const cfg = sequenceConfig(sampledId, seed, sizes.ftSteps, model, {
          name: `sequence ${ft.label} seed ${seed}`,
          method: ft.method,
          reference: { kind: 'checkpoint', run: ref.runId },
          weights: { ...base.weights, temp: ft.temp ?? base.weights.temp },
          optim: { ...base.optim, lr: 3e-4, warmup_steps: Math.round(0.05 * sizes.ftSteps) }
        })
        const r = await runInSuite(ctx, `${ft.label} seed ${seed}`, cfg)
        table.add(ft.label, 'accuracy', r.final.accuracy)
        table.diagnose(ft.label, r.diagnostics)
        table.add(ft.label, 'pass_at_4', r.final.pass_at_4)
      }
    }
    return table.results()
  }
})
