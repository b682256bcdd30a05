// The paper's experiments as reproducible suites (`iwsft reproduce NAME`). A suite runs its
// runs through the job layer, so every run lands in the project (one group per invocation)
// and can be inspected in the app, and returns one result row per method (and task).
import type { BackendChoice, Method, RunConfig } from '../../shared/config.ts'
import { executeRun, type ExecuteOptions } from '../jobs/execute-run.ts'
import type { ProjectStore } from '../store/types.ts'
import { runWeightDiagnostics, summarizeDiagnostics, type DiagnosticsSummary, type RunDiagnostics } from './diagnostics.ts'

export interface SuiteResult {
  method: string
  task?: string
  metric: string
  mean: number
  /** sample standard deviation over seeds (n − 1); 0 for one seed */
  std: number
  seeds: number
  /** per-seed values, in seed order */
  values: number[]
  /** the paper's Table 4 row the runs used (presets.ts), when they used one */
  preset?: string
  /** weight diagnostics, mean over seeds (rows of the headline metric of weighted methods) */
  diagnostics?: DiagnosticsSummary
  /** "seed N: weights collapsed onto k traces …" / "… iw-SFT is SFT here" */
  warnings?: string[]
}

export interface SuiteContext {
  store: ProjectStore
  seeds: number
  quick: boolean
  /** the paper's own settings where a suite has them (control: batch 256 whole trajectories,
   *  the paper's BC reference and step counts); slower */
  faithful?: boolean
  /** only these of the suite's tasks, or other tasks it knows (control: `--task cartpole`);
   *  default the suite's own list */
  tasks?: string[]
  /** the project model a language-model suite samples from and fine-tunes (llm: default SmolLM2) */
  model?: string
  backend?: BackendChoice
  group: string
  /** progress of the current run: a label, then phase/done/total updates */
  progress(label: string): { update(phase: string, done: number, total: number): void; done(): void }
}

export interface Suite {
  description: string
  /** the headline metric: rows with it form `results`, the others `secondary` */
  metric: string
  /** what the paper found, printed under the table (for comparison, not a claim) */
  expectation: string
  run(ctx: SuiteContext): Promise<SuiteResult[]>
}

const suites = new Map<string, Suite>()
export function registerSuite(name: string, s: Suite): void {
  suites.set(name, s)
}
export function getSuite(name: string): Suite | undefined {
  return suites.get(name)
}
export function suiteNames(): string[] {
  return [...suites.keys()]
}

export function meanStd(v: number[]): { mean: number; std: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length
  const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0
  return { mean, std }
}

/** Collects per-seed values into result rows, and per-seed weight diagnostics onto the rows of
 *  the headline metric. */
export class ResultTable {
  private readonly rows = new Map<string, { method: string; task?: string; metric: string; values: number[]; preset?: string }>()
  private readonly diags = new Map<string, RunDiagnostics[]>()
  constructor(private readonly headline?: string) {}
  /** one seed's diagnostics of a method (and task); null (BC) is ignored */
  diagnose(method: string, d: RunDiagnostics | null, task?: string): void {
    if (!d) return
    const key = `${task ?? ''}|${method}`
    if (!this.diags.has(key)) this.diags.set(key, [])
    this.diags.get(key)!.push(d)
  }
  add(method: string, metric: string, value: number, task?: string, preset?: string): void {
    const key = `${task ?? ''}|${method}|${metric}`
    if (!this.rows.has(key)) this.rows.set(key, { method, task, metric, values: [], ...(preset ? { preset } : {}) })
    this.rows.get(key)!.values.push(value)
  }
  results(): SuiteResult[] {
    return [...this.rows.values()].map((r) => {
      const d = r.metric === this.headline ? this.diags.get(`${r.task ?? ''}|${r.method}`) : undefined
      return {
        method: r.method,
        ...(r.task ? { task: r.task } : {}),
        metric: r.metric,
        ...meanStd(r.values),
        seeds: r.values.length,
        values: r.values,
        ...(r.preset ? { preset: r.preset } : {}),
        ...(d ? { diagnostics: summarizeDiagnostics(d), warnings: d.flatMap((x, seed) => x.warnings.map((w) => `seed ${seed}: ${w}`)) } : {})
      }
    })
  }
}

/** Run one config as part of a suite: in the suite's group, on its backend, with progress;
 *  a run that does not complete stops the suite with its error. Returns its final metrics and
 *  weight diagnostics (diagnostics.ts). */
export async function runInSuite(
  ctx: SuiteContext,
  label: string,
  config: RunConfig,
  opts: ExecuteOptions = {}
): Promise<{ runId: number; final: Record<string, number>; diagnostics: RunDiagnostics | null }> {
  const bar = ctx.progress(label)
  const full: RunConfig = { ...config, group: ctx.group, ...(ctx.backend ? { backend: ctx.backend } : {}) }
  const end = await executeRun(ctx.store, full, { ...opts, onEvent: (e) => e.type === 'progress' && bar.update(e.phase, e.step, e.total) })
  bar.done()
  if (end.status !== 'completed') throw new Error(`run ${end.runId} (${label}) ${end.status}: ${end.error ?? ''}`)
  return { runId: end.runId, final: end.final, diagnostics: runWeightDiagnostics(ctx.store, end.runId) }
}

export type { Method }
