// Datasets: the project's datasets with trace counts, score histogram, source and hash; import
// from a file (picker or drag and drop) with a progress bar and errors beside the file.
import { useEffect, useMemo, useRef, useState } from 'react'
import { ApiError, type BuiltinInfo, type DatasetInfo, type DatasetPreview, type SkippedRow } from '../../../shared/contract.ts'
import { ColumnMapping, rememberedMapping, type ColumnMappingValue } from '../components/ColumnMapping.tsx'
import { histogram } from '../../../shared/weight-stats.ts'
import { Plot } from '../components/Plot.tsx'
import { SkippedRows } from '../components/SkippedRows.tsx'
import { EmptyRow, SelectableRow } from '../components/TableRows.tsx'
import { useColumns } from '../hooks.ts'
import { fmt, fmtInt } from '../lib/format.ts'
import { useApp } from '../state.tsx'

const isTextFile = (name: string): boolean => /\.(jsonl|ndjson|csv|parquet|pq)$/i.test(name)

/** A text file waiting in the mapping step. */
interface PendingMapping {
  label: string
  path: string
  preview: DatasetPreview
  initial: ColumnMappingValue
}

interface ImportState {
  file: string
  phase: 'uploading' | 'importing' | 'done' | 'error'
  done: number
  total: number
  message?: string
  /** rows left out with "skip bad rows" */
  skipped?: SkippedRow[]
}

export function DatasetsView(): React.JSX.Element {
  const s = useApp()
  const [selected, setSelected] = useState<number | null>(null)
  const [imp, setImp] = useState<ImportState | null>(null)
  const [name, setName] = useState('')
  const [skipBad, setSkipBad] = useState(false)
  const [reviewCols, setReviewCols] = useState(false)
  const [pending, setPending] = useState<PendingMapping | null>(null)
  const [drag, setDrag] = useState(false)
  const [scoreState, setScoreState] = useState<string | null>(null)
  const fileInput = useRef<HTMLInputElement>(null)
  const current = s.datasets.find((d) => d.id === selected) ?? s.datasets[0]
  useEffect(() => {
    if (selected === null && s.datasets[0]) setSelected(s.datasets[0].id)
  }, [s.datasets, selected])

  useEffect(
    () =>
      s.api.on('score.progress', (p) => {
        if (p.status === 'running') setScoreState(`scoring… ${fmtInt(p.done)} / ${fmtInt(p.total)}`)
        else setScoreState(p.status === 'completed' ? 'reference log-probs cached' : `scoring failed: ${p.error ?? ''}`)
      }),
    [s.api]
  )

  const [builtins, setBuiltins] = useState<BuiltinInfo[]>([])
  const [builtin, setBuiltin] = useState('')
  const [quick, setQuick] = useState(true)
  useEffect(() => {
    s.api
      .invoke('datasets.builtins', {})
      .then((b) => {
        setBuiltins(b)
        setBuiltin((cur) => cur || (b.find((x) => !x.added)?.name ?? ''))
      })
      .catch(() => {})
  }, [s.api, s.datasets.length])
  const addBuiltin = async (): Promise<void> => {
    if (!builtin) return
    const importId = `bi-${Date.now()}`
    setImp({ file: `built-in ${builtin}`, phase: 'importing', done: 0, total: 0 })
    const off = s.api.on('import.progress', (p) => {
      if (p.importId === importId) setImp((st) => (st && st.phase === 'importing' ? { ...st, done: p.done, total: p.total } : st))
    })
    try {
      const r = await s.api.invoke('datasets.addBuiltin', { name: builtin, importId, quick })
      setImp({
        file: `built-in ${builtin}`,
        phase: 'done',
        done: 1,
        total: 1,
        message: `${r.created ? 'added' : 'already in the project:'} "${r.dataset.name}", ${fmtInt(r.dataset.numTraces)} traces`
      })
      setSelected(r.dataset.id)
      s.refresh()
    } catch (e) {
      setImp({ file: `built-in ${builtin}`, phase: 'error', done: 0, total: 0, message: (e as Error).message })
    } finally {
      off()
    }
  }

  /** Get the file's path (an upload first, in a tab); a text file whose layout is not recognised
   *  (and whose shape has no remembered roles), or any text file with "choose columns", goes to
   *  the mapping step; the rest is imported at once, with the remembered roles if any. */
  const runImport = async (label: string, getPath: () => Promise<string>): Promise<void> => {
    setPending(null)
    setImp({ file: label, phase: 'uploading', done: 0, total: 0 })
    let path: string
    try {
      path = await getPath()
    } catch (e) {
      setImp({ file: label, phase: 'error', done: 0, total: 0, message: e instanceof Error ? e.message : String(e) })
      return
    }
    let mapping: ColumnMappingValue | undefined
    if (isTextFile(label) || isTextFile(path)) {
      try {
        const preview = await s.api.invoke('datasets.preview', { path })
        const remembered = rememberedMapping(preview.columns)
        if (reviewCols || (!preview.layout && !remembered)) {
          setPending({ label, path, preview, initial: remembered ?? preview.detected })
          setImp(null)
          return
        }
        mapping = remembered ?? undefined
      } catch {
        // the import itself says what is wrong with the file
      }
    }
    await importPath(label, path, mapping)
  }

  const importPath = async (label: string, path: string, mapping?: ColumnMappingValue): Promise<void> => {
    const importId = `imp-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`
    setPending(null)
    setImp({ file: label, phase: 'importing', done: 0, total: 0 })
    const off = s.api.on('import.progress', (p) => {
      if (p.importId === importId) setImp((st) => (st && st.phase !== 'error' ? { ...st, phase: 'importing', done: p.done, total: p.total } : st))
    })
    try {
      const r = await s.api.invoke('datasets.import', {
        path,
        importId,
        ...(mapping ? { mapping } : {}),
        ...(name.trim() ? { name: name.trim() } : {}),
        ...(skipBad ? { skipBadRows: true } : {})
      })
      setImp({
        file: label,
        phase: 'done',
        done: 1,
        total: 1,
        message: r.created ? `imported ${fmtInt(r.dataset.numTraces)} traces as "${r.dataset.name}"` : `already in the project as "${r.dataset.name}" (same content hash)`,
        skipped: r.skipped
      })
      setSelected(r.dataset.id)
      setName('')
      s.refresh()
    } catch (e) {
      setImp({ file: label, phase: 'error', done: 0, total: 0, message: e instanceof ApiError || e instanceof Error ? e.message : String(e) })
    } finally {
      off()
    }
  }

  const importFile = (f: File): void => {
    // a dropped file (or the browser's file input) is uploaded to the back end, desktop window included
    const up = s.client.upload
    void runImport(f.name, () => up(f, (sent, total) => setImp((st) => st && { ...st, phase: 'uploading', done: sent, total })))
  }
  const pick = async (): Promise<void> => {
    if (s.client.pickFile) {
      const p = await s.client.pickFile('dataset')
      if (p) void runImport(p.split(/[\\/]/).pop() ?? p, async () => p)
    } else fileInput.current?.click()
  }

  return (
    <section className="view" aria-labelledby="ds-title">
      <header className="view-head">
        <h1 id="ds-title">Datasets</h1>
        <p className="muted">Trace datasets in this project. Import JSONL, CSV, Parquet or HDF5 (D4RL/Minari) files; built-in datasets are added to every new project.</p>
      </header>
      <div
        className={`dropzone${drag ? ' over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault()
          setDrag(true)
        }}
        onDragLeave={() => setDrag(false)}
        onDrop={(e) => {
          e.preventDefault()
          setDrag(false)
          const f = e.dataTransfer.files[0]
          if (f) importFile(f)
        }}
        data-testid="dropzone"
      >
        <div className="row gap wrap">
          <button className="primary" onClick={() => void pick()} disabled={imp?.phase === 'uploading' || imp?.phase === 'importing'} data-testid="import-button">
            Import file…
          </button>
          <label className="inline">
            <span className="muted">name (optional)</span>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="from the file" maxLength={200} />
          </label>
          <label
            className="inline small"
            title="JSONL, CSV and Parquet: show the columns and the first rows and choose what each column is before importing (files of an unrecognised layout always are)"
          >
            <input type="checkbox" checked={reviewCols} onChange={(e) => setReviewCols(e.target.checked)} data-testid="review-columns" /> choose columns
          </label>
          <label className="inline small" title="JSONL, CSV and Parquet: import the good rows and list every bad one with its reason (without it, one bad row refuses the file)">
            <input type="checkbox" checked={skipBad} onChange={(e) => setSkipBad(e.target.checked)} data-testid="skip-bad-rows" /> skip bad rows
          </label>
          <span className="muted small">or drop a file here · {s.caps?.importFormats.join(' ')}</span>
          <span className="spacer" />
          <label className="inline">
            <span className="muted">built-in</span>
            <select value={builtin} onChange={(e) => setBuiltin(e.target.value)} aria-label="built-in dataset" data-testid="builtin-select">
              {builtins.map((b) => (
                <option key={b.name} value={b.name} title={b.description}>
                  {b.name}
                  {b.added ? ' (added)' : ''}
                </option>
              ))}
            </select>
          </label>
          <label className="inline small" title="fewer episodes: minutes become seconds">
            <input type="checkbox" checked={quick} onChange={(e) => setQuick(e.target.checked)} /> quick
          </label>
          <button onClick={() => void addBuiltin()} disabled={!builtin || imp?.phase === 'importing' || imp?.phase === 'uploading'} data-testid="builtin-add">
            Add
          </button>
          <input
            ref={fileInput}
            type="file"
            hidden
            accept={s.caps?.importFormats.join(',')}
            data-testid="file-input"
            onChange={(e) => {
              const f = e.target.files?.[0]
              if (f) importFile(f)
              e.target.value = ''
            }}
          />
        </div>
        {imp && (
          <div className={`import-status ${imp.phase}`} data-testid="import-status">
            <span className="file">{imp.file}</span>
            {(imp.phase === 'uploading' || imp.phase === 'importing') && (
              <>
                <progress value={imp.total ? imp.done : undefined} max={imp.total || undefined} aria-label={`${imp.phase} ${imp.file}`} />
                <span className="muted small">
                  {imp.phase}
                  {imp.total ? ` ${Math.round((100 * imp.done) / imp.total)}%` : '…'}
                </span>
              </>
            )}
            {imp.phase === 'error' && (
              <span className="error-text" role="alert" data-testid="import-error">
                {imp.message}
              </span>
            )}
            {imp.phase === 'done' && <span className="ok-text">{imp.message}</span>}
            {imp.phase === 'done' && imp.skipped && <SkippedRows rows={imp.skipped} />}
          </div>
        )}
        {pending && (
          <ColumnMapping
            key={pending.path}
            file={pending.label}
            preview={pending.preview}
            initial={pending.initial}
            onImport={(m) => void importPath(pending.label, pending.path, m)}
            onCancel={() => setPending(null)}
          />
        )}
      </div>

      <div className="split">
        <div className="panel">
          <table className="table" aria-label="datasets" data-testid="datasets-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th className="num">Traces</th>
                <th className="num">Steps</th>
                <th className="num">Score range</th>
                <th>Source</th>
                <th>Hash</th>
              </tr>
            </thead>
            <tbody>
              {s.datasets.map((d) => (
                <SelectableRow key={d.id} selected={current?.id === d.id} onSelect={() => setSelected(d.id)} testId={`dataset-row-${d.id}`}>
                  <td>{d.name}</td>
                  <td>{d.kind}</td>
                  <td className="num">{fmtInt(d.numTraces)}</td>
                  <td className="num">{fmtInt(d.numSteps)}</td>
                  <td className="num">
                    {fmt(d.scoreMin)} … {fmt(d.scoreMax)}
                  </td>
                  <td className="ellipsis" title={d.source}>
                    {d.source}
                  </td>
                  <td className="mono" title={d.hash}>
                    {d.hash.slice(0, 10)}
                  </td>
                </SelectableRow>
              ))}
              {!s.datasets.length && <EmptyRow columns={7}>No datasets yet.</EmptyRow>}
            </tbody>
          </table>
        </div>
        {current && <DatasetDetail d={current} scoreState={scoreState} />}
      </div>
    </section>
  )
}

function DatasetDetail({ d, scoreState }: { d: DatasetInfo; scoreState: string | null }): React.JSX.Element {
  const s = useApp()
  const { cols, error } = useColumns(s.api, d.id, d.hash)
  const [confirm, setConfirm] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  const data = useMemo(() => {
    if (!cols) return []
    const h = histogram(cols.scores, 40)
    const centers = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2)
    return [{ type: 'bar', x: centers, y: h.counts, width: h.edges[1] - h.edges[0], name: 'traces', hovertemplate: 'score %{x:.3g}: %{y} traces<extra></extra>' }]
  }, [cols])
  return (
    <div className="panel" data-testid="dataset-detail">
      <h2>{d.name}</h2>
      <dl className="facts">
        <dt>Traces</dt>
        <dd data-testid="detail-traces">{fmtInt(d.numTraces)}</dd>
        <dt>Steps</dt>
        <dd>{fmtInt(d.numSteps)}</dd>
        <dt>Kind</dt>
        <dd>
          {d.kind} · obs {d.obsDim} · act {d.actDim}
        </dd>
        <dt>Source</dt>
        <dd className="ellipsis" title={d.source}>
          {d.source}
        </dd>
        <dt>Hash</dt>
        <dd className="mono">{d.hash}</dd>
        <dt>Added</dt>
        <dd>{new Date(d.createdAt).toLocaleString()}</dd>
      </dl>
      {error ? (
        <p className="error-text">{error}</p>
      ) : (
        <Plot
          data={data}
          layout={{ title: { text: 'Score histogram', font: { size: 13 } }, xaxis: { title: { text: 'score S(τ)' } }, yaxis: { title: { text: 'traces' } }, bargap: 0.05 }}
          height={240}
          testId="score-histogram"
          ariaLabel="score histogram"
        />
      )}
      <div className="row gap wrap">
        <button className="primary" onClick={() => s.go('curation', { datasetId: d.id })}>
          Curate…
        </button>
        <button onClick={() => s.go('new-run', { datasetId: d.id })}>New run…</button>
        <button
          data-testid="score-ref"
          title="compute and cache log π_ref for every step"
          onClick={() => {
            setErr(null)
            s.api.invoke('datasets.scoreReference', { datasetId: d.id }).catch((e: Error) => setErr(e.message))
          }}
        >
          Score with reference model
        </button>
        {!confirm ? (
          <button className="danger ghost" onClick={() => setConfirm(true)}>
            Delete…
          </button>
        ) : (
          <span className="row gap">
            <span className="muted small">Delete this dataset and its presets?</span>
            <button
              className="danger"
              onClick={() => {
                setConfirm(false)
                s.api.invoke('datasets.delete', { datasetId: d.id }).catch((e: Error) => setErr(e.message))
              }}
            >
              Delete
            </button>
            <button onClick={() => setConfirm(false)}>Keep</button>
          </span>
        )}
      </div>
      {scoreState && (
        <p className={scoreState.startsWith('scoring failed') ? 'error-text small' : 'muted small'} data-testid="score-state">
          {scoreState}
        </p>
      )}
      {err && (
        <p className="error-text" role="alert">
          {err}
        </p>
      )}
    </div>
  )
}
