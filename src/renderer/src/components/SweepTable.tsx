// A sweep's table (sweeps.results): one row per grid point with its swept values, the final
// metric's mean ± std over seeds, how many seeds have a value, the mean ESS/N of its weights at
// the last snapshot and its runs' weight warnings (from the back end).
import type { SweepPointResult } from '../../../shared/contract.ts'
import { fmt } from '../lib/format.ts'
import { paramText, sweepKeys } from '../lib/sweep.ts'

export function SweepTable({ results, onInspect }: { results: SweepPointResult[]; onInspect?: (runId: number) => void }): React.JSX.Element {
  const keys = sweepKeys(results)
  const metric = results[0]?.metric ?? ''
  return (
    <div className="scroll-x">
      <table className="table compact sweep-table" data-testid="sweep-table">
        <thead>
          <tr>
            {keys.map((k) => (
              <th key={k} className="mono">
                {k}
              </th>
            ))}
            <th className="num">{metric} mean ± std</th>
            <th className="num">seeds</th>
            <th className="num">ESS/N final</th>
            <th>runs</th>
          </tr>
        </thead>
        <tbody>
          {results.map((r, i) => (
            <tr key={i} data-testid={`sweep-row-${i}`} className={r.warnings.length ? 'warned' : undefined}>
              {keys.map((k) => (
                <td key={k} className="mono" data-testid={`sweep-param-${i}-${k}`}>
                  {paramText(r.params[k])}
                </td>
              ))}
              <td className="num nowrap" data-testid={`sweep-mean-${i}`} title={`per seed: ${r.values.map((v) => fmt(v, 5)).join(', ')}`}>
                {r.mean === null ? '–' : `${fmt(r.mean, 4)} ± ${fmt(r.std ?? 0, 2)}`}
              </td>
              <td className="num" data-testid={`sweep-seeds-${i}`}>
                {r.seeds}
                {r.seeds < r.run_ids.length ? <span className="muted"> of {r.run_ids.length}</span> : null}
              </td>
              <td className="num" data-testid={`sweep-ess-${i}`}>
                {r.ess_n_final === null ? '–' : fmt(r.ess_n_final, 3)}
                {r.warnings.length > 0 && (
                  <span className="warn-badge" title={r.warnings.join('\n')} data-testid={`sweep-warn-${i}`}>
                    ⚠ {r.warnings.length}
                  </span>
                )}
              </td>
              <td className="small nowrap">
                {r.run_ids.map((id) =>
                  onInspect ? (
                    <button key={id} className="linklike" onClick={() => onInspect(id)} title={`inspect the weights of run #${id}`}>
                      #{id}
                    </button>
                  ) : (
                    <span key={id}>#{id} </span>
                  )
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
