// Metrics and per-trace weights as CSV. Metrics in long format (run,step,key,value), one file
// for any number of runs; weights per run at one saved step (trace,id,log_w_raw,w,score,bin),
// where bin is the trace's curation multiplicity (0 = discarded).
import { curate } from '../../shared/curation.ts'
import type { ProjectStore } from '../store/types.ts'
import { writeFilesAtomic, type AtomicFile } from '../export/atomic.ts'

/** RFC 4180 cell: quoted when it holds a comma, quote or line break. */
export const csvCell = (v: string | number): string => {
  const s = typeof v === 'number' ? numStr(v) : v
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** Shortest round-tripping text of a number; non-finite values as NaN / Infinity / -Infinity. */
const numStr = (v: number): string => (Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity')

export function metricsCsv(store: ProjectStore, runIds: number[]): string {
  const lines = ['run,step,key,value']
  for (const id of runIds) {
    const pts = store
      .getMetrics(id)
      .slice()
      .sort((a, b) => a.step - b.step || a.key.localeCompare(b.key))
    for (const p of pts) lines.push(`${id},${p.step},${csvCell(p.key)},${csvCell(p.value)}`)
  }
  return lines.join('\n') + '\n'
}

/** Per-trace weights of a run at `step` (default: the last snapshot); null when the run has no snapshot. */
export function weightsCsv(store: ProjectStore, runId: number, step?: number): { step: number; csv: string } | null {
  const steps = store.listSnapshotSteps(runId)
  if (steps.length === 0) return null
  const s = step ?? steps[steps.length - 1]
  const snap = store.getWeightSnapshot(runId, s)
  if (!snap) throw new Error(`run ${runId} has no weight snapshot at step ${s}; saved steps: ${steps.join(', ')}`)
  const run = store.getRun(runId)
  if (!run) throw new Error(`no run ${runId}`)
  const ds = run.datasetId !== null ? store.getDataset(run.datasetId) : null
  const bins = ds ? curate(ds.scores, run.method === 'bc' ? { mode: 'all' } : run.config.curation).multiplicity : null
  const lines = ['trace,id,log_w_raw,w,score,bin']
  for (let i = 0; i < snap.traceIndex.length; i++) {
    const t = snap.traceIndex[i]
    lines.push([String(t), csvCell(ds ? ds.ids[t] : ''), csvCell(snap.logWRaw[i]), csvCell(snap.w[i]), ds ? csvCell(ds.scores[t]) : '', bins ? String(bins[t]) : ''].join(','))
  }
  return { step: s, csv: lines.join('\n') + '\n' }
}

/** The CSV files of a report: metrics.csv, and weights-run<ID>-step<S>.csv for every run with a snapshot. */
export function csvFiles(store: ProjectStore, runIds: number[]): AtomicFile[] {
  const files: AtomicFile[] = [{ name: 'metrics.csv', content: metricsCsv(store, runIds) }]
  for (const id of runIds) {
    const w = weightsCsv(store, id)
    if (w) files.push({ name: `weights-run${id}-step${w.step}.csv`, content: w.csv })
  }
  return files
}

/** Write the report's CSV files into `dir` (atomically, refusing to overwrite unless asked). */
export async function writeCsvs(store: ProjectStore, runIds: number[], dir: string, opts: { overwrite?: boolean } = {}): Promise<string[]> {
  return writeFilesAtomic(dir, csvFiles(store, runIds), opts)
}
