// Imported weights ("bring your own log-probs"): traces that carry per-token log-probs of the
// reference and of the policy, computed elsewhere (vLLM, a PyTorch run), inspected under any
// weight settings without training. The settings form starts at the LLM defaults; every change
// recomputes the weights on the back end (debounced): histogram of log w raw vs clamped, ESS,
// ESS/N, clamp fraction, min / median / max, Spearman(w, score), the most and least weighted
// traces, and one trace's tokens shaded by ρ_t. A JSONL log that a running job appends to can
// be followed: each update stores a new version of the dataset and the view moves to it.
//
// The view gets its back end through the `api` prop (ImportedWeightsApi), so it depends on no
// transport; App.tsx adapts the contract's requests to it.
import { useEffect, useMemo, useRef, useState } from 'react'
import { byoDefaultSettings, ByoSettingsSchema, type ByoFollowUpdate, type ByoInspectResult, type ByoSettings, type ByoTraceRow, type ByoVariant } from '../../../shared/byo.ts'
import { LogWHistogram } from '../components/LogWHistogram.tsx'
import { TokenRho, type TokenRhoToken, type TokenShade } from '../components/TokenRho.tsx'
import { fmt, fmtInt, pct } from '../lib/format.ts'
import { Kpi } from '../components/Kpi.tsx'
import { SkippedRows } from '../components/SkippedRows.tsx'
import { SelectableRow } from '../components/TableRows.tsx'
import type { SkippedRow } from '../../../shared/contract.ts'

// ----------------------------------------------------------------------------- the API it needs

export type { ByoSettings, ByoVariant }

export interface ByoDatasetItem {
  id: number
  name: string
  kind: string
  source: string
  numTraces: number
}

export type ByoTraceRowView = ByoTraceRow
export type ByoInspectView = ByoInspectResult

export interface ByoTraceRhoView {
  datasetId: number
  traceIndex: number
  id: string
  score: number
  tokens: TokenRhoToken[]
  sumRho: number
  sumG: number
  truncated: boolean
  tokenizer: string | null
  tokenizerError: string | null
}

export type ByoFollowUpdateView = ByoFollowUpdate & { followId: string }

export interface ImportedWeightsApi {
  /** datasets of the project; the view lists the sequence ones (imported log-probs can come
   *  from `iwsft byo import` — source "byo:…" — or from `iwsft datasets import`), byo first */
  listDatasets(): Promise<ByoDatasetItem[]>
  inspect(input: { datasetId: number; settings: ByoSettings; variant: ByoVariant; bins?: number; top?: number }): Promise<ByoInspectView>
  traceRho(input: { datasetId: number; traceIndex: number; settings?: ByoSettings }): Promise<ByoTraceRhoView>
  /** optional (the desktop window): a native file picker; the back end may then read what was picked */
  pickFile?(): Promise<string | null>
  /** optional: import a file the back end can read */
  importFile?(input: { path: string; tokenizerFile?: string; skipBadRows?: boolean }): Promise<{ dataset: { id: number; name: string }; replacedLogProbs: boolean; skipped?: SkippedRow[] }>
  /** optional: follow a JSONL log; updates arrive through onFollowUpdate */
  follow?(input: { followId: string; path: string; tokenizerFile?: string }): Promise<unknown>
  unfollow?(input: { followId: string }): Promise<unknown>
  onFollowUpdate?(cb: (u: ByoFollowUpdateView) => void): () => void
  /** a bad line (named by line and field), a failed update, a tokenizer that did not load */
  onFollowError?(cb: (e: { followId: string; message: string }) => void): () => void
}

// ----------------------------------------------------------------------------- settings form

type Transform = 'none' | 'clip_rho' | 'clip_ratio'
/** bounds a transform starts with when picked: ρ to ±0.5, the ratio to the paper's [0.2, 1.8] */
const TRANSFORM_DEFAULTS: Record<'clip_rho' | 'clip_ratio', [number, number]> = { clip_rho: [-0.5, 0.5], clip_ratio: [0.2, 1.8] }
interface FormState {
  temp: string
  aggregate: 'mean' | 'sum'
  transform: Transform
  tLo: string
  tHi: string
  clampLo: string
  clampHi: string
  normalize: boolean
  stepLo: string
  stepHi: string
}

function toForm(s: ByoSettings): FormState {
  const tr: Transform = !s.per_step ? 'none' : 'clip_rho' in s.per_step ? 'clip_rho' : 'clip_ratio'
  const [tLo, tHi] = !s.per_step ? TRANSFORM_DEFAULTS.clip_ratio : 'clip_rho' in s.per_step ? s.per_step.clip_rho : s.per_step.clip_ratio
  return {
    temp: String(s.temp),
    aggregate: s.aggregate,
    transform: tr,
    tLo: String(tLo),
    tHi: String(tHi),
    clampLo: String(s.clamp[0]),
    clampHi: String(s.clamp[1]),
    normalize: s.normalize,
    stepLo: String(s.step_clip[0]),
    stepHi: String(s.step_clip[1])
  }
}

/** Form → settings, or the issues by field. Empty or non-numeric text is an issue, not NaN. */
function fromForm(f: FormState): { settings: ByoSettings | null; issues: Record<string, string> } {
  const n = (v: string): number => (v.trim() === '' ? NaN : Number(v))
  const raw = {
    temp: n(f.temp),
    aggregate: f.aggregate,
    per_step: f.transform === 'none' ? null : f.transform === 'clip_rho' ? { clip_rho: [n(f.tLo), n(f.tHi)] } : { clip_ratio: [n(f.tLo), n(f.tHi)] },
    clamp: [n(f.clampLo), n(f.clampHi)],
    normalize: f.normalize,
    step_clip: [n(f.stepLo), n(f.stepHi)]
  }
  const r = ByoSettingsSchema.safeParse(raw)
  if (r.success) return { settings: r.data, issues: {} }
  const issues: Record<string, string> = {}
  for (const i of r.error.issues) {
    const p = i.path.map(String)
    const key = p[0] === 'per_step' ? 'per_step' : (p[0] ?? 'settings')
    issues[key] ??= i.message
  }
  return { settings: null, issues }
}

// ----------------------------------------------------------------------------- the view

export function ImportedWeightsView({ api, initialDatasetId }: { api: ImportedWeightsApi; initialDatasetId?: number }): React.JSX.Element {
  const [datasets, setDatasets] = useState<ByoDatasetItem[]>([])
  const [datasetId, setDatasetId] = useState<number | undefined>(initialDatasetId)
  const [form, setForm] = useState<FormState>(() => toForm(byoDefaultSettings()))
  const [variant, setVariant] = useState<ByoVariant>('trace')
  const [result, setResult] = useState<ByoInspectView | null>(null)
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  const [logY, setLogY] = useState(false)
  const [openTrace, setOpenTrace] = useState<number | null>(null)
  const [rho, setRho] = useState<ByoTraceRhoView | null>(null)
  const [rhoErr, setRhoErr] = useState<string | null>(null)
  const [shade, setShade] = useState<TokenShade>('rho')
  const [path, setPath] = useState('')
  const [tokFile, setTokFile] = useState('')
  const [importMsg, setImportMsg] = useState<string | null>(null)
  const [skipBad, setSkipBad] = useState(false)
  const [skipped, setSkipped] = useState<SkippedRow[]>([])
  const [following, setFollowing] = useState<string | null>(null)
  const [live, setLive] = useState<ByoFollowUpdateView | null>(null)
  const [reload, setReload] = useState(0)

  const { settings, issues } = useMemo(() => fromForm(form), [form])
  const set = <K extends keyof FormState>(k: K, v: FormState[K]): void => setForm((f) => ({ ...f, [k]: v }))

  useEffect(() => {
    let alive = true
    api
      .listDatasets()
      .then((ds) => {
        if (!alive) return
        const isByo = (d: ByoDatasetItem): boolean => d.source.startsWith('byo:')
        const seq = ds.filter((d) => isByo(d) || d.kind === 'sequence').sort((a, b) => Number(isByo(b)) - Number(isByo(a)) || a.id - b.id)
        setDatasets(seq)
        const newestByo = seq.filter(isByo).pop() ?? seq[seq.length - 1]
        setDatasetId((cur) => (cur !== undefined && seq.some((d) => d.id === cur) ? cur : newestByo?.id))
      })
      .catch((e: Error) => alive && setErr(e.message))
    return () => {
      alive = false
    }
  }, [api, reload])

  // recompute on every valid change, debounced; a newer request wins
  const ticket = useRef(0)
  useEffect(() => {
    if (datasetId === undefined || !settings) return
    const my = ++ticket.current
    const timer = setTimeout(() => {
      setBusy(true)
      api
        .inspect({ datasetId, settings, variant, bins: 50, top: 15 })
        .then((r) => {
          if (my !== ticket.current) return
          setResult(r)
          setErr(null)
        })
        .catch((e: Error) => {
          if (my !== ticket.current) return
          setErr(e.message)
          setResult(null) // not the numbers of another dataset or of other settings
        })
        .finally(() => my === ticket.current && setBusy(false))
    }, 200)
    return () => clearTimeout(timer)
  }, [api, datasetId, settings && JSON.stringify(settings), variant])

  useEffect(() => {
    setRho(null)
    setRhoErr(null)
    if (openTrace === null || datasetId === undefined) return
    let alive = true
    api
      .traceRho({ datasetId, traceIndex: openTrace, ...(settings ? { settings } : {}) })
      .then((r) => alive && setRho(r))
      .catch((e: Error) => alive && setRhoErr(e.message))
    return () => {
      alive = false
    }
  }, [api, datasetId, openTrace, settings && JSON.stringify(settings)])

  // following: move to each new version
  const followErrors = useRef<string[]>([])
  useEffect(() => {
    if (!api.onFollowUpdate) return
    return api.onFollowUpdate((u) => {
      if (u.followId !== following) return
      setLive(u)
      followErrors.current = []
      setDatasetId(u.datasetId)
      setReload((x) => x + 1)
    })
  }, [api, following])
  // the last few problems since the last update, as they happen
  useEffect(() => {
    if (!api.onFollowError) return
    return api.onFollowError((e) => {
      if (e.followId !== following) return
      followErrors.current = [...followErrors.current, e.message].slice(-5)
      setImportMsg(followErrors.current.join('\n'))
    })
  }, [api, following])
  useEffect(
    () => () => {
      if (following) api.unfollow?.({ followId: following }).catch(() => {})
    },
    [api, following]
  )

  const doImport = async (): Promise<void> => {
    if (!api.importFile || !path.trim()) return
    setImportMsg('importing…')
    setSkipped([])
    try {
      const r = await api.importFile({ path: path.trim(), ...(tokFile.trim() ? { tokenizerFile: tokFile.trim() } : {}), ...(skipBad ? { skipBadRows: true } : {}) })
      setSkipped(r.skipped ?? [])
      setImportMsg(`dataset ${r.dataset.id} "${r.dataset.name}" imported${r.replacedLogProbs ? ' (same traces as before: their log-probs were replaced)' : ''}`)
      setDatasetId(r.dataset.id)
      setOpenTrace(null)
      setReload((x) => x + 1)
    } catch (e) {
      setImportMsg(e instanceof Error ? e.message : String(e))
    }
  }
  const toggleFollow = async (): Promise<void> => {
    if (!api.follow || !api.unfollow) return
    if (following) {
      setFollowing(null) // the effect's cleanup unfollows
      return
    }
    if (!path.trim()) return
    const id = `byo-${Date.now().toString(36)}`
    try {
      await api.follow({ followId: id, path: path.trim(), ...(tokFile.trim() ? { tokenizerFile: tokFile.trim() } : {}) })
      setFollowing(id)
      setLive(null)
      setImportMsg(null)
    } catch (e) {
      setImportMsg(e instanceof Error ? e.message : String(e))
    }
  }

  const histData = useMemo(() => {
    if (!result || !result.hist.edges.length) return []
    const e = result.hist.edges
    const width = e[1] - e[0]
    const centers = result.hist.raw.map((_, i) => e[0] + (i + 0.5) * width)
    return [
      {
        type: 'bar',
        x: centers,
        y: result.hist.clamped,
        width,
        name: variant === 'per_step' ? 'log mean w_t' : 'log w clamped',
        opacity: 0.55,
        hovertemplate: 'log w %{x:.3g}: %{y}<extra>clamped</extra>'
      },
      {
        type: 'scatter',
        mode: 'lines',
        line: { shape: 'hvh', width: 1.8 },
        x: centers,
        y: result.hist.raw,
        name: variant === 'per_step' ? 'mean ρ_t' : 'log w raw',
        hovertemplate: 'log w %{x:.3g}: %{y}<extra>raw</extra>'
      }
    ]
  }, [result, variant])

  const st = result?.stats
  const field = (key: string, label: string, input: React.ReactNode): React.JSX.Element => (
    <div className={`field${issues[key] ? ' invalid' : ''}`}>
      <label>{label}</label>
      {input}
      {issues[key] && <span className="field-error">{issues[key]}</span>}
    </div>
  )
  const numInput = (k: keyof FormState, label: string, disabled = false): React.JSX.Element => (
    <input
      className="narrow"
      inputMode="decimal"
      value={form[k] as string}
      onChange={(e) => set(k, e.target.value as never)}
      aria-label={label}
      disabled={disabled}
      data-testid={`byo-${k}`}
    />
  )
  const perStep = variant === 'per_step'

  const row = (r: ByoTraceRowView): React.ReactNode => (
    <SelectableRow key={r.index} selected={openTrace === r.index} onSelect={() => setOpenTrace(r.index)}>
      <td>{r.index}</td>
      <td className="mono">{r.id.length > 24 ? r.id.slice(0, 23) + '…' : r.id}</td>
      <td className="num">{fmt(r.score)}</td>
      <td className="num">{fmtInt(r.length)}</td>
      <td className="num">{fmt(r.logWRaw)}</td>
      <td className="num">{fmt(r.w)}</td>
    </SelectableRow>
  )

  return (
    <section className="view" aria-labelledby="byo-title">
      <header className="view-head row gap wrap">
        <h1 id="byo-title">Imported weights</h1>
        <label className="inline">
          <span className="muted">dataset</span>
          <select
            value={datasetId ?? ''}
            onChange={(e) => {
              setDatasetId(Number(e.target.value))
              setOpenTrace(null)
            }}
            data-testid="byo-dataset"
          >
            {datasets.length === 0 && <option value="">none imported yet</option>}
            {datasets.map((d) => (
              <option key={d.id} value={d.id}>
                #{d.id} {d.name} · {fmtInt(d.numTraces)} traces{d.source.startsWith('byo:') ? ' · imported log-probs' : ''}
              </option>
            ))}
          </select>
        </label>
        {busy && <span className="muted small">computing…</span>}
      </header>
      <p className="muted small">
        Traces with per-token log-probs of the reference and of the policy, from elsewhere (columns <span className="mono">ref_logprobs</span>, <span className="mono">policy_logprobs</span>{' '}
        and <span className="mono">tokens</span> or text). No training: ρ_t = log q − log π_ref as given.
      </p>

      {(api.importFile || api.follow) && (
        <div className="panel row gap wrap" data-testid="byo-import">
          <label className="inline grow">
            <span className="muted">file</span>
            <input className="grow" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/path/to/traces.jsonl" aria-label="file to import or follow" data-testid="byo-path" />
          </label>
          {api.pickFile && (
            <button onClick={() => void api.pickFile!().then((p) => p && setPath(p))} data-testid="byo-pick">
              Choose…
            </button>
          )}
          <label className="inline">
            <span className="muted">tokenizer.json</span>
            <input value={tokFile} onChange={(e) => setTokFile(e.target.value)} placeholder="optional" aria-label="tokenizer file" data-testid="byo-tokenizer" />
          </label>
          {api.pickFile && (
            <button onClick={() => void api.pickFile!().then((p) => p && setTokFile(p))} data-testid="byo-pick-tokenizer">
              Choose…
            </button>
          )}
          {api.importFile && (
            <label className="inline small" title="import the good rows and list every bad one with its reason (without it, one bad row refuses the file)">
              <input type="checkbox" checked={skipBad} onChange={(e) => setSkipBad(e.target.checked)} data-testid="byo-skip-bad-rows" /> skip bad rows
            </label>
          )}
          {api.importFile && (
            <button className="primary" onClick={() => void doImport()} disabled={!path.trim() || following !== null} data-testid="byo-import-button">
              Import
            </button>
          )}
          {api.follow && (
            <button onClick={() => void toggleFollow()} disabled={!following && !path.trim()} aria-pressed={following !== null} data-testid="byo-follow-button">
              {following ? 'Stop following' : 'Follow live (JSONL)'}
            </button>
          )}
          {following && (
            <span className="small" data-testid="byo-live">
              {live
                ? `live: ${fmtInt(live.rows)} rows${live.skipped ? `, ${live.skipped} skipped` : ''} · +${live.newRows} in the last update · ESS ${fmt(live.ess, 5)}`
                : 'waiting for rows…'}
            </span>
          )}
          {importMsg && (
            <span className="small" role="status" style={{ whiteSpace: 'pre-wrap' }}>
              {importMsg}
            </span>
          )}
          <SkippedRows rows={skipped} />
        </div>
      )}

      <fieldset className="panel">
        <legend>Weight settings</legend>
        <div className="form-grid">
          {field(
            'variant',
            'variant',
            <select value={variant} onChange={(e) => setVariant(e.target.value as ByoVariant)} data-testid="byo-variant">
              <option value="trace">per trace (iw-SFT)</option>
              <option value="per_step">per step (w_t = clamp(exp ρ_t))</option>
            </select>
          )}
          {field('temp', 'temperature (k·|τ| for mean)', numInput('temp', 'temperature', perStep))}
          {field(
            'aggregate',
            'aggregate',
            <select value={form.aggregate} onChange={(e) => set('aggregate', e.target.value as 'mean' | 'sum')} disabled={perStep} data-testid="byo-aggregate">
              <option value="mean">mean (k = temp / |τ|)</option>
              <option value="sum">sum (k = temp)</option>
            </select>
          )}
          {field(
            'per_step',
            'per-step transform g(ρ_t)',
            <div className="row gap">
              <select
                value={form.transform}
                onChange={(e) => {
                  const t = e.target.value as Transform
                  setForm((f) => (t === 'none' ? { ...f, transform: t } : { ...f, transform: t, tLo: String(TRANSFORM_DEFAULTS[t][0]), tHi: String(TRANSFORM_DEFAULTS[t][1]) }))
                }}
                disabled={perStep}
                data-testid="byo-transform"
              >
                <option value="none">none</option>
                <option value="clip_rho">clip ρ</option>
                <option value="clip_ratio">clip ratio exp ρ</option>
              </select>
              {form.transform !== 'none' && (
                <>
                  {numInput('tLo', 'transform low', perStep)}
                  {numInput('tHi', 'transform high', perStep)}
                </>
              )}
            </div>
          )}
          {field(
            'clamp',
            'clamp w to [lo, hi]',
            <div className="row gap">
              {numInput('clampLo', 'clamp low', perStep)}
              {numInput('clampHi', 'clamp high', perStep)}
            </div>
          )}
          {field(
            'normalize',
            'normalise over the set (mean 1)',
            <label className="inline">
              <input type="checkbox" checked={form.normalize} onChange={(e) => set('normalize', e.target.checked)} disabled={perStep} data-testid="byo-normalize" /> w_i · N / Σ w
            </label>
          )}
          {field(
            'step_clip',
            'per-step clip of w_t',
            <div className="row gap">
              {numInput('stepLo', 'step clip low', !perStep)}
              {numInput('stepHi', 'step clip high', !perStep)}
            </div>
          )}
        </div>
        <div className="row gap" style={{ marginTop: 8 }}>
          <button onClick={() => setForm(toForm(byoDefaultSettings()))} data-testid="byo-reset">
            LLM defaults
          </button>
          <span className="muted small">
            {perStep
              ? 'per-step variant: temperature, aggregate, transform, clamp and normalisation do not apply'
              : "defaults: the authors' LLM code (temp 1 on the mean log ratio, w clamped to [0, 16])"}
          </span>
        </div>
      </fieldset>

      {err && (
        <p className="error-text" role="alert">
          {err}
        </p>
      )}
      {datasetId === undefined && !err && (
        <p className="muted">
          No imported log-probs in this project yet. Import a file above, or run <span className="mono">iwsft byo import FILE</span>.
        </p>
      )}

      {result && st && (
        <>
          <div className="kpis panel" data-testid="byo-stats">
            <Kpi label="ESS" value={fmt(st.ess, 6)} testId="byo-ess" />
            <Kpi label="ESS / N" value={pct(st.ess_fraction, 2)} testId="byo-ess-fraction" />
            <Kpi label="N traces" value={fmtInt(result.numTraces)} testId="byo-n" />
            <Kpi label={perStep ? 'steps clipped' : 'clamp fraction'} value={pct(st.clamp_fraction, 2)} testId="byo-clamp" />
            {result.steps && (
              <Kpi label={`per-step ESS / ${fmtInt(result.steps.n)} steps`} value={`${fmt(result.steps.ess, 6)} (${pct(result.steps.ess_fraction, 1)})`} testId="byo-step-ess" />
            )}
            <Kpi
              label={perStep ? 'mean ρ_t min / median / max' : 'log w raw min / median / max'}
              value={`${fmt(st.logw_raw_min)} / ${fmt(st.logw_raw_median)} / ${fmt(st.logw_raw_max)}`}
              testId="byo-raw-mmm"
            />
            <Kpi label="log w min / median / max" value={`${fmt(st.logw_min)} / ${fmt(st.logw_median)} / ${fmt(st.logw_max)}`} testId="byo-clamped-mmm" />
            <Kpi label="Spearman(w, score)" value={result.spearman === null ? 'n/a (a constant side)' : fmt(result.spearman, 3)} testId="byo-spearman" />
          </div>
          <div className="grid-2">
            <div className="panel">
              <div className="row gap">
                <h3 className="grow">{perStep ? 'mean ρ_t vs log mean w_t' : 'log w raw vs clamped'}</h3>
                <label className="inline small">
                  <input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} /> log-scale counts
                </label>
              </div>
              <LogWHistogram data={histData} logY={logY} testId="byo-histogram" />
              {result.hist.zeroWeights > 0 && <p className="muted small">{fmtInt(result.hist.zeroWeights)} traces have w = 0 (clamped) and are not binned.</p>}
            </div>
            <div className="panel">
              <h3>Most and least weighted traces</h3>
              {(['top', 'bottom'] as const).map((k) => (
                <table key={k} className="table compact" aria-label={k === 'top' ? 'most weighted traces' : 'least weighted traces'} data-testid={`byo-${k}`}>
                  <thead>
                    <tr>
                      <th>{k === 'top' ? 'most weighted' : 'least weighted'} · trace</th>
                      <th>id</th>
                      <th className="num">score</th>
                      <th className="num">|τ|</th>
                      <th className="num">{perStep ? 'mean ρ' : 'log w raw'}</th>
                      <th className="num">w</th>
                    </tr>
                  </thead>
                  <tbody>{result[k].map(row)}</tbody>
                </table>
              ))}
            </div>
          </div>
          {openTrace !== null && (
            <div className="panel" data-testid="byo-trace">
              <div className="row gap wrap">
                <h3 className="grow">
                  trace {openTrace}
                  {rho ? ` · ${rho.id} · score ${fmt(rho.score)}` : ''}
                </h3>
                <label className="inline small">
                  <span className="muted">shade by</span>
                  <select value={shade} onChange={(e) => setShade(e.target.value as TokenShade)} data-testid="byo-shade">
                    <option value="rho">ρ_t</option>
                    <option value="g">g(ρ_t) (transform)</option>
                    <option value="logw">log w_t (per-step)</option>
                  </select>
                </label>
                <button className="ghost" onClick={() => setOpenTrace(null)} aria-label="close trace">
                  ×
                </button>
              </div>
              {rhoErr && <p className="error-text">{rhoErr}</p>}
              {!rho && !rhoErr && <p className="muted">loading…</p>}
              {rho && (
                <>
                  <p className="muted small" data-testid="byo-rho-sum">
                    Σρ_t = {fmt(rho.sumRho)} · Σg(ρ_t) = {fmt(rho.sumG)} over {fmtInt(rho.tokens.filter((t) => !t.masked).length)} counted tokens
                    {rho.truncated ? ' (sums over the whole trace; first tokens shown)' : ''}
                    {rho.tokenizer === 'strings'
                      ? ' · token strings from the file'
                      : rho.tokenizer
                        ? ''
                        : rho.tokenizerError
                          ? ` · token ids shown: ${rho.tokenizerError}`
                          : ' · token ids shown (no tokenizer at import; give one, or the tokens as strings)'}
                  </p>
                  <TokenRho tokens={rho.tokens} by={shade} testId="byo-tokens" />
                </>
              )}
            </div>
          )}
        </>
      )}
    </section>
  )
}
