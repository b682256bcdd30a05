// New run: dataset, curation preset, method, hyper-parameters pre-filled with the paper's
// values for the dataset's domain, backend, and several seeds launched as one group. Every
// field is validated as you type (the same zod schema the back end uses); errors sit beside
// the field they are about. A control dataset can start from a row of the paper's Table 4
// (PresetPicker); "Run on" (RunOnPanel) sends the same config to the engine here, to the Python
// trainer under accelerate, or to a job folder for a cluster; on this machine a sweep
// (SweepLaunch) runs a grid of settings × seeds as one group and opens Compare on it.
import { useEffect, useMemo, useState } from 'react'
import {
  applyPreset,
  BACKENDS,
  defaultConfig,
  domainOf,
  isImportanceWeighted,
  METHOD_LABELS,
  METHODS,
  RunConfigSchema,
  trainsOnAllData,
  usesQualityBins,
  type Method,
  type RunConfig
} from '../../../shared/config.ts'
import { ApiError, type ReferenceCost } from '../../../shared/contract.ts'
import { fmtDuration, fmtInt } from '../lib/format.ts'
import { usePresets } from '../hooks.ts'
import { useApp } from '../state.tsx'
import { describeCuration } from './Curation.tsx'
import { applyLlmChoice, defaultLlmChoice, LlmPolicyPanel, type LlmChoice } from '../components/LlmPolicy.tsx'
import type { ModelInfo } from '../../../shared/models.ts'
import { presetForDataset } from '../../../shared/presets.ts'
import type { RunOn } from '../../../shared/launch.ts'
import { PRESET_PATHS, PresetPicker } from '../components/PresetPicker.tsx'
import { RunOnChoice, RunOnPanel } from '../components/RunOnPanel.tsx'
import { SweepLaunch } from '../components/SweepLaunch.tsx'

type Kind = 'number' | 'int' | 'nullable-number' | 'text' | 'bool' | 'list'
interface FieldDef {
  path: string
  label: string
  kind: Kind
  options?: readonly string[]
  hint?: string
  show?(c: RunConfig): boolean
}

const FIELDS: Array<{ title: string; fields: FieldDef[] }> = [
  {
    title: 'Optimiser',
    fields: [
      { path: 'optim.kind', label: 'optimiser', kind: 'text', options: ['adam', 'adamw'] },
      { path: 'optim.lr', label: 'learning rate', kind: 'number' },
      { path: 'optim.weight_decay', label: 'weight decay', kind: 'number' },
      { path: 'optim.warmup_steps', label: 'warm-up steps', kind: 'int' },
      { path: 'optim.schedule', label: 'schedule', kind: 'text', options: ['cosine', 'constant'] },
      { path: 'optim.clip_grad_norm', label: 'clip grad norm', kind: 'nullable-number', hint: 'empty = off' }
    ]
  },
  {
    title: 'Training',
    fields: [
      { path: 'train.steps', label: 'steps', kind: 'int' },
      { path: 'train.batch_size', label: 'batch size', kind: 'int' },
      { path: 'train.loss_norm', label: 'loss normalisation', kind: 'text', options: ['trace', 'token'] },
      { path: 'train.log_every', label: 'log every', kind: 'int' },
      { path: 'train.eval_every', label: 'evaluate every', kind: 'int' },
      { path: 'train.snapshot_every', label: 'weight snapshot every', kind: 'int' }
    ]
  },
  {
    title: 'Importance weights',
    fields: [
      { path: 'weights.temp', label: 'temperature (k·|τ|)', kind: 'number', show: (c) => isImportanceWeighted(c.method) },
      { path: 'weights.aggregate', label: 'aggregate', kind: 'text', options: ['mean', 'sum'], show: (c) => isImportanceWeighted(c.method) },
      { path: 'weights.clamp.0', label: 'clamp w ≥', kind: 'number', show: (c) => isImportanceWeighted(c.method) },
      { path: 'weights.clamp.1', label: 'clamp w ≤', kind: 'number', show: (c) => isImportanceWeighted(c.method) },
      { path: 'weights.normalize', label: 'self-normalise per batch', kind: 'bool', show: (c) => isImportanceWeighted(c.method) },
      { path: 'weights.q.kind', label: 'q', kind: 'text', options: ['current', 'ema', 'periodic'], show: (c) => isImportanceWeighted(c.method) },
      { path: 'weights.q.beta', label: 'EMA β', kind: 'number', show: (c) => isImportanceWeighted(c.method) && c.weights.q.kind === 'ema' },
      { path: 'weights.q.every', label: 'copy θ → θ_q every', kind: 'int', show: (c) => isImportanceWeighted(c.method) && c.weights.q.kind === 'periodic' },
      { path: 'weights.step_clip.0', label: 'per-step clip ≥', kind: 'number', show: (c) => c.method.endsWith('-step') },
      { path: 'weights.step_clip.1', label: 'per-step clip ≤', kind: 'number', show: (c) => c.method.endsWith('-step') }
    ]
  },
  {
    // π_ref by behaviour cloning on all data (the control domain's default): trained once per data,
    // settings and seed, then reused from the project's cache
    title: 'Reference π_ref',
    fields: [
      {
        path: 'reference.kind',
        label: 'reference',
        kind: 'text',
        options: ['init', 'bc'],
        hint: 'bc: behaviour cloning on all data',
        show: (c) => !trainsOnAllData(c.method) && (c.reference.kind === 'init' || c.reference.kind === 'bc')
      },
      { path: 'reference.steps', label: 'BC steps', kind: 'int', show: (c) => !trainsOnAllData(c.method) && c.reference.kind === 'bc' },
      { path: 'reference.lr', label: 'BC learning rate', kind: 'number', show: (c) => !trainsOnAllData(c.method) && c.reference.kind === 'bc' },
      { path: 'reference.batch_size', label: 'BC batch size', kind: 'int', show: (c) => !trainsOnAllData(c.method) && c.reference.kind === 'bc' }
    ]
  },
  {
    title: 'Policy',
    fields: [{ path: 'policy.hidden', label: 'hidden layers', kind: 'list', hint: 'e.g. 256, 256, 256 (empty = none)', show: (c) => 'hidden' in c.policy }]
  }
]

function getPath(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((a, k) => (a && typeof a === 'object' ? (a as Record<string, unknown>)[k] : undefined), o)
}
function setPath(o: Record<string, unknown>, path: string, v: unknown): void {
  const keys = path.split('.')
  let cur: Record<string, unknown> = o
  for (const k of keys.slice(0, -1)) {
    const next = cur[k]
    cur[k] = Array.isArray(next) ? [...next] : { ...(next as object) }
    cur = cur[k] as Record<string, unknown>
  }
  cur[keys.at(-1)!] = v
}

function parseRaw(kind: Kind, raw: string): unknown {
  const t = raw.trim()
  if (kind === 'bool') return raw === 'true'
  if (kind === 'text') return raw
  if (kind === 'list') return t === '' ? [] : t.split(/[,\s]+/).map(Number)
  if (kind === 'nullable-number' && t === '') return null
  return t === '' ? NaN : Number(t)
}

function parseSeeds(s: string): { seeds: number[]; error: string | null } {
  const parts = s.split(/[,\s]+/).filter(Boolean)
  if (!parts.length) return { seeds: [], error: 'give at least one seed, e.g. 0, 1, 2' }
  const seeds: number[] = []
  for (const p of parts) {
    const range = /^(\d+)-(\d+)$/.exec(p)
    if (range) {
      for (let k = Number(range[1]); k <= Number(range[2]); k++) seeds.push(k)
      continue
    }
    const n = Number(p)
    if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) return { seeds: [], error: `"${p}" is not a seed: whole numbers 0 … 2147483647` }
    seeds.push(n)
  }
  if (new Set(seeds).size !== seeds.length) return { seeds: [], error: 'each seed once' }
  if (seeds.length > 32) return { seeds: [], error: 'at most 32 seeds at once' }
  return { seeds, error: null }
}

/** "reference: cached" or "reference: 10000 steps ≈ 12 min" for the config about to launch (one BC
 *  reference per seed: the seed initialises it), asked of the back end (runs.referenceCost) a
 *  moment after the last edit; null when the run has no BC reference. */
function useReferenceCost(api: ReturnType<typeof useApp>['api'], config: RunConfig | null, seeds: number[]): string | null {
  const [text, setText] = useState<string | null>(null)
  const key = config ? JSON.stringify([config, seeds]) : ''
  useEffect(() => {
    if (!config || config.reference.kind !== 'bc' || trainsOnAllData(config.method) || !seeds.length) return setText(null)
    let live = true
    const t = setTimeout(() => {
      Promise.all(seeds.map((seed) => api.invoke('runs.referenceCost', { config: { ...config, seed } as unknown as Record<string, unknown> })))
        .then((costs) => live && setText(describeCost(costs)))
        .catch((e: unknown) => live && setText(`reference: cost unknown (${(e as Error).message})`))
    }, 250)
    return () => {
      live = false
      clearTimeout(t)
    }
  }, [key])
  return text
}

/** The back end's own check of a config that the form's schema accepts (config.validate: what
 *  runs.start would refuse before anything starts, e.g. a dataset not tokenised as the chosen
 *  model reads it), asked a moment after the last edit: its field issues by path, and whether an
 *  answer for the current config is still to come. */
function useServerCheck(api: ReturnType<typeof useApp>['api'], config: RunConfig | null): { issues: Record<string, string>; pending: boolean } {
  const [answer, setAnswer] = useState<{ key: string; issues: Record<string, string> } | null>(null)
  const key = config ? JSON.stringify(config) : ''
  useEffect(() => {
    if (!config) return
    let live = true
    const t = setTimeout(() => {
      api
        .invoke('config.validate', { config: config as unknown as Record<string, unknown> })
        .then((v) => live && setAnswer({ key, issues: v.ok ? {} : Object.fromEntries(v.issues.map((i) => [i.path, i.message])) }))
        // the check could not be made (e.g. the back end restarting): Launch still gets runs.start's answer
        .catch(() => live && setAnswer({ key, issues: {} }))
    }, 250)
    return () => {
      live = false
      clearTimeout(t)
    }
  }, [key])
  if (!config) return { issues: {}, pending: false }
  return answer?.key === key ? { issues: answer.issues, pending: false } : { issues: answer?.issues ?? {}, pending: true }
}

function describeCost(costs: ReferenceCost[]): string | null {
  const train = costs.filter((c): c is Extract<ReferenceCost, { kind: 'train' }> => c.kind === 'train')
  const cached = costs.filter((c) => c.kind === 'cached').length
  if (!train.length) return cached ? `reference: cached${costs.length > 1 ? ` (all ${costs.length} seeds)` : ''} · trained earlier on this data with these settings; not trained again` : null
  const each = train[0]
  const eta = train.every((c) => c.estimateMs !== null) ? ` ≈ ${fmtDuration(train.reduce((a, c) => a + c.estimateMs!, 0) / train.length)}` : ' (time measured after the first one)'
  const which = costs.length > 1 ? ` for ${train.length} of ${costs.length} seeds${cached ? ` (${cached} cached)` : ''}` : ''
  return `reference: ${fmtInt(each.steps)} steps${eta}${which} · behaviour cloning on all data before training; kept in the project and reused by later runs`
}

export function NewRunView(): React.JSX.Element {
  const s = useApp()
  const [datasetId, setDatasetId] = useState<number | undefined>(s.params.datasetId ?? s.datasets.find((d) => d.source === 'builtin:bandit')?.id ?? s.datasets[0]?.id)
  useEffect(() => {
    if (datasetId === undefined && s.datasets[0]) setDatasetId(s.datasets.find((d) => d.source === 'builtin:bandit')?.id ?? s.datasets[0].id)
  }, [s.datasets, datasetId])
  const ds = s.datasets.find((d) => d.id === datasetId)
  const domain = domainOf(ds ?? 'bandit')
  const presets = usePresets(s.api, datasetId)
  const [presetId, setPresetId] = useState<number | 'default'>(s.params.presetId ?? 'default')
  const [method, setMethod] = useState<Method>(() => defaultConfig(domain).method)
  const [backend, setBackend] = useState<RunConfig['backend']>('auto')
  const [raw, setRaw] = useState<Record<string, string>>({})
  const [seedsText, setSeedsText] = useState('0')
  const [group, setGroup] = useState('')
  const [name, setName] = useState('')
  const [serverIssues, setServerIssues] = useState<Record<string, string>>({})
  const [serverError, setServerError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  // a sequence dataset can fine-tune a project model (issue 14); null: the domain's own policy
  const [models, setModels] = useState<ModelInfo[]>([])
  const [llm, setLlm] = useState<LlmChoice | null>(null)
  // a row of the paper's Table 4 (control datasets only); the form's own values win over it
  const [paperPreset, setPaperPreset] = useState<string | null>(null)
  const [runOn, setRunOn] = useState<RunOn>('local')
  const [sweepOn, setSweepOn] = useState(false)
  useEffect(() => {
    if (domain !== 'sequence') return setModels([])
    let live = true
    s.api
      .invoke('models.list', {})
      .then((m) => live && setModels(m))
      .catch(() => live && setModels([]))
    return () => {
      live = false
    }
  }, [s.api, domain])

  useEffect(() => {
    setRaw({})
    setLlm(null)
    setMethod(defaultConfig(domain).method)
    setPresetId('default')
    setPaperPreset(null)
  }, [datasetId])

  // a new row puts its values in the form: the edits of the fields it sets are dropped
  const choosePaperPreset = (name: string | null): void => {
    setPaperPreset(name)
    setRaw((r) => Object.fromEntries(Object.entries(r).filter(([p]) => !(PRESET_PATHS as readonly string[]).includes(p))))
  }

  const base = useMemo(() => {
    const c = domain === 'control' && paperPreset ? applyPreset(defaultConfig(domain), paperPreset) : defaultConfig(domain)
    const preset = presets.find((p) => p.id === presetId)
    return { ...c, domain, dataset: datasetId ? String(datasetId) : c.dataset, method, backend, curation: preset ? preset.curation : c.curation }
  }, [domain, datasetId, presets, presetId, method, backend, paperPreset])

  const kindOf = (path: string): Kind => FIELDS.flatMap((g) => g.fields).find((f) => f.path === path)?.kind ?? 'number'
  const config = useMemo(() => {
    const c = structuredClone(base) as unknown as Record<string, unknown>
    for (const [path, v] of Object.entries(raw)) {
      if (path === 'weights.q.kind') {
        const kind = v
        setPath(c, 'weights.q', kind === 'ema' ? { kind, beta: 0.9 } : kind === 'periodic' ? { kind, every: 100 } : { kind: 'current' })
      }
      if (path === 'reference.kind') {
        const now = (c.reference as RunConfig['reference']).kind
        // to "bc": the control domain's BC settings (the paper's), unless the domain's default already is bc
        if (v !== now) c.reference = v === 'bc' ? defaultConfig('control').reference : { kind: 'init' }
      }
    }
    const whole = new Set(['weights.q.kind', 'reference.kind'])
    for (const [path, v] of Object.entries(raw)) if (!whole.has(path)) setPath(c, path, parseRaw(kindOf(path), v))
    if (llm) applyLlmChoice(c, llm)
    if (name.trim()) c.name = name.trim()
    return c
  }, [base, raw, name, llm])

  const parsed = RunConfigSchema.safeParse(config)
  const check = useServerCheck(s.api, parsed.success ? parsed.data : null)
  const checkRefused = parsed.success && Object.keys(check.issues).length > 0
  const issues: Record<string, string> = { ...serverIssues }
  if (!parsed.success) for (const i of parsed.error.issues) issues[i.path.join('.')] ??= i.message
  else for (const [p, m] of Object.entries(check.issues)) issues[p] ??= m
  // the chosen model cannot read the dataset's tokens: said beside the dataset too, with where to fix it
  const modelIssue = llm ? (issues['policy.model'] ?? issues['reference.model']) : undefined
  const tokenisedElsewhere = !!modelIssue && /tokeni[sz]|sample/.test(modelIssue)
  const { seeds, error: seedsError } = parseSeeds(seedsText)
  const cfg = parsed.success ? parsed.data : (config as unknown as RunConfig)
  const usesBins = usesQualityBins(method)
  const curationMismatch =
    usesBins && cfg.curation.mode !== 'quality_bins'
      ? `${METHOD_LABELS[method]} samples by quality-bin multiplicity; with "${describeCuration(cfg.curation)}" every kept trace has m = 1`
      : null

  const cost = useReferenceCost(s.api, parsed.success ? parsed.data : null, seedsError ? [] : seeds)

  const launch = async (): Promise<void> => {
    if (!parsed.success || seedsError || checkRefused) return
    setBusy(true)
    setServerError(null)
    setServerIssues({})
    try {
      const r = await s.api.invoke('runs.start', { config: parsed.data as unknown as Record<string, unknown>, seeds, ...(group.trim() ? { group: group.trim() } : {}) })
      s.go('runs', { runIds: r.runIds })
    } catch (e) {
      if (e instanceof ApiError && e.issues.length) setServerIssues(Object.fromEntries(e.issues.map((i) => [i.path, i.message])))
      setServerError((e as Error).message)
    } finally {
      setBusy(false)
    }
  }

  const LLM_PATHS = new Set(['policy.model', 'policy.lora.rank', 'policy.lora.alpha', 'policy.lora.dropout', 'policy.lora.targets', 'train.micro_batch'])
  const shownBeside = (p: string): boolean => FIELDS.some((g) => g.fields.some((f) => f.path === p)) || (!!llm && LLM_PATHS.has(p))

  const field = (f: FieldDef): React.ReactNode => {
    if (f.show && !f.show(cfg)) return null
    const v = raw[f.path] ?? (f.kind === 'list' ? ((getPath(base, f.path) as number[] | undefined) ?? []).join(', ') : String(getPath(base, f.path) ?? ''))
    const err = issues[f.path] ?? (f.path === 'weights.q.beta' || f.path === 'weights.q.every' ? issues['weights.q'] : undefined)
    const set = (x: string): void => {
      setServerIssues({})
      setRaw((r) => ({ ...r, [f.path]: x }))
    }
    const id = `f-${f.path.replace(/\./g, '-')}`
    return (
      <div className={`field${err ? ' invalid' : ''}`} key={f.path}>
        <label htmlFor={id}>{f.label}</label>
        {f.options ? (
          <select id={id} data-testid={id} value={raw[f.path] ?? String(getPath(cfg, f.path))} onChange={(e) => set(e.target.value)}>
            {f.options.map((o) => (
              <option key={o}>{o}</option>
            ))}
          </select>
        ) : f.kind === 'bool' ? (
          <input id={id} type="checkbox" checked={(raw[f.path] ?? String(getPath(base, f.path))) === 'true'} onChange={(e) => set(String(e.target.checked))} />
        ) : (
          <input
            id={id}
            data-testid={id}
            inputMode={f.kind === 'list' ? 'text' : 'decimal'}
            value={v}
            onChange={(e) => set(e.target.value)}
            aria-invalid={!!err}
            aria-describedby={err ? `${id}-err` : undefined}
            placeholder={f.hint}
          />
        )}
        {err && (
          <span className="field-error" id={`${id}-err`} role="alert">
            {err}
          </span>
        )}
      </div>
    )
  }

  return (
    <section className="view" aria-labelledby="nr-title">
      <header className="view-head">
        <h1 id="nr-title">New run</h1>
        <p className="muted">
          Hyper-parameters start at the paper's values for the {domain === 'bandit' ? 'toy bandit' : domain === 'sequence' ? 'LLM (sequence)' : 'control'} domain. Several seeds launch
          together as one group.
        </p>
      </header>
      <div className="panel form-grid">
        <div className={`field${tokenisedElsewhere ? ' invalid' : ''}`}>
          <label htmlFor="nr-dataset">dataset</label>
          <select id="nr-dataset" value={datasetId ?? ''} onChange={(e) => setDatasetId(Number(e.target.value))} data-testid="nr-dataset" aria-invalid={tokenisedElsewhere}>
            {s.datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} (#{d.id})
              </option>
            ))}
          </select>
          {tokenisedElsewhere && (
            <span className="field-error" data-testid="nr-dataset-err">
              not tokenised as the start model reads it (see the start model below){' '}
              <button type="button" className="linklike" style={{ textDecoration: 'underline', textAlign: 'left' }} onClick={() => s.go('models')} data-testid="nr-open-models">
                Models: import its text with the model's tokenizer, or sample from the model
              </button>
            </span>
          )}
        </div>
        <div className="field">
          <label htmlFor="nr-preset">curation</label>
          <select id="nr-preset" value={String(presetId)} onChange={(e) => setPresetId(e.target.value === 'default' ? 'default' : Number(e.target.value))} data-testid="nr-preset">
            <option value="default">
              {paperPreset && domain === 'control'
                ? `Table 4 row · ${describeCuration(applyPreset(defaultConfig(domain), paperPreset).curation)}`
                : `domain default · ${describeCuration(defaultConfig(domain).curation)}`}
            </option>
            {presets.map((p) => (
              <option key={p.id} value={p.id}>
                preset “{p.name}” · {describeCuration(p.curation)}
              </option>
            ))}
          </select>
          {curationMismatch && <span className="field-warn">{curationMismatch}</span>}
        </div>
        <div className="field">
          <label htmlFor="nr-method">method</label>
          <select id="nr-method" value={method} onChange={(e) => setMethod(e.target.value as Method)} data-testid="nr-method">
            {METHODS.map((m) => (
              <option key={m} value={m}>
                {METHOD_LABELS[m]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="nr-backend">backend</label>
          <select id="nr-backend" value={backend} onChange={(e) => setBackend(e.target.value as RunConfig['backend'])}>
            {BACKENDS.map((b) => (
              <option key={b}>{b}</option>
            ))}
          </select>
        </div>
        <div className={`field${seedsError ? ' invalid' : ''}`}>
          <label htmlFor="nr-seeds">seeds</label>
          <input id="nr-seeds" value={seedsText} onChange={(e) => setSeedsText(e.target.value)} placeholder="0, 1, 2 or 0-4" data-testid="nr-seeds" aria-invalid={!!seedsError} />
          {seedsError ? (
            <span className="field-error" role="alert">
              {seedsError}
            </span>
          ) : (
            <span className="muted small">{seeds.length > 1 ? `${seeds.length} runs, one group` : '1 run'}</span>
          )}
        </div>
        <div className="field">
          <label htmlFor="nr-group">group</label>
          <input id="nr-group" value={group} onChange={(e) => setGroup(e.target.value)} placeholder={seeds.length > 1 ? 'automatic' : 'none'} maxLength={200} />
        </div>
        <div className="field">
          <label htmlFor="nr-name">name</label>
          <input id="nr-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="automatic" maxLength={200} data-testid="nr-name" />
        </div>
        {domain === 'sequence' && models.length > 0 && (
          <div className="field">
            <label htmlFor="nr-policy">policy</label>
            <select id="nr-policy" data-testid="nr-policy" value={llm ? 'llm' : 'domain'} onChange={(e) => setLlm(e.target.value === 'llm' ? defaultLlmChoice(models[0].name) : null)}>
              <option value="domain">the domain's transformer (from scratch)</option>
              <option value="llm">project model (fine-tune a language model)</option>
            </select>
            {llm && <span className="muted small">the dataset must be tokenised by this model's tokenizer (import with a tokenizer model)</span>}
          </div>
        )}
      </div>
      {domain === 'control' && <PresetPicker value={paperPreset} onChange={choosePaperPreset} suggested={ds ? presetForDataset(ds.name) : undefined} form={cfg} />}
      {llm && <LlmPolicyPanel models={models} choice={llm} onChange={setLlm} issues={issues} />}
      {llm && parsed.success && (
        <details className="panel" data-testid="llm-config">
          <summary>the config's policy, reference and micro-batch</summary>
          <pre className="small">{JSON.stringify({ policy: parsed.data.policy, reference: parsed.data.reference, micro_batch: parsed.data.train.micro_batch }, null, 2)}</pre>
        </details>
      )}
      <div className="form-sections">
        {FIELDS.map((g) => {
          const shown = g.fields.filter((f) => !f.show || f.show(cfg))
          if (!shown.length) return null
          return (
            <fieldset className="panel" key={g.title}>
              <legend>{g.title}</legend>
              <div className="form-grid">{shown.map(field)}</div>
            </fieldset>
          )
        })}
      </div>
      {Object.entries(issues).filter(([p]) => !shownBeside(p)).length > 0 && (
        <ul className="error-text">
          {Object.entries(issues)
            .filter(([p]) => !shownBeside(p))
            .map(([p, m]) => (
              <li key={p}>
                {p || 'config'}: {m}
              </li>
            ))}
        </ul>
      )}
      <div className="panel run-on-section" data-testid="run-on-section">
        <RunOnChoice value={runOn} onChange={setRunOn} />
        {runOn === 'local' ? (
          <>
            <div className="row gap wrap">
              <span className="muted small">
                {sweepOn ? "The workbench's engine trains each run of the sweep here." : "The workbench's engine trains it here: Launch below starts one run per seed."}
              </span>
              <label className="inline small">
                <input type="checkbox" checked={sweepOn} onChange={(e) => setSweepOn(e.target.checked)} data-testid="sweep-toggle" /> sweep a grid of settings instead
              </label>
            </div>
            {sweepOn && <SweepLaunch config={parsed.success && !checkRefused ? (parsed.data as unknown as Record<string, unknown>) : null} />}
          </>
        ) : (
          <RunOnPanel runOn={runOn} config={parsed.success && !seedsError && !checkRefused ? ({ ...parsed.data, seed: seeds[0] } as unknown as Record<string, unknown>) : null} />
        )}
      </div>
      <div className="row gap sticky-actions">
        {runOn === 'local' && !sweepOn && (
          <button className="primary" onClick={() => void launch()} disabled={busy || !parsed.success || !!seedsError || checkRefused} data-testid="launch">
            {busy ? 'Starting…' : seeds.length > 1 ? `Launch ${seeds.length} runs` : 'Launch run'}
          </button>
        )}
        <button className="ghost" onClick={() => setRaw({})}>
          Reset to paper defaults
        </button>
        {cost && parsed.success && runOn === 'local' && (
          <span className="muted small" data-testid="nr-reference-cost">
            {cost}
          </span>
        )}
        {(!parsed.success || checkRefused) && <span className="field-error">fix the highlighted fields to launch</span>}
        {serverError && (
          <span className="error-text" role="alert" data-testid="launch-error">
            {serverError}
          </span>
        )}
      </div>
    </section>
  )
}
