// A stored run's weight diagnostics (engine/weights-diagnostics.ts) from what the project keeps:
// its last weight snapshot, its curation (re-applied to the dataset's scores), its logged
// ESS/N, and π_ref's action σ when π_ref is a checkpoint of a Gaussian policy. Suites, sweeps
// and reports all read them here.
import { isImportanceWeighted, isPerStep, trainsOnAllData, usesQualityBins } from '../../shared/config.ts'
import { curate } from '../../shared/curation.ts'
import { gaussianActionStd, traceWeightDiagnostics, weightWarnings } from '../engine/weights-diagnostics.ts'
import type { ProjectStore } from '../store/types.ts'

export type { RunDiagnostics } from '../../shared/weight-stats.ts'
import type { RunDiagnostics } from '../../shared/weight-stats.ts'

/** Diagnostics of a run, or null for a run without importance weights to judge (BC). */
export function runWeightDiagnostics(store: ProjectStore, runId: number): RunDiagnostics | null {
  const run = store.getRun(runId)
  if (!run) throw new Error(`no run ${runId} in ${store.file}`)
  const { config } = run
  if (trainsOnAllData(config.method)) return null
  const curve = store
    .getMetrics(runId, ['ess_fraction'])
    .filter((m) => Number.isFinite(m.value))
    .map((m): [number, number] => [m.step, m.value])
  const out: RunDiagnostics = {
    run_id: runId,
    step: null,
    ess_n_final: null,
    ess_n_batch_final: curve.length ? curve[curve.length - 1][1] : null,
    ess_n_curve: curve,
    ref_action_std: referenceActionStd(store, config.reference),
    warnings: []
  }
  const steps = store.listSnapshotSteps(runId)
  if (steps.length === 0 || run.datasetId === null) return out
  const snap = store.getWeightSnapshot(runId, steps[steps.length - 1])!
  const ds = store.getDataset(run.datasetId)
  const bins = curate(ds.scores, config.curation).multiplicity
  const idx = snap.traceIndex
  const bin = Float64Array.from(idx, (i) => bins[i])
  const length = Float64Array.from(idx, (i) => {
    let n = 0
    for (let t = ds.offsets[i]; t < ds.offsets[i + 1]; t++) n += ds.mask[t] ? 1 : 0
    return n
  })
  const d = traceWeightDiagnostics({
    logWRaw: snap.logWRaw,
    mass: usesQualityBins(config.method) ? bin : new Float64Array(idx.length).fill(1),
    bin,
    score: Float64Array.from(idx, (i) => ds.scores[i]),
    length,
    clamp: config.weights.clamp,
    temp: config.weights.temp,
    aggregate: config.weights.aggregate
  })
  out.step = snap.step
  if (isPerStep(config.method)) {
    // per-step weights: no trace weight enters the loss; ρ still says how far q moved
    out.mean_rho_per_step = d.mean_rho_per_step
    return out
  }
  Object.assign(out, d)
  // SFT and SFT(Q): the loss has no weights (all 1); the numbers above say what the config's
  // weights would be, but the run's own ESS/N is not theirs
  if (!isImportanceWeighted(config.method)) return out
  out.ess_n_final = d.ess_n
  out.warnings = weightWarnings(d)
  return out
}

/** σ of π_ref when it is a stored checkpoint of a Gaussian policy: its last parameter is the
 *  state-independent log-std (gaussian-mlp.ts), clamped as the policy clamps it. */
function referenceActionStd(store: ProjectStore, ref: { kind: string; run?: number; step?: number }): number[] | null {
  if (ref.kind !== 'checkpoint' || ref.run === undefined) return null
  const list = store.listCheckpoints(ref.run)
  const row = ref.step === undefined ? list.reduce<(typeof list)[number] | null>((a, b) => (!a || b.step > a.step ? b : a), null) : list.find((c) => c.step === ref.step)
  if (!row) return null
  const { tensors, spec } = store.getCheckpoint(row.id)
  const p = (spec as { policy?: { kind?: string; logStdMin?: number; logStdMax?: number } } | null)?.policy
  if (p?.kind !== 'gaussian-mlp' || p.logStdMin === undefined || p.logStdMax === undefined) return null
  const params = tensors.filter((t) => t.name.startsWith('policy/'))
  const logStd = params.reduce((a, b) => (Number(b.name.slice(7)) > Number(a.name.slice(7)) ? b : a))
  return gaussianActionStd(logStd.data, [p.logStdMin, p.logStdMax])
}

const SUMMARY_KEYS = [
  'ess_n_final',
  'ess_n_batch_final',
  'effective_traces',
  'top1_share',
  'top5_share',
  'clamp_fraction',
  'clamp_share',
  'spearman_w_score',
  'spearman_w_bin',
  'mean_rho_per_step'
] as const

export type DiagnosticsSummary = Partial<Record<(typeof SUMMARY_KEYS)[number], number>> & { ref_action_std?: number[] }

/** Mean over seeds of each diagnostic a run has (a NaN correlation of one seed counts as missing). */
export function summarizeDiagnostics(runs: RunDiagnostics[]): DiagnosticsSummary {
  const out: DiagnosticsSummary = {}
  for (const k of SUMMARY_KEYS) {
    const v = runs.map((r) => r[k]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
    if (v.length) out[k] = v.reduce((a, b) => a + b, 0) / v.length
  }
  const stds = runs.map((r) => r.ref_action_std).filter((s): s is number[] => s !== null)
  if (stds.length) out.ref_action_std = stds[0].map((_, j) => stds.reduce((a, s) => a + s[j], 0) / stds.length)
  return out
}
