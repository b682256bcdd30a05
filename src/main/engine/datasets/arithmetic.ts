// The verifiable reasoning task in miniature (the s1K pipeline scaled down): multi-step
// integer arithmetic with worked steps and a checkable final answer.
//
//   prompt      "12+7*3="
//   completion  "7*3=21;12+21=33;#33"   (then EOS)
//
// Steps follow the usual precedence: every '*' left to right first, then '+' and '-' left to
// right; each step is "a op b = c" with the operands as they stand at that point. The final
// answer follows the last '#'. Numbers may be negative ("3-7=-4").
//
// Quality grade (gradeCompletion): wrong or unparsable = 0; correct = 1 + min(1, L*/L) where
// L is the completion's length in characters and L* that of the canonical solution, so correct
// and short (2) > correct and long (between 1 and 2) > wrong (0).
import { CharTokenizer, type Tokenizer } from '../text/tokenizer.ts'
import { fromTraces, validateDataset, DatasetError, type TraceDataset } from '../../common/trace.ts'
import type { Rng } from '../rng.ts'
import type { TransformerPolicy } from '../policies/transformer.ts'

export const ARITHMETIC_ALPHABET = '0123456789+-*=;#'

/** the character tokenizer of the task: pad 0, bos 1, eos 2, unk 3, then the alphabet (vocab 20) */
export function arithmeticTokenizer(): CharTokenizer {
  return new CharTokenizer(ARITHMETIC_ALPHABET)
}

export type Op = '+' | '-' | '*'

export interface ArithmeticProblem {
  id: string
  operands: number[]
  ops: Op[]
  /** "12+7*3=" */
  prompt: string
  answer: number
  /** ["7*3=21", "12+21=33"] */
  steps: string[]
  /** canonical worked solution, "7*3=21;12+21=33;#33" */
  solution: string
}

export interface ProblemOptions {
  /** fewest operands (default 2) */
  minOperands?: number
  /** most operands (default 3) */
  maxOperands?: number
  /** operands are drawn from 0..maxOperand (default 20) */
  maxOperand?: number
  /** operators to draw from (default "+-*") */
  ops?: string
  /** prompts not to generate (e.g. a training set, to keep a test set held out) */
  exclude?: Iterable<string>
  /** ids are `${idPrefix}${index}` (default "p") */
  idPrefix?: string
}

interface Token {
  v: number
}

/** The worked steps of operands/ops; `perturb(stepIndex, value)` may change each step's result
 *  (error injection); the perturbed value is carried forward. */
function workSteps(operands: number[], ops: Op[], perturb?: (step: number, value: number) => number): { steps: string[]; result: number } {
  const vals: Token[] = operands.map((v) => ({ v }))
  const os = ops.slice()
  const steps: string[] = []
  const apply = (i: number): void => {
    const a = vals[i].v
    const b = vals[i + 1].v
    const op = os[i]
    let c = op === '*' ? a * b : op === '+' ? a + b : a - b
    if (perturb) c = perturb(steps.length, c)
    steps.push(`${a}${op}${b}=${c}`)
    vals.splice(i, 2, { v: c })
    os.splice(i, 1)
  }
  for (let i = 0; i < os.length;) {
    if (os[i] === '*') apply(i)
    else i++
  }
  while (os.length > 0) apply(0)
  return { steps, result: vals[0].v }
}

export function makeProblem(id: string, operands: number[], ops: Op[]): ArithmeticProblem {
  if (operands.length !== ops.length + 1 || operands.length < 2) throw new Error(`arithmetic problem ${id}: needs k ≥ 2 operands and k − 1 operators`)
  let prompt = String(operands[0])
  ops.forEach((op, i) => (prompt += op + String(operands[i + 1])))
  prompt += '='
  const { steps, result } = workSteps(operands, ops)
  return { id, operands, ops, prompt, answer: result, steps, solution: `${steps.join(';')};#${result}` }
}

/** n distinct problems (distinct prompts, none in opts.exclude), drawn with rng. */
export function makeArithmeticProblems(n: number, rng: Rng, opts: ProblemOptions = {}): ArithmeticProblem[] {
  const minK = opts.minOperands ?? 2
  const maxK = opts.maxOperands ?? 3
  const maxV = opts.maxOperand ?? 20
  const opChars = Array.from(opts.ops ?? '+-*') as Op[]
  if (minK < 2 || maxK < minK) throw new Error(`arithmetic problems: operand counts ${minK}..${maxK} are invalid (need 2 ≤ min ≤ max)`)
  for (const o of opChars) if (o !== '+' && o !== '-' && o !== '*') throw new Error(`arithmetic problems: unknown operator "${o}"`)
  const seen = new Set<string>(opts.exclude ?? [])
  const out: ArithmeticProblem[] = []
  const prefix = opts.idPrefix ?? 'p'
  let attempts = 0
  while (out.length < n) {
    if (++attempts > 100 * n + 1000) {
      throw new Error(`arithmetic problems: could only make ${out.length} distinct problems of ${n}; widen maxOperand or the operand counts`)
    }
    const k = minK + rng.int(maxK - minK + 1)
    const operands = Array.from({ length: k }, () => rng.int(maxV + 1))
    const ops = Array.from({ length: k - 1 }, () => opChars[rng.int(opChars.length)])
    const p = makeProblem(`${prefix}${out.length}`, operands, ops)
    if (seen.has(p.prompt)) continue
    seen.add(p.prompt)
    out.push(p)
  }
  return out
}

/** The integer after the last '#', or null when there is none or anything else follows it. */
export function parseFinalAnswer(text: string): number | null {
  const i = text.lastIndexOf('#')
  if (i < 0) return null
  const m = /^(-?\d+)$/.exec(text.slice(i + 1).trim())
  if (!m) return null
  const v = Number(m[1])
  return Number.isSafeInteger(v) ? v : null
}

/** Does the completion's final answer equal the problem's? */
export function verify(problem: ArithmeticProblem, completionText: string): boolean {
  return parseFinalAnswer(completionText) === problem.answer
}

/** 0 when wrong; 1 + min(1, canonical length / length) when correct (see the file header). */
export function gradeCompletion(problem: ArithmeticProblem, text: string): number {
  if (!verify(problem, text)) return 0
  return 1 + Math.min(1, problem.solution.length / Math.max(1, text.length))
}

const SLIPS = [-10, -2, -1, 1, 2, 10]

/** A worked solution with seeded mistakes, for training the reference policy: each step's
 *  result is wrong with probability errorRate (off by ±1, ±2 or ±10; the wrong value is used
 *  from then on, so the final answer is wrong too), and with probability verboseRate (default
 *  0.1) a step is written twice (a correct but long solution). */
export function noisySolution(problem: ArithmeticProblem, rng: Rng, errorRate: number, opts: { verboseRate?: number } = {}): string {
  if (!(errorRate >= 0 && errorRate <= 1)) throw new Error(`noisySolution: errorRate must be in [0, 1], got ${errorRate}`)
  const verboseRate = opts.verboseRate ?? 0.1
  const { steps, result } = workSteps(problem.operands, problem.ops, (_s, c) => (rng.next() < errorRate ? c + SLIPS[rng.int(SLIPS.length)] : c))
  const written: string[] = []
  for (const s of steps) {
    written.push(s)
    if (rng.next() < verboseRate) written.push(s)
  }
  return `${written.join(';')};#${result}`
}

export interface SequenceRow {
  prompt: string
  completion: string
  score: number
  id?: string
  meta?: Record<string, unknown>
}

/** A 'sequence' TraceDataset: tokens = encode(prompt) ++ encode(completion) ++ [eos]
 *  (addEos default true), mask 0 on the prompt and 1 on the completion and eos. No BOS is
 *  stored (the transformer supplies its BOS context). */
export function buildSequenceDataset(name: string, tokenizer: Tokenizer, rows: SequenceRow[], opts: { addEos?: boolean } = {}): TraceDataset {
  const addEos = opts.addEos ?? true
  if (rows.length === 0) throw new DatasetError(`dataset "${name}": no rows`)
  const traces = rows.map((r, i) => {
    const p = tokenizer.encode(r.prompt)
    const c = tokenizer.encode(r.completion)
    if (addEos) c.push(tokenizer.eos)
    if (c.length === 0) throw new DatasetError(`dataset "${name}": row ${i + 1} has an empty completion`)
    const actions = new Int32Array(p.length + c.length)
    actions.set(p, 0)
    actions.set(c, p.length)
    const mask = new Uint8Array(actions.length)
    mask.fill(1, p.length)
    return { id: r.id ?? String(i), actions, mask, score: r.score, meta: r.meta }
  })
  const d = fromTraces(name, 'sequence', 0, tokenizer.vocabSize, traces)
  validateDataset(d)
  return d
}

/** Rows of (prompt, noisy solution, grade) for the reference's training set. */
export function noisyRows(problems: ArithmeticProblem[], rng: Rng, errorRate: number, opts: { perProblem?: number; verboseRate?: number } = {}): SequenceRow[] {
  const rows: SequenceRow[] = []
  for (const p of problems) {
    for (let j = 0; j < (opts.perProblem ?? 1); j++) {
      const completion = noisySolution(p, rng, errorRate, opts)
      rows.push({ id: `${p.id}/${j}`, prompt: p.prompt, completion, score: gradeCompletion(p, completion), meta: { problem: p.id, correct: verify(p, completion) } })
    }
  }
  return rows
}

export interface SampleOptions {
  /** samples per problem */
  k: number
  temperature: number
  topP?: number
  rng: Rng
  /** most new tokens (default: twice the longest canonical solution + 2) */
  maxNew?: number
  /** prompts per generate() call (default 256) */
  batchSize?: number
}

function defaultMaxNew(tokenizer: Tokenizer, problems: ArithmeticProblem[]): number {
  let m = 0
  for (const p of problems) m = Math.max(m, tokenizer.encode(p.solution).length)
  return 2 * m + 2
}

/** Generations decoded to text; finished = the row ended with eos; malformed = the tokens do
 *  not round-trip through their text (a special token such as pad or bos mid-completion, which
 *  decoding drops). maxNew is capped so that prompt + completion + eos fits the model's maxLen. */
function generateAll(
  policy: TransformerPolicy,
  tokenizer: Tokenizer,
  prompts: number[][],
  o: { maxNew: number; temperature: number; topP?: number; rng?: Rng; batchSize?: number }
): { text: string; finished: boolean; malformed: boolean }[] {
  const bs = o.batchSize ?? 256
  const out: { text: string; finished: boolean; malformed: boolean }[] = []
  for (let i = 0; i < prompts.length; i += bs) {
    const chunk = prompts.slice(i, i + bs)
    let longest = 0
    for (const p of chunk) longest = Math.max(longest, p.length)
    const maxNew = Math.min(o.maxNew, policy.config.maxLen - 1 - longest)
    if (maxNew < 1) throw new Error(`a prompt of ${longest} tokens leaves no room to generate within the model's maxLen ${policy.config.maxLen}`)
    const gen = policy.generate(chunk, { maxNew, temperature: o.temperature, topP: o.topP, rng: o.rng, stopToken: tokenizer.eos, includeStop: true })
    for (const g of gen) {
      const finished = g.length > 0 && g[g.length - 1] === tokenizer.eos
      const body = finished ? g.slice(0, -1) : g
      const text = tokenizer.decode(body)
      const again = tokenizer.encode(text)
      const malformed = again.length !== body.length || again.some((t, k) => t !== body[k])
      out.push({ text, finished, malformed })
    }
  }
  return out
}

/** K samples per problem from a policy, graded: rows ready for curation and buildSequenceDataset.
 *  meta holds the problem id, the sample index, whether it verified, whether it finished
 *  (ended with eos rather than at the length cap) and whether it was malformed (held a special
 *  token mid-text: score 0, never correct; its text lacks that token). With eos appended every
 *  row fits maxLen. */
export function sampleCompletions(policy: TransformerPolicy, tokenizer: Tokenizer, problems: ArithmeticProblem[], opts: SampleOptions): SequenceRow[] {
  const maxNew = opts.maxNew ?? defaultMaxNew(tokenizer, problems)
  const prompts: number[][] = []
  for (const p of problems) {
    const ids = tokenizer.encode(p.prompt)
    for (let j = 0; j < opts.k; j++) prompts.push(ids)
  }
  const gens = generateAll(policy, tokenizer, prompts, { ...opts, maxNew })
  return gens.map(({ text: completion, finished, malformed }, i) => {
    const p = problems[Math.floor(i / opts.k)]
    const j = i % opts.k
    return {
      id: `${p.id}/s${j}`,
      prompt: p.prompt,
      completion,
      score: malformed ? 0 : gradeCompletion(p, completion),
      meta: { problem: p.id, sample: j, correct: !malformed && verify(p, completion), finished, malformed }
    }
  })
}

/** Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 − C(n−c, k) / C(n, k). */
export function passAtK(n: number, c: number, k: number): number {
  if (k > n) throw new Error(`pass@k: k = ${k} is larger than the number of samples ${n}`)
  if (n - c < k) return 1
  let prod = 1
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i
  return 1 - prod
}

export interface AccuracyResult {
  /** fraction of problems whose greedy (temperature 0) completion verifies */
  greedyAccuracy: number
  /** mean over problems of the unbiased pass@k estimate from n samples */
  passAtK: number
  k: number
  n: number
  problems: number
}

/** Greedy accuracy and pass@k on held-out problems. n samples per problem (default k) are
 *  drawn at `temperature` (default 1) with rng. */
export function evaluateAccuracy(
  policy: TransformerPolicy,
  tokenizer: Tokenizer,
  problems: ArithmeticProblem[],
  opts: { k: number; temperature?: number; topP?: number; rng: Rng; n?: number; maxNew?: number; batchSize?: number }
): AccuracyResult {
  if (problems.length === 0) throw new Error('evaluateAccuracy: no problems')
  const k = opts.k
  const n = opts.n ?? k
  if (!(Number.isInteger(k) && k >= 1 && n >= k)) throw new Error(`evaluateAccuracy: need integers 1 ≤ k ≤ n, got k = ${k}, n = ${n}`)
  const maxNew = opts.maxNew ?? defaultMaxNew(tokenizer, problems)
  const prompts = problems.map((p) => tokenizer.encode(p.prompt))
  const greedy = generateAll(policy, tokenizer, prompts, { maxNew, temperature: 0, batchSize: opts.batchSize })
  let correct = 0
  greedy.forEach((g, i) => (correct += !g.malformed && verify(problems[i], g.text) ? 1 : 0))
  const rows = sampleCompletions(policy, tokenizer, problems, { k: n, temperature: opts.temperature ?? 1, topP: opts.topP, rng: opts.rng, maxNew, batchSize: opts.batchSize })
  let pass = 0
  for (let i = 0; i < problems.length; i++) {
    let c = 0
    for (let j = 0; j < n; j++) c += rows[i * n + j].meta!.correct ? 1 : 0
    pass += passAtK(n, c, k)
  }
  return { greedyAccuracy: correct / problems.length, passAtK: pass / problems.length, k, n, problems: problems.length }
}
