// New run's "Run on" (issue 18): this machine (the engine: New run's own Launch), accelerate on
// this machine (the Python trainer under torchrun or accelerate launch, launch.start), or a job
// folder for a cluster (launch.emit, then launch.follow once the folder is synced back). The
// commands come from the back end (launch.plan) for the config as the form has it, and each is
// shown copyable. Only a language-model policy runs on the Python trainer: for any other config
// the plan says why (plan.unsupported) and nothing can start.
import { useEffect, useState } from 'react'
import { ApiError } from '../../../shared/contract.ts'
import { LAUNCHERS, RUN_ON, RUN_ON_LABELS, type LaunchEmitted, type LaunchPlan, type Launcher, type RunOn } from '../../../shared/launch.ts'
import { useApp } from '../state.tsx'
import { CopyCommand } from './CopyCommand.tsx'
import { PythonEnvPanel } from './PythonEnvPanel.tsx'

/** The segmented control: one button per RUN_ON choice. */
export function RunOnChoice(props: { value: RunOn; onChange(v: RunOn): void }): React.JSX.Element {
  return (
    <div className="row gap run-on-choice">
      <span className="muted small" id="run-on-label">
        Run on
      </span>
      <div className="segmented" role="radiogroup" aria-labelledby="run-on-label" data-testid="run-on">
        {RUN_ON.map((r) => (
          <button key={r} role="radio" aria-checked={props.value === r} className={props.value === r ? 'on' : ''} onClick={() => props.onChange(r)} data-testid={`run-on-${r}`}>
            {RUN_ON_LABELS[r]}
          </button>
        ))}
      </div>
    </div>
  )
}

/** The resolved config the commands name as config.json (save it beside them to run them by hand). */
function ConfigJson(props: { json: string }): React.JSX.Element {
  return (
    <details className="config-json" data-testid="ro-config-json">
      <summary className="small">config.json: the resolved config the commands read</summary>
      <CopyCommand command={props.json} testId="ro-config-json-box" />
    </details>
  )
}

/** Field errors of a failed request, by the request's field name ('' for the rest). */
function errorsOf(e: unknown): Record<string, string> {
  if (e instanceof ApiError && e.issues.length) {
    const out: Record<string, string> = {}
    for (const i of e.issues) out[i.path.split('.')[0] === 'config' ? '' : i.path] ??= i.message
    if (!('' in out) && Object.keys(out).every((k) => !['numProcesses', 'launcher', 'dir'].includes(k))) out[''] = e.message
    return out
  }
  return { '': (e as Error).message }
}

function usePlan(
  config: Record<string, unknown> | null,
  numProcesses: number | null,
  launcher: Launcher,
  dir: string,
  version: number
): { plan: LaunchPlan | null; errors: Record<string, string>; loading: boolean } {
  const s = useApp()
  const [plan, setPlan] = useState<LaunchPlan | null>(null)
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [loading, setLoading] = useState(false)
  const key = JSON.stringify([config, numProcesses, launcher, dir, version])
  useEffect(() => {
    if (!config) return
    let live = true
    setLoading(true)
    // asked a moment after the last edit, as New run's reference cost is
    const t = setTimeout(() => {
      s.api
        .invoke('launch.plan', { config, launcher, ...(numProcesses ? { numProcesses } : {}), ...(dir.trim() ? { dir: dir.trim() } : {}) })
        .then((p) => {
          if (!live) return
          setPlan(p)
          setErrors({})
        })
        .catch((e: unknown) => {
          if (!live) return
          setPlan(null)
          setErrors(errorsOf(e))
        })
        .finally(() => live && setLoading(false))
    }, 250)
    return () => {
      live = false
      clearTimeout(t)
    }
  }, [key])
  return { plan, errors, loading }
}

export function RunOnPanel(props: {
  runOn: Exclude<RunOn, 'local'>
  /** the form's config, or null while it has errors (they are shown beside its fields) */
  config: Record<string, unknown> | null
}): React.JSX.Element {
  const { runOn, config } = props
  const s = useApp()
  const [procText, setProcText] = useState('2')
  const [launcher, setLauncher] = useState<Launcher>('torchrun')
  const [dir, setDir] = useState('')
  const [version, setVersion] = useState(0)
  const n = Number(procText)
  const procError = Number.isInteger(n) && n >= 1 && n <= 64 ? null : 'a whole number of processes, 1 … 64'
  const { plan, errors: planErrors, loading } = usePlan(config, procError ? null : n, launcher, runOn === 'cluster' ? dir : '', version)
  const [busy, setBusy] = useState(false)
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [emitted, setEmitted] = useState<LaunchEmitted | null>(null)
  const [ask, setAsk] = useState<string | null>(null)
  useEffect(() => {
    setErrors({})
    setAsk(null)
  }, [runOn, config ? JSON.stringify(config) : ''])
  const err = { ...planErrors, ...errors }
  const blocked = !config ? 'fix the highlighted fields first' : plan?.unsupported ? plan.unsupported : null

  const start = async (): Promise<void> => {
    if (!config || procError) return
    setBusy(true)
    setErrors({})
    try {
      const r = await s.api.invoke('launch.start', { config, numProcesses: n, launcher })
      s.go('runs', { runIds: [r.runId] })
    } catch (e) {
      setErrors(errorsOf(e))
    } finally {
      setBusy(false)
    }
  }
  const target = (): string => dir.trim() || plan?.cluster.dir || ''
  const emit = async (overwrite: boolean): Promise<void> => {
    if (!config || !target()) return
    setBusy(true)
    setErrors({})
    setAsk(null)
    try {
      setEmitted(await s.api.invoke('launch.emit', { config, dir: target(), ...(overwrite ? { overwrite: true } : {}) }))
    } catch (e) {
      if (e instanceof ApiError && e.code === 'exists') setAsk(e.message)
      else setErrors(errorsOf(e))
    } finally {
      setBusy(false)
    }
  }
  const follow = async (): Promise<void> => {
    const d = emitted?.dir ?? target()
    if (!d) return
    setBusy(true)
    setErrors({})
    try {
      const r = await s.api.invoke('launch.follow', { dir: d })
      s.go('runs', { runIds: [r.runId] })
    } catch (e) {
      setErrors(errorsOf(e))
    } finally {
      setBusy(false)
    }
  }

  const fieldErr = (key: string, id: string): React.ReactNode =>
    err[key] ? (
      <span className="field-error" id={`${id}-err`} role="alert">
        {err[key]}
      </span>
    ) : null

  return (
    <div className="run-on-panel" data-testid={`run-on-panel-${runOn}`}>
      {blocked && (
        <p className="notice small" data-testid="run-on-unsupported">
          {plan?.unsupported ? `Not on the Python trainer: ${plan.unsupported}` : blocked}
        </p>
      )}
      {runOn === 'accelerate' && (
        <>
          <div className="form-grid">
            <div className={`field${procError || err.numProcesses ? ' invalid' : ''}`}>
              <label htmlFor="ro-procs">number of processes</label>
              <input
                id="ro-procs"
                data-testid="ro-procs"
                inputMode="numeric"
                value={procText}
                onChange={(e) => setProcText(e.target.value)}
                aria-invalid={!!(procError || err.numProcesses)}
              />
              {procError ? (
                <span className="field-error" role="alert">
                  {procError}
                </span>
              ) : (
                fieldErr('numProcesses', 'ro-procs')
              )}
            </div>
            <div className={`field${err.launcher ? ' invalid' : ''}`}>
              <label htmlFor="ro-launcher">launcher</label>
              <select id="ro-launcher" data-testid="ro-launcher" value={launcher} onChange={(e) => setLauncher(e.target.value as Launcher)}>
                {LAUNCHERS.map((l) => (
                  <option key={l} value={l}>
                    {l === 'torchrun' ? 'torchrun (DDP)' : 'accelerate launch'}
                  </option>
                ))}
              </select>
              {fieldErr('launcher', 'ro-launcher')}
            </div>
          </div>
          {/* a bad number of processes shows no command: the plan's would be for the last good one */}
          {plan && !plan.unsupported && !procError && (
            <>
              <CopyCommand
                key={plan.accelerate.command}
                command={plan.accelerate.command}
                label="the command (Start runs the same; one run, the first seed)"
                testId="ro-accelerate-command"
              />
              <ConfigJson json={plan.configJson} />
            </>
          )}
          <div className="row gap">
            <button
              className="primary"
              onClick={() => void start()}
              disabled={busy || loading || !plan || !!blocked || !plan.accelerate.available || !!procError}
              data-testid="ro-start"
              title={plan?.accelerate.reason ?? undefined}
            >
              {busy ? 'Starting…' : `Start on ${procError ? '?' : n} process${n === 1 ? '' : 'es'}`}
            </button>
            {plan && !plan.accelerate.available && !plan.unsupported && (
              <span className="field-warn" data-testid="ro-start-reason">
                {plan.accelerate.reason ?? 'not available here'}
              </span>
            )}
          </div>
          {plan && !plan.unsupported && <PythonEnvPanel status={plan.python} onChange={() => setVersion((v) => v + 1)} />}
        </>
      )}
      {runOn === 'cluster' && (
        <>
          <div className="form-grid">
            <div className={`field wide${err.dir ? ' invalid' : ''}`}>
              <label htmlFor="ro-dir">job folder</label>
              <input
                id="ro-dir"
                className="path-input"
                data-testid="ro-dir"
                value={dir}
                placeholder={plan?.cluster.dir ?? 'a folder on the machine running the back end'}
                onChange={(e) => {
                  setDir(e.target.value)
                  setEmitted(null)
                }}
                aria-invalid={!!err.dir}
              />
              {fieldErr('dir', 'ro-dir')}
            </div>
          </div>
          {plan && !plan.unsupported && !emitted && (
            <>
              <CopyCommand key={plan.cluster.emitCommand} command={plan.cluster.emitCommand} label="the same from a terminal" testId="ro-emit-command" />
              <ConfigJson json={plan.configJson} />
            </>
          )}
          <div className="row gap">
            <button className="primary" onClick={() => void emit(false)} disabled={busy || !plan || !!blocked} data-testid="ro-emit">
              {busy && !emitted ? 'Writing…' : 'Write job folder'}
            </button>
          </div>
          {ask && (
            <div className="confirm" role="alertdialog" aria-label="replace the job folder?" data-testid="ro-emit-confirm">
              <span>{ask}</span>
              <button className="danger" onClick={() => void emit(true)} data-testid="ro-emit-overwrite">
                Replace
              </button>
              <button onClick={() => setAsk(null)}>Keep</button>
            </div>
          )}
          {emitted && (
            <div className="run-on-emitted" data-testid="ro-emitted">
              <p className="ok-text small">
                wrote {emitted.files.length} files to <span className="mono">{emitted.dir}</span>
              </p>
              <p className="small muted">Copy the folder to the cluster and run it there (one of):</p>
              {emitted.runCommands.map((c, i) => (
                <CopyCommand key={c} command={c} testId={`ro-run-command-${i}`} />
              ))}
              <p className="small muted">Sync the folder back (its stream.jsonl grows as it trains), then follow it here:</p>
              <CopyCommand command={emitted.followCommand} testId="ro-follow-command" />
              <div className="row gap">
                <button onClick={() => void follow()} disabled={busy} data-testid="ro-follow">
                  Follow
                </button>
                <span className="muted small">records the run and shows it in Live runs</span>
              </div>
            </div>
          )}
        </>
      )}
      {err[''] && (
        <p className="error-text small" role="alert" data-testid="ro-error">
          {err['']}
        </p>
      )}
    </div>
  )
}
