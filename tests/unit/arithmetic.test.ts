import { describe, it, expect, beforeAll } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import {
  makeProblem,
  makeArithmeticProblems,
  verify,
  parseFinalAnswer,
  gradeCompletion,
  noisySolution,
  noisyRows,
  buildSequenceDataset,
  arithmeticTokenizer,
  passAtK,
  evaluateAccuracy,
  sampleCompletions,
  type ArithmeticProblem
} from '../../src/main/engine/datasets/arithmetic.ts'
import { TransformerPolicy, type GenerateOptions } from '../../src/main/engine/policies/transformer.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { maskedLength } from '../../src/main/common/trace.ts'
import { ARITHMETIC_PRESETS, arithmeticSource, arithmeticSplitOfSource, makeArithmeticSplits } from '../../src/main/engine/datasets/arithmetic-suite.ts'
import { evaluatorOfSource } from '../../src/main/engine/datasets/builtin.ts'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('problems and worked steps', () => {
  it("works '*' first, then + and − left to right", () => {
    const p = makeProblem('a', [12, 7, 3], ['+', '*'])
    expect(p.prompt).toBe('12+7*3=')
    expect(p.solution).toBe('7*3=21;12+21=33;#33')
    expect(p.answer).toBe(33)
    expect(makeProblem('b', [3, 7, 5], ['-', '+']).solution).toBe('3-7=-4;-4+5=1;#1')
    expect(makeProblem('c', [2, 3, 4], ['*', '*']).solution).toBe('2*3=6;6*4=24;#24')
    expect(makeProblem('d', [10, 2, 3], ['-', '*']).solution).toBe('2*3=6;10-6=4;#4')
    expect(makeProblem('e', [9, 4], ['-']).solution).toBe('9-4=5;#5')
  })

  it('generates distinct, seeded problems within the options, avoiding excluded prompts', () => {
    const a = makeArithmeticProblems(200, new Rng(1), { maxOperand: 9 })
    const b = makeArithmeticProblems(200, new Rng(1), { maxOperand: 9 })
    expect(a.map((p) => p.prompt)).toEqual(b.map((p) => p.prompt))
    expect(new Set(a.map((p) => p.prompt)).size).toBe(200)
    for (const p of a) {
      expect(p.operands.length).toBeGreaterThanOrEqual(2)
      expect(p.operands.length).toBeLessThanOrEqual(3)
      expect(Math.max(...p.operands)).toBeLessThanOrEqual(9)
      // the answer agrees with JavaScript's own evaluation of the prompt
      expect(p.answer).toBe(Function(`return ${p.prompt.slice(0, -1)}`)())
      expect(verify(p, p.solution)).toBe(true)
    }
    const held = makeArithmeticProblems(50, new Rng(2), { maxOperand: 9, exclude: a.map((p) => p.prompt), idPrefix: 't' })
    for (const p of held) expect(a.some((q) => q.prompt === p.prompt)).toBe(false)
    expect(held[3].id).toBe('t3')
    // only 10 × 10 two-operand additions exist with maxOperand 9
    expect(() => makeArithmeticProblems(101, new Rng(3), { maxOperand: 9, ops: '+', maxOperands: 2 })).toThrow(/only make 100/)
  })
})

describe('verifier and grades', () => {
  const p = makeProblem('a', [12, 7, 3], ['+', '*'])
  it('parses the integer after the last #', () => {
    expect(parseFinalAnswer('7*3=21;12+21=33;#33')).toBe(33)
    expect(parseFinalAnswer('#-4')).toBe(-4)
    expect(parseFinalAnswer('#1;#2')).toBe(2)
    expect(parseFinalAnswer('33')).toBeNull()
    expect(parseFinalAnswer('#33;')).toBeNull()
    expect(parseFinalAnswer('#')).toBeNull()
    expect(verify(p, '#33')).toBe(true)
    expect(verify(p, '7*3=21;12+21=34;#34')).toBe(false)
  })
  it('grades correct-and-short 2 > correct-and-long 1 + 19/26 > wrong 0', () => {
    expect(gradeCompletion(p, p.solution)).toBe(2)
    const long = '7*3=21;7*3=21;12+21=33;#33' // 26 characters; the canonical one has 19
    expect(gradeCompletion(p, long)).toBeCloseTo(1 + 19 / 26, 12)
    expect(gradeCompletion(p, '7*3=21;12+21=34;#34')).toBe(0)
    expect(gradeCompletion(p, '')).toBe(0)
  })
})

describe('noisy worked solutions', () => {
  it('error rate 0 and verbose rate 0 give the canonical solution', () => {
    const rng = new Rng(4)
    for (const p of makeArithmeticProblems(50, new Rng(5))) expect(noisySolution(p, rng, 0, { verboseRate: 0 })).toBe(p.solution)
  })
  it('error rate 1 on one-step problems is always wrong, by ±1, ±2 or ±10', () => {
    const rng = new Rng(6)
    for (const p of makeArithmeticProblems(100, new Rng(7), { maxOperands: 2 })) {
      const s = noisySolution(p, rng, 1, { verboseRate: 0 })
      expect(verify(p, s)).toBe(false)
      expect([1, 2, 10]).toContain(Math.abs(parseFinalAnswer(s)! - p.answer))
    }
  })
  it('error rate 0.3 on one-step problems verifies about 70% of the time; verbose steps stay correct', () => {
    const rng = new Rng(8)
    const probs = makeArithmeticProblems(3000, new Rng(9), { maxOperands: 2, maxOperand: 60 })
    let ok = 0
    for (const p of probs) ok += verify(p, noisySolution(p, rng, 0.3, { verboseRate: 0 })) ? 1 : 0
    expect(Math.abs(ok / probs.length - 0.7)).toBeLessThan(0.03) // sd = √(0.21/3000) ≈ 0.008
    const p = makeProblem('a', [12, 7, 3], ['+', '*'])
    const s = noisySolution(p, new Rng(10), 0, { verboseRate: 1 })
    expect(s).toBe('7*3=21;7*3=21;12+21=33;12+21=33;#33')
    expect(gradeCompletion(p, s)).toBeCloseTo(1 + 19 / 35, 12) // 6+1+6+1+8+1+8+1+3 = 35 characters
  })
  it('noisyRows grades each row', () => {
    const probs = makeArithmeticProblems(5, new Rng(11))
    const rows = noisyRows(probs, new Rng(12), 0.5, { perProblem: 3 })
    expect(rows.length).toBe(15)
    for (const r of rows) {
      const p = probs.find((q) => q.id === r.meta!.problem)!
      expect(r.score).toBe(gradeCompletion(p, r.completion))
    }
  })
})

describe('buildSequenceDataset', () => {
  it('masks the prompt, keeps the completion and EOS', () => {
    const tok = arithmeticTokenizer()
    const d = buildSequenceDataset('t', tok, [
      { prompt: '1+2=', completion: '1+2=3;#3', score: 2, meta: { x: 1 } },
      { prompt: '', completion: '#5', score: 0 }
    ])
    expect(d.kind).toBe('sequence')
    expect(d.actDim).toBe(20)
    expect(d.obsDim).toBe(0)
    expect(Array.from(d.offsets)).toEqual([0, 13, 16])
    // '1'→5 '+'→14 '2'→6 '='→17 '3'→7 ';'→18 '#'→19, eos 2
    expect(Array.from(d.actions.slice(0, 13))).toEqual([5, 14, 6, 17, 5, 14, 6, 17, 7, 18, 19, 7, 2])
    expect(Array.from(d.mask.slice(0, 13))).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    expect(maskedLength(d, 0)).toBe(9)
    expect(Array.from(d.actions.slice(13))).toEqual([19, 9, 2])
    expect(Array.from(d.scores)).toEqual([2, 0])
    expect(d.meta![0]).toEqual({ x: 1 })
  })
  it('refuses characters outside the alphabet, naming the character', () => {
    expect(() => buildSequenceDataset('t', arithmeticTokenizer(), [{ prompt: '1/2=', completion: '#0', score: 0 }])).toThrow(/"\/"/)
  })
})

describe('pass@k and evaluateAccuracy', () => {
  it('pass@k matches hand-computed values', () => {
    expect(passAtK(4, 1, 2)).toBeCloseTo(0.5, 12) // 1 − C(3,2)/C(4,2) = 1 − 3/6
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3, 12)
    expect(passAtK(5, 0, 3)).toBe(0)
    expect(passAtK(5, 3, 3)).toBe(1) // n − c = 2 < k
    expect(passAtK(6, 2, 3)).toBeCloseTo(1 - 4 / 20, 12) // 1 − C(4,3)/C(6,3)
  })

  it('computes greedy accuracy and pass@k from generations (scripted policy)', () => {
    const tok = arithmeticTokenizer()
    const probs = [makeProblem('a', [1, 2], ['+']), makeProblem('b', [3, 4], ['*']), makeProblem('c', [9, 4], ['-'])]
    const seen = new Map<string, number>()
    // greedy: a and b right, c wrong; sampling: a always right, b right on its first sample only, c never
    const fake = {
      config: { maxLen: 64 },
      generate(prompts: number[][], o: GenerateOptions): number[][] {
        return prompts.map((ids) => {
          const p = probs.find((q) => q.prompt === tok.decode(ids))!
          const j = seen.get(p.id) ?? 0
          if (o.temperature! > 0) seen.set(p.id, j + 1)
          const right = o.temperature === 0 ? p.id !== 'c' : p.id === 'a' || (p.id === 'b' && j === 0)
          return tok.encode(right ? p.solution : '#999')
        })
      }
    } as unknown as TransformerPolicy
    const r = evaluateAccuracy(fake, tok, probs, { k: 2, n: 4, rng: new Rng(1) })
    expect(r.greedyAccuracy).toBeCloseTo(2 / 3, 12)
    // pass@2 from 4 samples: a 1, b 1 − C(3,2)/C(4,2) = 0.5, c 0 → mean 0.5
    expect(r.passAtK).toBeCloseTo(0.5, 12)
  })

  it('a sample with a special token mid-text is malformed: score 0, not correct, in sampling and in greedy accuracy', () => {
    const tok = arithmeticTokenizer()
    const p = makeProblem('a', [1, 2], ['+'])
    // the right answer, but with a pad token (0) inside and eos at the end
    const ids = [...tok.encode('1+2=3;'), tok.pad, ...tok.encode('#3'), tok.eos]
    const fake = { config: { maxLen: 64 }, generate: (prompts: number[][]) => prompts.map(() => ids) } as unknown as TransformerPolicy
    const [row] = sampleCompletions(fake, tok, [p], { k: 1, temperature: 1, rng: new Rng(1) })
    expect(row.completion).toBe('1+2=3;#3')
    expect(row.score).toBe(0)
    expect(row.meta).toMatchObject({ correct: false, malformed: true, finished: true })
    expect(evaluateAccuracy(fake, tok, [p], { k: 1, rng: new Rng(1) }).greedyAccuracy).toBe(0)
    const clean = { config: { maxLen: 64 }, generate: (prompts: number[][]) => prompts.map(() => [...tok.encode(p.solution), tok.eos]) } as unknown as TransformerPolicy
    const [ok] = sampleCompletions(clean, tok, [p], { k: 1, temperature: 1, rng: new Rng(1) })
    expect(ok.score).toBe(2)
    expect(ok.meta).toMatchObject({ correct: true, malformed: false, finished: true })
  })

  it('runs a real (untrained) transformer end to end and samples reproducibly', () => {
    const tok = arithmeticTokenizer()
    const probs = makeArithmeticProblems(4, new Rng(13), { maxOperands: 2, maxOperand: 9 })
    const pol = new TransformerPolicy({ vocabSize: tok.vocabSize, dModel: 8, nHeads: 2, nLayers: 1, dFF: 16, maxLen: 32, bos: tok.bos }, { seed: 1 })
    const r = evaluateAccuracy(pol, tok, probs, { k: 2, rng: new Rng(2) })
    expect(r.problems).toBe(4)
    // an untrained 1-layer model never writes a whole worked solution: nothing may count as solved
    expect(r.greedyAccuracy).toBe(0)
    const s1 = sampleCompletions(pol, tok, probs, { k: 2, temperature: 1, rng: new Rng(3) })
    const s2 = sampleCompletions(pol, tok, probs, { k: 2, temperature: 1, rng: new Rng(3) })
    expect(s1).toEqual(s2)
    expect(s1.length).toBe(8)
    expect(s1[3].id).toBe(`${probs[1].id}/s1`)
    // every sample, with eos appended, fits the model (maxLen 32)
    const d = buildSequenceDataset('samples', tok, s1)
    for (let i = 0; i < 8; i++) expect(d.offsets[i + 1] - d.offsets[i]).toBeLessThanOrEqual(32)
    for (const r of s1) expect(typeof r.meta!.finished).toBe('boolean')
    pol.dispose()
  })
})

describe('arithmetic presets', () => {
  it('makes disjoint train / held-out problems and a reference set that fits the model, the same for the same seed', () => {
    const a = makeArithmeticSplits(ARITHMETIC_PRESETS.tiny, new Rng(5))
    const b = makeArithmeticSplits(ARITHMETIC_PRESETS.tiny, new Rng(5))
    expect(a.train.length).toBe(40)
    expect(a.test.length).toBe(10)
    const trainPrompts = new Set(a.train.map((p) => p.prompt))
    for (const p of a.test) expect(trainPrompts.has(p.prompt)).toBe(false)
    expect(a.referenceRows.map((r) => r.completion)).toEqual(b.referenceRows.map((r) => r.completion))
    expect(a.referenceData.offsets.length).toBe(41)
    expect(a.model.vocabSize).toBe(20)
    expect(a.model.bos).toBe(1)
    expect(() => makeArithmeticSplits({ ...ARITHMETIC_PRESETS.tiny, model: { ...ARITHMETIC_PRESETS.tiny.model, maxLen: 8 } }, new Rng(5))).toThrow(/maxLen 8/)
  })
})

describe('the teacher data and evaluation by source (sequence suite)', () => {
  it('the teacher writes correct, longer solutions of the same training problems; the reference data do not change', () => {
    const a = makeArithmeticSplits(ARITHMETIC_PRESETS['suite-quick'], new Rng(3))
    const d = a.teacherData
    expect(d.offsets.length - 1).toBe(a.train.length)
    // errorRate 0: every teacher solution verifies (score > 0.5); 15% of the reference's steps slip
    expect(Array.from(d.scores).every((s) => s > 0.5)).toBe(true)
    expect(Array.from(a.referenceData.scores).filter((s) => s > 0.5).length).toBeLessThan(a.train.length * 0.9)
    // verboseRate 0.3 vs 0.1: longer completions on average
    const meanLen = (x: typeof d): number => Array.from({ length: x.offsets.length - 1 }, (_, i) => maskedLength(x, i)).reduce((s, v) => s + v, 0) / (x.offsets.length - 1)
    expect(meanLen(d)).toBeGreaterThan(meanLen(a.referenceData) + 1)
  })

  it('a dataset made from a split names it in its source, and runs on it are evaluated on its held-out problems', async () => {
    const src = arithmeticSource('tiny', 4, 'teacher-samples')
    expect(src).toBe('generated:arithmetic/tiny/seed4/teacher-samples')
    expect(arithmeticSplitOfSource(src)).toEqual({ preset: 'tiny', seed: 4 })
    expect(arithmeticSplitOfSource('generated:arithmetic/huge/seed4/x')).toBeNull()
    expect(arithmeticSplitOfSource('generated:sequence/samples-seed0')).toBeNull()
    expect(evaluatorOfSource('upload:x.jsonl', {})).toBeUndefined()
    const evaluate = evaluatorOfSource(src, {})!
    const { model, test } = makeArithmeticSplits(ARITHMETIC_PRESETS.tiny, new Rng(4))
    const pol = new TransformerPolicy(model, { seed: 1 })
    const m1 = await evaluate(pol, { step: 7, final: true })
    const m2 = await evaluate(pol, { step: 7, final: true })
    expect(m1).toEqual(m2)
    // the split's held-out problems, scored as evaluateAccuracy scores them
    const direct = evaluateAccuracy(pol, arithmeticTokenizer(), test, { k: 4, n: 8, temperature: 1, rng: new Rng(50_000 + 4 * 1000 + 7) })
    expect(m1).toEqual({ accuracy: direct.greedyAccuracy, pass_at_4: direct.passAtK })
    pol.dispose()
  })
})

// keep the type import used
export type _P = ArithmeticProblem
