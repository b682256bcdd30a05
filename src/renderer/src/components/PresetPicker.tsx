// New run's "Paper preset" for control datasets (issue 15): a row of the paper's Table 4
// (presets.ts) as the starting point of the form. Choosing a row resets the fields it sets to the
// row's values (New run drops the edits of those fields), so what the form shows is what runs;
// a field edited afterwards wins over the row, as a config's own keys do in resolveConfig, and
// the table below marks it. The run records the row's name in its config (`preset`).
import { TABLE4, table4Row, type Table4Row } from '../../../shared/presets.ts'
import type { RunConfig } from '../../../shared/config.ts'

/** The form fields a Table 4 row sets (applyPreset in config.ts); New run resets them on a choice. */
export const PRESET_PATHS = [
  'optim.lr',
  'optim.warmup_steps',
  'optim.schedule',
  'train.steps',
  'weights.temp',
  'weights.aggregate',
  'weights.normalize',
  'weights.q.kind',
  'weights.q.beta'
] as const

interface Shown {
  label: string
  row(r: Table4Row): string
  form(c: RunConfig): string
}
const SHOWN: Shown[] = [
  { label: 'learning rate', row: (r) => String(r.lr), form: (c) => String(c.optim.lr) },
  { label: 'warm-up steps', row: (r) => String(r.warmupSteps), form: (c) => String(c.optim.warmup_steps) },
  { label: 'steps', row: (r) => String(r.steps), form: (c) => String(c.train.steps) },
  { label: 'EMA α (q)', row: (r) => `ema ${r.emaBeta}`, form: (c) => (c.weights.q.kind === 'ema' ? `ema ${c.weights.q.beta}` : c.weights.q.kind) },
  { label: 'temp (k·|τ|)', row: (r) => String(r.temp), form: (c) => String(c.weights.temp) },
  { label: 'normalised', row: (r) => (r.normalize ? 'yes' : 'no'), form: (c) => (c.weights.normalize ? 'yes' : 'no') }
]

export function PresetPicker(props: {
  value: string | null
  onChange(name: string | null): void
  /** the row that fits the dataset (presetForDataset), listed first */
  suggested?: string
  /** the config as the form has it now */
  form: RunConfig
}): React.JSX.Element {
  const { value, onChange, suggested, form } = props
  const row = value ? table4Row(value) : undefined
  const ordered = suggested ? [...TABLE4.filter((r) => r.name === suggested), ...TABLE4.filter((r) => r.name !== suggested)] : TABLE4
  return (
    <fieldset className="panel preset-picker" data-testid="preset-picker">
      <legend>Paper preset (Table 4)</legend>
      <div className="preset-head">
        <div className="field">
          <label htmlFor="nr-paper-preset">row</label>
          <select id="nr-paper-preset" data-testid="nr-paper-preset" value={value ?? ''} onChange={(e) => onChange(e.target.value || null)}>
            <option value="">none · the domain's defaults</option>
            {ordered.map((r) => (
              <option key={r.name} value={r.name}>
                {r.name}
                {r.name === suggested ? ' (fits this dataset)' : ''}
              </option>
            ))}
          </select>
        </div>
        <p className="muted small">
          A row sets the fine-tuning lr, warm-up, steps, EMA q, temperature, normalisation and quality-bin cutoffs (90, 95, 98). Choosing one puts the row's values in the form; a value you
          change afterwards wins over the row, and the run records the row's name.
        </p>
      </div>
      {row && (
        <table className="table preset-table" data-testid="preset-table">
          <thead>
            <tr>
              <th>setting</th>
              <th>{row.name}</th>
              <th>this run</th>
            </tr>
          </thead>
          <tbody>
            {SHOWN.map((x) => {
              const mine = x.form(form)
              const differs = mine !== x.row(row)
              return (
                <tr key={x.label} className={differs ? 'overridden' : ''} data-testid={`preset-row-${x.label.split(' ')[0]}`}>
                  <td>{x.label}</td>
                  <td className="num">{x.row(row)}</td>
                  <td className="num">{differs ? `${mine} · your value wins` : mine}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </fieldset>
  )
}
