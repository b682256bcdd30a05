// The rows an import left out with "skip bad rows", each with its reason (file, line, field):
// a count, and the list on demand (the first 1,000; the CLI prints them all).
import type { SkippedRow } from '../../../shared/contract.ts'

const SHOWN = 1000

export function SkippedRows({ rows }: { rows: SkippedRow[] }): React.JSX.Element | null {
  if (rows.length === 0) return null
  return (
    <details className="small" data-testid="skipped-rows">
      <summary className="error-text">
        {rows.length} bad row{rows.length > 1 ? 's' : ''} skipped
      </summary>
      <ul className="mono small" style={{ maxHeight: '14em', overflow: 'auto', margin: '4px 0' }}>
        {rows.slice(0, SHOWN).map((r) => (
          <li key={r.line}>{r.reason}</li>
        ))}
      </ul>
      {rows.length > SHOWN && <p className="muted small">and {rows.length - SHOWN} more (the command line lists them all: --skip-bad-rows)</p>}
    </details>
  )
}
