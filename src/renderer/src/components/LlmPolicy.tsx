// New run's "Policy: project model" panel (issue 14): fine-tune a language model of the project
// with LoRA or in full, its start model as π_ref, a micro-batch for gradient accumulation, and an
// estimate of the memory the run needs. The choices are turned into the config's `policy`,
// `reference` and `train.micro_batch` by applyLlmChoice; the config schema checks them.
import { LORA_DEFAULTS, type LoraConfig } from '../../../shared/config.ts'
import type { ModelInfo } from '../../../shared/models.ts'
import { fmtInt } from '../lib/format.ts'

export const LORA_TARGETS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const
type Target = (typeof LORA_TARGETS)[number]

export interface LlmChoice {
  model: string
  finetune: 'lora' | 'full'
  /** raw text of the number fields, parsed when the config is built (the schema reports bad ones) */
  rank: string
  alpha: string
  dropout: string
  targets: Target[]
  microBatch: string
  /** π_ref = the start model (reference kind "model") */
  referenceStart: boolean
}

export function defaultLlmChoice(model: string): LlmChoice {
  return {
    model,
    finetune: 'lora',
    rank: String(LORA_DEFAULTS.rank),
    alpha: String(LORA_DEFAULTS.alpha),
    dropout: String(LORA_DEFAULTS.dropout),
    targets: [...LORA_DEFAULTS.targets],
    microBatch: '',
    referenceStart: true
  }
}

const num = (s: string): number => (s.trim() === '' ? NaN : Number(s))

/** Writes the choice into a config being built (a plain object: the schema validates it after). */
export function applyLlmChoice(c: Record<string, unknown>, x: LlmChoice): void {
  const lora: LoraConfig = { rank: num(x.rank), alpha: num(x.alpha), dropout: num(x.dropout), targets: x.targets, rslora: false }
  c.policy = x.finetune === 'lora' ? { kind: 'llm', model: x.model, finetune: 'lora', lora } : { kind: 'llm', model: x.model, finetune: 'full' }
  if (x.referenceStart) c.reference = { kind: 'model', model: x.model }
  c.train = { ...(c.train as object), micro_batch: x.microBatch.trim() === '' ? null : num(x.microBatch) }
}

/** LoRA's trainable parameters: rank · (in + out) per adapted linear per layer (A: in×r, B: r×out). */
export function loraParameters(m: ModelInfo, rank: number, targets: readonly Target[]): number {
  const d = m.details
  const q = d.nHeads * d.headDim
  const kv = d.nKvHeads * d.headDim
  const dims: Record<Target, [number, number]> = {
    q: [d.dModel, q],
    k: [d.dModel, kv],
    v: [d.dModel, kv],
    o: [q, d.dModel],
    gate: [d.dModel, d.dFF],
    up: [d.dModel, d.dFF],
    down: [d.dFF, d.dModel]
  }
  return m.layers * targets.reduce((a, t) => a + rank * (dims[t][0] + dims[t][1]), 0)
}

/** An estimate, in bytes, of the memory a fine-tuning run needs, from the model's recorded float32
 *  memory (weights + scoring a batch). Trainable parameters carry 3 more float32 copies: the
 *  gradient and Adam's two moments. LoRA: only the adapters train; full: every weight does. */
export function memoryEstimate(m: ModelInfo, finetune: 'lora' | 'full', rank: number, targets: readonly Target[]): number {
  const trainable = finetune === 'full' ? m.parameters : loraParameters(m, Number.isFinite(rank) ? rank : 0, targets)
  const adapters = finetune === 'lora' ? trainable * 4 : 0
  return m.memoryBytes + adapters + trainable * 4 * 3
}

const gb = (b: number): string => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 2 : 1)} GB`

export function LlmPolicyPanel(props: { models: ModelInfo[]; choice: LlmChoice; onChange(c: LlmChoice): void; issues: Record<string, string> }): React.JSX.Element {
  const { models, choice: x, onChange, issues } = props
  const m = models.find((k) => k.name === x.model)
  const set = (patch: Partial<LlmChoice>): void => onChange({ ...x, ...patch })
  const err = (path: string, id: string): React.ReactNode =>
    issues[path] ? (
      <span className="field-error" id={`${id}-err`} role="alert">
        {issues[path]}
      </span>
    ) : null
  const numField = (key: 'rank' | 'alpha' | 'dropout' | 'microBatch', path: string, label: string, hint?: string): React.ReactNode => {
    const id = `llm-${key}`
    return (
      <div className={`field${issues[path] ? ' invalid' : ''}`}>
        <label htmlFor={id}>{label}</label>
        <input id={id} data-testid={id} inputMode="decimal" value={x[key]} placeholder={hint} onChange={(e) => set({ [key]: e.target.value })} aria-invalid={!!issues[path]} />
        {err(path, id)}
      </div>
    )
  }
  const rank = num(x.rank)
  const est = m ? memoryEstimate(m, x.finetune, rank, x.targets) : null
  const trainable = m ? (x.finetune === 'full' ? m.parameters : loraParameters(m, Number.isFinite(rank) ? rank : 0, x.targets)) : null
  return (
    <fieldset className="panel llm-policy" data-testid="llm-policy">
      <legend>Policy: project model</legend>
      <div className="form-grid">
        <div className={`field${issues['policy.model'] ? ' invalid' : ''}`}>
          <label htmlFor="llm-model">start model</label>
          <select id="llm-model" data-testid="llm-model" value={x.model} onChange={(e) => set({ model: e.target.value })}>
            {models.map((k) => (
              <option key={k.id} value={k.name}>
                {k.name} · {fmtInt(k.parameters)} parameters
              </option>
            ))}
          </select>
          {err('policy.model', 'llm-model')}
        </div>
        <div className="field">
          <label htmlFor="llm-finetune">fine-tuning</label>
          <select id="llm-finetune" data-testid="llm-finetune" value={x.finetune} onChange={(e) => set({ finetune: e.target.value as 'lora' | 'full' })}>
            <option value="lora">LoRA adapters (base frozen)</option>
            <option value="full">full (every weight)</option>
          </select>
        </div>
        {x.finetune === 'lora' && numField('rank', 'policy.lora.rank', 'LoRA rank')}
        {x.finetune === 'lora' && numField('alpha', 'policy.lora.alpha', 'LoRA alpha')}
        {x.finetune === 'lora' && numField('dropout', 'policy.lora.dropout', 'LoRA dropout')}
        {numField('microBatch', 'train.micro_batch', 'micro-batch', 'empty = whole batch')}
        <div className="field">
          <label htmlFor="llm-ref">reference π_ref</label>
          <label className="row gap small">
            <input id="llm-ref" data-testid="llm-ref" type="checkbox" checked={x.referenceStart} onChange={(e) => set({ referenceStart: e.target.checked })} />
            the start model
          </label>
        </div>
      </div>
      {x.finetune === 'lora' && (
        <div className={`field${issues['policy.lora.targets'] ? ' invalid' : ''}`}>
          <span className="label">LoRA target modules</span>
          <div className="row gap" role="group" aria-label="LoRA target modules">
            {LORA_TARGETS.map((t) => (
              <label key={t} className="row small">
                <input
                  type="checkbox"
                  data-testid={`llm-target-${t}`}
                  checked={x.targets.includes(t)}
                  onChange={(e) => set({ targets: e.target.checked ? LORA_TARGETS.filter((k) => k === t || x.targets.includes(k)) : x.targets.filter((k) => k !== t) })}
                />
                {t}
              </label>
            ))}
          </div>
          {err('policy.lora.targets', 'llm-targets')}
        </div>
      )}
      {m && est !== null && trainable !== null && (
        <p className="muted small" data-testid="llm-memory">
          memory estimate ≈ {gb(est)} · {fmtInt(trainable)} trainable parameters · from the model's float32 memory ({gb(m.memoryBytes)}) plus gradients and Adam's two moments of what trains
        </p>
      )}
    </fieldset>
  )
}
