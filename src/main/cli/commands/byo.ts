// "Bring your own log-probs":
// `iwsft byo import FILE [--tokenizer tokenizer.json] [--name N] [--format jsonl|csv|parquet]
//   [--map key=column,…] [--json]`
//   stores a JSONL / CSV / Parquet file whose rows carry per-token log-probs of the reference
//   and of the policy (columns ref_logprobs / policy_logprobs, tokens or text) in the project.
//   --map names columns (keys of TextColumnMapping: tokens, promptTokens, refLogprobs,
//   policyLogprobs, prompt, completion, score, id, …; meta=a|b for several); default: detected.
// `iwsft byo weights DATASET [--variant trace|per_step] [--temp T] [--aggregate mean|sum]
//   [--clamp lo,hi] [--normalize] [--clip-ratio lo,hi | --clip-rho lo,hi] [--step-clip lo,hi]
//   [--top N] [--trace I] [--json]`
//   the importance weights of a stored import under any settings (default: the LLM defaults):
//   ESS, ESS/N, clamp fraction, min / median / max log w, Spearman(w, score), the most and least
//   weighted traces; --trace I adds that trace's tokens with ρ_t.
// `iwsft byo follow FILE [--tokenizer F] [--map …] [settings as above] [--every MS] [--keep-versions] [--json]`
//   follows a JSONL log another job appends to; prints ESS etc. as rows arrive. Ctrl+C stops.
// All three go through the services (byo.import, byo.inspect, byo.traceRho, byo.follow), as the
// app's Imported weights view does.
import { ApiError, type EventPayloads } from '../../../shared/contract.ts'
import { byoDefaultSettings, ByoMappingSchema, ByoSettingsSchema, type ByoSettings, type ByoVariant } from '../../../shared/byo.ts'
import type { Services } from '../../services/index.ts'
import { intFlag, parseArgs, strFlag, UsageError, type Args } from '../args.ts'
import { withServices } from '../project.ts'

export const USAGE = [
  'usage: iwsft byo import FILE [--tokenizer tokenizer.json] [--name N] [--format jsonl|csv|parquet] [--map key=column,…]',
  '                             [--skip-bad-rows] [--max-trace-steps N] [--max-line-bytes N] [--json]',
  '       iwsft byo weights DATASET [--variant trace|per_step] [--temp T] [--aggregate mean|sum] [--clamp lo,hi] [--normalize]',
  '                                 [--clip-ratio lo,hi | --clip-rho lo,hi] [--step-clip lo,hi] [--top N] [--trace I] [--json]',
  '       iwsft byo follow FILE [--tokenizer F] [--map key=column,…] [weight settings as above] [--every MS] [--keep-versions] [--json]',
  'common: [--project FILE]'
].join('\n')

const BOOLEANS = ['json', 'normalize', 'keep-versions', 'skip-bad-rows']

function pair(args: Args, name: string): [number, number] | undefined {
  const v = strFlag(args, name)
  if (v === undefined) return undefined
  const p = v.split(',').map((x) => Number(x.trim()))
  if (p.length !== 2 || p.some((x) => !Number.isFinite(x))) throw new UsageError(`--${name} takes two numbers "lo,hi", got "${v}"`)
  return [p[0], p[1]]
}

/** --map key=column,… (meta=a|b for several columns), checked against the contract's mapping:
 *  an unknown key is a usage error. `iwsft datasets import` takes the same flag. */
export function mappingFromArgs(args: Args): Record<string, string | string[]> | undefined {
  const v = strFlag(args, 'map')
  if (v === undefined) return undefined
  const m: Record<string, string | string[]> = {}
  for (const kv of v.split(',')) {
    const k = kv.indexOf('=')
    if (k <= 0 || k === kv.length - 1) throw new UsageError(`--map takes key=column pairs separated by commas, got "${kv}"`)
    const key = kv.slice(0, k).trim()
    const col = kv.slice(k + 1).trim()
    m[key] = key === 'meta' ? col.split('|') : col
  }
  const r = ByoMappingSchema.safeParse(m)
  if (!r.success)
    throw new UsageError(`--map: ${r.error.issues.map((i) => (i.code === 'unrecognized_keys' ? `unknown key ${i.keys.join(', ')}` : `${i.path.join('.')}: ${i.message}`)).join('; ')}`)
  return r.data
}

/** --skip-bad-rows, --max-trace-steps N, --max-line-bytes N (the contract's import options).
 *  `iwsft datasets import` takes the same flags. */
export function importOptionsFromArgs(args: Args): { skipBadRows?: true; maxTraceSteps?: number; maxLineBytes?: number } {
  return {
    ...(args.flags.has('skip-bad-rows') ? { skipBadRows: true as const } : {}),
    ...(args.flags.has('max-trace-steps') ? { maxTraceSteps: intFlag(args, 'max-trace-steps', 0, 1) } : {}),
    ...(args.flags.has('max-line-bytes') ? { maxLineBytes: intFlag(args, 'max-line-bytes', 0, 1) } : {})
  }
}

/** Every skipped row on stderr (the reason names the file, the line and the field), then a count. */
export function printSkipped(skipped: ReadonlyArray<{ reason: string }>): void {
  if (!skipped.length) return
  for (const r of skipped) process.stderr.write(`skipped: ${r.reason}\n`)
  process.stderr.write(`${skipped.length} bad row${skipped.length > 1 ? 's' : ''} skipped (--skip-bad-rows)\n`)
}

/** The weight settings from the flags, over the LLM defaults; validated like the app's form. */
function settingsFromArgs(args: Args): { settings: ByoSettings; variant: ByoVariant } {
  const s: Record<string, unknown> = { ...byoDefaultSettings() }
  const temp = strFlag(args, 'temp')
  if (temp !== undefined) s.temp = Number(temp)
  const agg = strFlag(args, 'aggregate')
  if (agg !== undefined) s.aggregate = agg
  const clamp = pair(args, 'clamp')
  if (clamp) s.clamp = clamp
  if (args.flags.has('normalize')) s.normalize = true
  const ratio = pair(args, 'clip-ratio')
  const rho = pair(args, 'clip-rho')
  if (ratio && rho) throw new UsageError('give --clip-ratio or --clip-rho, not both')
  if (ratio) s.per_step = { clip_ratio: ratio }
  if (rho) s.per_step = { clip_rho: rho }
  const step = pair(args, 'step-clip')
  if (step) s.step_clip = step
  const variant = strFlag(args, 'variant') ?? 'trace'
  if (variant !== 'trace' && variant !== 'per_step') throw new UsageError(`--variant takes trace or per_step, got "${variant}"`)
  const r = ByoSettingsSchema.safeParse(s)
  if (!r.success) throw new UsageError(`weight settings: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  return { settings: r.data, variant }
}

const f = (v: number | null | undefined, d = 4): string => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v.toPrecision(d)).toString())
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`

function describe(s: ByoSettings, v: ByoVariant): string {
  if (v === 'per_step') return `per-step w_t = clamp(exp ρ_t, [${s.step_clip.join(', ')}])`
  const g = !s.per_step ? 'none' : 'clip_rho' in s.per_step ? `clip ρ to [${s.per_step.clip_rho.join(', ')}]` : `clip ratio to [${s.per_step.clip_ratio.join(', ')}]`
  return `temp ${s.temp} · ${s.aggregate} · per-step ${g} · clamp w to [${s.clamp.join(', ')}] · normalize ${s.normalize ? 'on' : 'off'}`
}

async function datasetArg(s: Services, v: string | undefined): Promise<number> {
  if (!v) throw new UsageError(USAGE)
  try {
    return (await s.call('datasets.find', { ref: v })).id
  } catch (e) {
    if (e instanceof ApiError && e.code === 'not_found') throw new UsageError(`no dataset "${v}" in ${s.projectFile}; import one with \`iwsft byo import FILE\``)
    throw e
  }
}

export async function cmdByo(argv: string[]): Promise<number> {
  const args = parseArgs(argv, BOOLEANS)
  const [sub, target] = args.positionals
  const json = args.flags.has('json')
  const out = (s: string): boolean => process.stdout.write(s)
  if (sub !== 'import' && sub !== 'weights' && sub !== 'follow') throw new UsageError(USAGE)
  if (!target) throw new UsageError(USAGE)
  return withServices(args, async (s) => {
    if (sub === 'import') {
      const format = strFlag(args, 'format')
      if (format !== undefined && format !== 'jsonl' && format !== 'csv' && format !== 'parquet') throw new UsageError(`--format takes jsonl, csv or parquet, got "${format}"`)
      const tokenizerFile = strFlag(args, 'tokenizer')
      const name = strFlag(args, 'name')
      const mapping = mappingFromArgs(args)
      const r = await s.call('byo.import', {
        path: target,
        ...(tokenizerFile ? { tokenizerFile } : {}),
        ...(name ? { name } : {}),
        ...(format ? { format } : {}),
        ...(mapping ? { mapping } : {}),
        ...importOptionsFromArgs(args)
      })
      if (json) out(JSON.stringify(r) + '\n')
      else {
        printSkipped(r.skipped)
        out(`dataset ${r.dataset.id} "${r.dataset.name}": ${r.dataset.numTraces} traces, ${r.dataset.numSteps} steps${r.created ? '' : ' (already in the project)'}\n`)
        if (r.replacedLogProbs) out('note: these traces were imported before with other log-probs; the new ones replaced them\n')
        out(`next: iwsft byo weights ${r.dataset.id}\n`)
      }
      return 0
    }
    const { settings, variant } = settingsFromArgs(args)
    if (sub === 'weights') {
      const id = await datasetArg(s, target)
      const top = intFlag(args, 'top', 5, 1)
      const r = await s.call('byo.inspect', { datasetId: id, settings, variant, top })
      const traceFlag = args.flags.has('trace') ? intFlag(args, 'trace', 0) : null
      const rho = traceFlag !== null ? await s.call('byo.traceRho', { datasetId: id, traceIndex: traceFlag, settings }) : null
      if (json) {
        out(JSON.stringify(rho ? { ...r, trace: rho } : r) + '\n')
        return 0
      }
      const st = r.stats
      out(`dataset ${r.datasetId} "${r.name}": ${r.numTraces} traces, ${r.numSteps} steps\n`)
      out(`settings: ${describe(settings, variant)}\n`)
      out(`ESS ${f(st.ess)} of ${r.numTraces} (${pct(st.ess_fraction)}) · ${variant === 'per_step' ? 'steps clipped' : 'clamp fraction'} ${pct(st.clamp_fraction)}\n`)
      if (r.steps) out(`per-step: ${r.steps.n} steps, ESS ${f(r.steps.ess)} (${pct(r.steps.ess_fraction)}), mean w_t ${f(r.steps.w_mean)}\n`)
      out(`log w raw min / median / max: ${f(st.logw_raw_min)} / ${f(st.logw_raw_median)} / ${f(st.logw_raw_max)}\n`)
      out(`log w      min / median / max: ${f(st.logw_min)} / ${f(st.logw_median)} / ${f(st.logw_max)}\n`)
      out(`Spearman(w, score) ${r.spearman === null ? 'n/a (a constant side)' : f(r.spearman, 3)}\n`)
      for (const [label, rows] of [
        ['most weighted', r.top],
        ['least weighted', r.bottom]
      ] as const) {
        out(`${label}:\n`)
        for (const x of rows)
          out(
            `  trace ${String(x.index).padStart(5)}  ${x.id.slice(0, 24).padEnd(24)} score ${f(x.score).padStart(7)}  |τ| ${String(x.length).padStart(5)}  log w raw ${f(x.logWRaw).padStart(9)}  w ${f(x.w)}\n`
          )
      }
      if (rho) {
        out(`trace ${rho.traceIndex} (${rho.id}): Σρ = ${f(rho.sumRho)}, Σg(ρ) = ${f(rho.sumG)}${rho.truncated ? ' (first tokens shown)' : ''}\n`)
        for (const t of rho.tokens) out(`  ${(t.text ?? String(t.id)).padEnd(12)} ${t.masked ? 'prompt' : `ρ ${f(t.rho)}  w_t ${f(t.w)}`}\n`)
      }
      return 0
    }
    // follow: byo.update events as rows arrive, byo.error events for bad lines; Ctrl+C stops
    const followId = 'cli'
    let rows = 0
    let datasetId: number | null = null
    const unsubscribe = s.subscribe((event, payload) => {
      if (event === 'byo.error') process.stderr.write(`${(payload as { message: string }).message}\n`)
      if (event !== 'byo.update') return
      const { followId: _, ...u } = payload as EventPayloads['byo.update']
      rows = u.rows
      datasetId = u.datasetId
      if (json) out(JSON.stringify(u) + '\n')
      else
        out(
          `${new Date().toISOString().slice(11, 19)} dataset ${u.datasetId}: ${u.numTraces} traces (+${u.newRows}${u.skipped ? `, ${u.skipped} skipped` : ''}) · ESS ${f(u.ess)} (${pct(u.ess_fraction)}) · clamp ${pct(u.clamp_fraction)} · median log w raw ${f(u.logw_raw_median)}\n`
        )
    })
    try {
      const every = args.flags.has('every') ? intFlag(args, 'every', 1000, 0) : undefined
      const tokenizerFile = strFlag(args, 'tokenizer')
      const name = strFlag(args, 'name')
      const mapping = mappingFromArgs(args)
      await s.call('byo.follow', {
        followId,
        path: target,
        settings,
        variant,
        keepVersions: args.flags.has('keep-versions'),
        ...(tokenizerFile ? { tokenizerFile } : {}),
        ...(name ? { name } : {}),
        ...(mapping ? { mapping } : {}),
        ...(every !== undefined ? { minUpdateMs: every } : {})
      })
      if (!json) process.stderr.write(`following ${target} (${describe(settings, variant)}); Ctrl+C stops\n`)
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          void s.call('byo.unfollow', { followId }).then(
            () => done(),
            () => done()
          )
        }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
      })
    } finally {
      unsubscribe()
    }
    if (!json) process.stderr.write(`stopped; ${rows} rows${datasetId !== null ? ` in dataset ${datasetId}` : ''}\n`)
    return 0
  })
}
