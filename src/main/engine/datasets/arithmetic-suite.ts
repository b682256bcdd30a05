// Sizes for the miniature s1K pipeline on the arithmetic task, and the data steps that do not
// involve training: disjoint train / held-out problems, and the reference's noisy training set.
//
//   1. reference data: noisy worked solutions of the training problems (some wrong, some long)
//   2. π_ref = a transformer trained on them from scratch (the training loop's job)
//   3. K samples per training problem from π_ref (sampleCompletions), graded by the verifier
//   4. curated set: the verified samples (binary filter) or quality bins over the grades
//   5. SFT / iw-SFT / per-step iw-SFT from π_ref on the curated set
//   6. held-out greedy accuracy and pass@k (evaluateAccuracy)
//
// Measured here (wasm backend, 2 shared cores): the 'quick' model (dModel 64, 2 layers) takes
// roughly 150–400 ms a training step at 32 sequences of ≤ 43 tokens, and learns the task from
// 2,000 noisy solutions to about 40% held-out greedy accuracy in 1,500 steps; evaluating 100
// problems with 1 greedy + 4 samples each takes about 2–3 s.
import { Rng } from '../rng.ts'
import type { Policy } from '../policies/policy.ts'
import { TransformerPolicy, type TransformerConfig } from '../policies/transformer.ts'
import {
  arithmeticTokenizer,
  evaluateAccuracy,
  makeArithmeticProblems,
  noisyRows,
  buildSequenceDataset,
  type ArithmeticProblem,
  type ProblemOptions,
  type SequenceRow
} from './arithmetic.ts'
import type { TraceDataset } from '../../common/trace.ts'
import type { CharTokenizer } from '../text/tokenizer.ts'

export interface ArithmeticPreset {
  problems: ProblemOptions
  /** the stronger model's training data (sequence suite): its step error rate and rate of
   *  duplicated steps (longer traces than the reference's) */
  teacher: { errorRate: number; verboseRate: number }
  trainProblems: number
  testProblems: number
  /** step error rate of the reference's noisy solutions */
  errorRate: number
  /** rate of duplicated (correct but long) steps */
  verboseRate: number
  /** samples per training problem drawn from the reference */
  samplesPerProblem: number
  /** model size (vocabSize and bos come from the tokenizer) */
  model: Omit<TransformerConfig, 'vocabSize' | 'bos'>
}

export type ArithmeticPresetName = 'tiny' | 'quick' | 'suite-quick' | 'full'

const QUICK: ArithmeticPreset = {
  problems: { minOperands: 2, maxOperands: 3, maxOperand: 9, ops: '+-*' },
  teacher: { errorRate: 0, verboseRate: 0.3 },
  trainProblems: 2000,
  testProblems: 200,
  errorRate: 0.15,
  verboseRate: 0.1,
  samplesPerProblem: 4,
  model: { dModel: 64, nHeads: 4, nLayers: 2, dFF: 128, maxLen: 64 }
}

export const ARITHMETIC_PRESETS: Record<ArithmeticPresetName, ArithmeticPreset> = {
  /** unit tests */
  tiny: {
    problems: { minOperands: 2, maxOperands: 2, maxOperand: 9, ops: '+-' },
    teacher: { errorRate: 0, verboseRate: 0.3 },
    trainProblems: 40,
    testProblems: 10,
    errorRate: 0.2,
    verboseRate: 0.1,
    samplesPerProblem: 2,
    model: { dModel: 16, nHeads: 2, nLayers: 1, dFF: 32, maxLen: 32 }
  },
  /** the sequence suite's full run: a few minutes a seed */
  quick: QUICK,
  /** the sequence suite's --quick (and its test) */
  'suite-quick': { ...QUICK, trainProblems: 500, testProblems: 60 },
  full: {
    problems: { minOperands: 2, maxOperands: 4, maxOperand: 20, ops: '+-*' },
    teacher: { errorRate: 0, verboseRate: 0.3 },
    trainProblems: 8000,
    testProblems: 500,
    errorRate: 0.15,
    verboseRate: 0.1,
    samplesPerProblem: 8,
    model: { dModel: 96, nHeads: 4, nLayers: 3, dFF: 192, maxLen: 96 }
  }
}

export interface ArithmeticSplits {
  tokenizer: CharTokenizer
  train: ArithmeticProblem[]
  /** held out: no prompt in common with train */
  test: ArithmeticProblem[]
  /** the reference's training rows (noisy solutions, graded) */
  referenceRows: SequenceRow[]
  /** the same rows as a 'sequence' dataset (prompt masked, eos appended) */
  referenceData: TraceDataset
  /** the stronger model's training data: cleaner, longer worked solutions (preset.teacher) */
  teacherData: TraceDataset
  /** transformer config for this preset and tokenizer */
  model: TransformerConfig
}

/** Problems, held-out problems and the reference's noisy training set of a preset. Every draw
 *  comes from forks of rng, so a seed gives the same data everywhere. */
export function makeArithmeticSplits(preset: ArithmeticPreset, rng: Rng): ArithmeticSplits {
  const tokenizer = arithmeticTokenizer()
  const train = makeArithmeticProblems(preset.trainProblems, rng.fork(1), { ...preset.problems, idPrefix: 'train' })
  const test = makeArithmeticProblems(preset.testProblems, rng.fork(2), { ...preset.problems, exclude: train.map((p) => p.prompt), idPrefix: 'test' })
  const referenceRows = noisyRows(train, rng.fork(3), preset.errorRate, { verboseRate: preset.verboseRate })
  const referenceData = buildSequenceDataset('arithmetic-reference', tokenizer, referenceRows)
  // drawn after everything above, so the problems and the reference's data stay what they were
  const teacherRows = noisyRows(train, rng.fork(4), preset.teacher.errorRate, { verboseRate: preset.teacher.verboseRate })
  const teacherData = buildSequenceDataset('arithmetic-teacher', tokenizer, teacherRows)
  for (const [what, d] of [
    ['reference', referenceData],
    ['teacher', teacherData]
  ] as const) {
    let longest = 0
    for (let i = 0; i + 1 < d.offsets.length; i++) longest = Math.max(longest, d.offsets[i + 1] - d.offsets[i])
    if (longest > preset.model.maxLen) throw new Error(`arithmetic preset: a ${what} trace has ${longest} tokens, more than the model's maxLen ${preset.model.maxLen}`)
  }
  return { tokenizer, train, test, referenceRows, referenceData, teacherData, model: { ...preset.model, vocabSize: tokenizer.vocabSize, bos: tokenizer.bos } }
}

/** Stored datasets made from a preset's split carry it in their source,
 *  "generated:arithmetic/<preset>/seed<S>/<what>", so a run on them is evaluated on the split's
 *  held-out problems (`iwsft run`, `iwsft eval`, the app) without the suite that made them. */
export function arithmeticSource(preset: ArithmeticPresetName, seed: number, what: string): string {
  return `generated:arithmetic/${preset}/seed${seed}/${what}`
}

export function arithmeticSplitOfSource(source: string): { preset: ArithmeticPresetName; seed: number } | null {
  const m = /^generated:arithmetic\/([a-z-]+)\/seed(\d+)\//.exec(source)
  if (!m || !(m[1] in ARITHMETIC_PRESETS)) return null
  return { preset: m[1] as ArithmeticPresetName, seed: Number(m[2]) }
}

/** Held-out greedy accuracy and pass@4 (from 8 samples at temperature 1) of a transformer policy
 *  on a split's test problems; the samples are seeded by the split's seed and the step. */
export function arithmeticEvaluator(preset: ArithmeticPresetName, seed: number): (policy: Policy, step: number) => Record<string, number> {
  const { test } = makeArithmeticSplits(ARITHMETIC_PRESETS[preset], new Rng(seed))
  const tok = arithmeticTokenizer()
  return (policy, step) => {
    if (!(policy instanceof TransformerPolicy)) throw new Error('the arithmetic task evaluates a transformer policy')
    const r = evaluateAccuracy(policy, tok, test, { k: 4, n: 8, temperature: 1, rng: new Rng(50_000 + seed * 1000 + step) })
    return { accuracy: r.greedyAccuracy, pass_at_4: r.passAtK }
  }
}
