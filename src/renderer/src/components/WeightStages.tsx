// Each stage of the weights at one snapshot (lib/weight-stages.ts), one at a time behind a
// switch: log w raw, the clamped w, w as the loss used it (under the sampling mass) and the
// step's batch as the loss weighted it — the stage's numbers, its histogram (the one log-w
// histogram component) on bin edges shared by every stage, and the batch's rows.
import { useMemo, useState } from 'react'
import type { SnapshotData } from '../../../shared/contract.ts'
import { fmt, fmtInt } from '../lib/format.ts'
import { batchRows, stageHistogramTraces, weightStages, type StageName } from '../lib/weight-stages.ts'
import { Kpi } from './Kpi.tsx'
import { LogWHistogram } from './LogWHistogram.tsx'

const STAGE_BUTTONS: Array<{ stage: StageName; text: string }> = [
  { stage: 'raw', text: 'raw log w' },
  { stage: 'clamped', text: 'clamped w' },
  { stage: 'loss', text: 'w in the loss' },
  { stage: 'batch', text: 'the step’s batch' }
]

/** `weighted`: the run's loss used these weights (false for SFT, SFT(Q): the snapshot holds what
 *  iw-SFT would have used, and the labels say so). */
export function WeightStages({ snap, normalizes, weighted, logY }: { snap: SnapshotData; normalizes: boolean; weighted: boolean; logY: boolean }): React.JSX.Element {
  const [pick, setPick] = useState<StageName>('loss')
  const stages = useMemo(() => weightStages(snap, normalizes), [snap, normalizes])
  const shown = stages.find((s) => s.stage === pick) ?? stages[stages.length - 1]
  const hist = useMemo(() => stageHistogramTraces(stages, shown.stage), [stages, shown.stage])
  const rows = useMemo(() => batchRows(snap), [snap])
  return (
    <div className="panel" data-testid="ins-stages">
      <h3>Weight stages · step {snap.step}</h3>
      <div className="row gap wrap">
        <div className="stage-switch" role="radiogroup" aria-label="weight stage">
          {STAGE_BUTTONS.map((b) => {
            const has = stages.some((s) => s.stage === b.stage)
            return (
              <button
                key={b.stage}
                role="radio"
                aria-checked={shown.stage === b.stage}
                className={`chip${shown.stage === b.stage ? ' on' : ''}`}
                disabled={!has}
                title={has ? undefined : b.stage === 'batch' ? 'this snapshot holds no batch (older format, or a method without trace weights)' : undefined}
                onClick={() => setPick(b.stage)}
                data-testid={`ins-stage-${b.stage}`}
              >
                {b.text}
              </button>
            )
          })}
        </div>
      </div>
      <p className="small muted" data-testid="ins-stage-label">
        {shown.label} · N = {shown.over}
        {!weighted && shown.stage !== 'raw' ? ' · not in this run’s loss (every trace counted with w = 1): what iw-SFT would use' : ''}
      </p>
      <div className="kpis">
        <Kpi label="N" value={fmtInt(shown.n)} testId="ins-stage-n" />
        <Kpi label={shown.stage === 'raw' ? 'ESS / N of exp(log w raw)' : 'ESS / N'} value={fmt(shown.ess_n, 4)} testId="ins-stage-ess" />
        <Kpi label="log w min / median / max" value={`${fmt(shown.logw_min)} / ${fmt(shown.logw_median)} / ${fmt(shown.logw_max)}`} testId="ins-stage-mmm" />
        {shown.kind === 'w' && <Kpi label="mean w" value={fmt(shown.mean_w, 4)} testId="ins-stage-mean" />}
        {shown.zeros > 0 && <Kpi label="w = 0 (not binned)" value={fmtInt(shown.zeros)} testId="ins-stage-zeros" />}
      </div>
      <LogWHistogram data={hist} logY={logY} testId="ins-stage-histogram" />
      {rows.length > 0 && (
        <details open={shown.stage === 'batch'} className="batch-rows">
          <summary className="small">
            the step’s batch: {rows.length} rows, {new Set(rows.map((r) => r.traceIndex)).size} distinct traces
          </summary>
          <div className="scroll-y batch-scroll">
            <table className="table compact" data-testid="ins-batch">
              <thead>
                <tr>
                  <th className="num">row</th>
                  <th className="num">trace</th>
                  <th className="num">score</th>
                  <th className="num">μ</th>
                  <th className="num">log w raw</th>
                  <th className="num">w clamped</th>
                  <th className="num">w in the loss</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.row}>
                    <td className="num">{r.row}</td>
                    <td className="num">{r.traceIndex}</td>
                    <td className="num">{fmt(r.score)}</td>
                    <td className="num">{fmt(r.mass)}</td>
                    <td className="num">{fmt(r.logWRaw)}</td>
                    <td className="num">{fmt(r.wClamped)}</td>
                    <td className="num" data-testid={`ins-batch-w-${r.row}`}>
                      {fmt(r.w, 6)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      )}
    </div>
  )
}
