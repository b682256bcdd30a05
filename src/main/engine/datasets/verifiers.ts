// Verifiers for sampled completions (issue 13's sampling: the s1K pipeline in miniature): each
// turns a prompt row and a completion's text into a score, 1 (verified) or 0, so that curation
// (D+ = score > 0.5) keeps the verified traces.
//
//   arithmetic      the prompt holds an integer expression ("What is 12 + 7 * 3?"); its value,
//                   with the usual precedence (engine/datasets/arithmetic.ts makeProblem), must be
//                   the completion's final answer: the integer after its last '#' (the sequence
//                   suite's format) or else the last integer in it ("12 + 7 = 19." → 19)
//   answer:COLUMN   the row's COLUMN is the answer: a number must equal the completion's last
//                   number; text must equal (case and spacing aside, a final period ignored) the
//                   whole completion or its last line
//   regex:PATTERN   the completion matches the JavaScript regular expression PATTERN (flag u)
import { makeProblem, parseFinalAnswer, type Op } from './arithmetic.ts'

export type PromptRow = Record<string, string | number | boolean>

export interface Verifier {
  /** "arithmetic", "answer:COLUMN" or "regex:PATTERN", as given */
  spec: string
  /** 1 when the completion passes, else 0; `where` names the row in errors */
  score(row: PromptRow, completion: string, where: string): number
}

export class VerifierError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'VerifierError'
  }
}

const EXPR = /-?\d+(?:\s*[-+*×]\s*-?\d+)+/g

/** The value of the last integer expression in `text`, or null when it has none. */
export function arithmeticAnswer(text: string): number | null {
  const all = text.match(EXPR)
  if (!all) return null
  const expr = all[all.length - 1]
  const operands: number[] = []
  const ops: Op[] = []
  const re = /\s*([-+*×])?\s*(-?\d+)/y
  let m: RegExpExecArray | null
  while ((m = re.exec(expr)) !== null) {
    if (operands.length > 0) ops.push((m[1] === '×' ? '*' : m[1]) as Op)
    operands.push(Number(m[2]))
    if (re.lastIndex >= expr.length) break
  }
  return makeProblem('verify', operands, ops).answer
}

/** The last integer in `text` (with its sign), or null. */
export function lastInteger(text: string): number | null {
  const all = text.replace(/(\d),(\d{3})\b/g, '$1$2').match(/-?\d+/g)
  return all ? Number(all[all.length - 1]) : null
}

/** The last number in `text` (integers, decimals, thousands separators), or null. */
function lastNumber(text: string): number | null {
  const all = text.replace(/(\d),(\d{3})\b/g, '$1$2').match(/-?\d+(?:\.\d+)?/g)
  return all ? Number(all[all.length - 1]) : null
}

const normal = (s: string): string => s.trim().toLowerCase().replace(/\s+/g, ' ').replace(/\.$/, '')

/** Build a verifier from its spec; errors say which specs exist. */
export function makeVerifier(spec: string): Verifier {
  if (spec === 'arithmetic') {
    return {
      spec,
      score: (row, completion, where) => {
        const prompt = String(row.prompt ?? '')
        const want = arithmeticAnswer(prompt)
        if (want === null)
          throw new VerifierError(
            `${where}: the prompt "${prompt.slice(0, 80)}" has no integer expression for the arithmetic verifier (e.g. "What is 12 + 7?"); use answer:COLUMN or regex:PATTERN`
          )
        const got = parseFinalAnswer(completion) ?? lastInteger(completion)
        return got === want ? 1 : 0
      }
    }
  }
  if (spec.startsWith('answer:')) {
    const col = spec.slice('answer:'.length)
    return {
      spec,
      score: (row, completion, where) => {
        const v = row[col]
        if (v === undefined || v === null || v === '') throw new VerifierError(`${where}: no "${col}" column for the answer verifier (columns: ${Object.keys(row).join(', ')})`)
        const answer = String(v).trim()
        if (/^-?\d+(?:\.\d+)?$/.test(answer.replace(/,/g, ''))) return lastNumber(completion) === Number(answer.replace(/,/g, '')) ? 1 : 0
        const lines = completion.trim().split('\n')
        return normal(completion) === normal(answer) || normal(lines[lines.length - 1]) === normal(answer) ? 1 : 0
      }
    }
  }
  if (spec.startsWith('regex:')) {
    const pattern = spec.slice('regex:'.length)
    let re: RegExp
    try {
      re = new RegExp(pattern, 'u')
    } catch (e) {
      throw new VerifierError(`verifier ${spec}: not a valid regular expression (${(e as Error).message})`)
    }
    return { spec, score: (_row, completion) => (re.test(completion) ? 1 : 0) }
  }
  throw new VerifierError(`unknown verifier "${spec}"; use arithmetic, answer:COLUMN or regex:PATTERN`)
}
