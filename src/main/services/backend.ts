// backend.*: which tfjs backends load here (checked in a worker, kept until asked again or an
// install ends), and building the native backend (in a worker; backend.install events report
// each step).
import { ApiError, type BackendInstallProgress, type BackendStatus, type Handlers } from '../../shared/contract.ts'
import type { ServiceContext } from './context.ts'
import { runInWorker } from './import-job.ts'

export function backendHandlers(ctx: ServiceContext): Pick<Handlers, 'backend.status' | 'backend.install'> {
  let probe: Promise<Omit<BackendStatus, 'install'>> | null = null
  let install: BackendInstallProgress | null = null
  const probeBackends = (): Promise<Omit<BackendStatus, 'install'>> => {
    if (!probe) {
      const p = runInWorker('probe', undefined).then((r) => ({ ...r, checkedAt: new Date().toISOString() }))
      p.catch(() => {
        if (probe === p) probe = null
      })
      probe = p
    }
    return probe
  }
  const report = (p: BackendInstallProgress): void => {
    install = p
    ctx.emit('backend.install', p)
  }
  return {
    'backend.status': async ({ refresh }) => {
      if (refresh && !(install?.status === 'running')) probe = null
      try {
        return { ...(await probeBackends()), install }
      } catch (e) {
        throw new ApiError(`could not check the backends: ${e instanceof Error ? e.message : String(e)}`, 'failed')
      }
    },
    'backend.install': async ({ gpu, force }) => {
      if (install?.status === 'running')
        throw new ApiError(`an install of the native ${install.gpu ? 'GPU' : 'CPU'} backend is already running (step ${install.step} of ${install.total})`, 'failed')
      const g = gpu ?? false
      report({ step: 0, total: 6, label: 'starting', status: 'running', gpu: g })
      runInWorker(
        'install',
        { gpu: g, force },
        {
          onStep: (p) =>
            report({
              step: p.step,
              total: p.total,
              label: p.label,
              ...(p.fraction !== undefined ? { fraction: p.fraction } : {}),
              ...(p.message ? { message: p.message } : {}),
              status: 'running',
              gpu: g
            })
        }
      ).then(
        (r) => {
          const total = install?.total ?? 6
          probe = null
          report({
            step: total,
            total,
            label: 'done',
            message: r.skipped ? `already installed and verified in ${r.dir}; nothing to build` : `installed and verified in ${r.dir} (${r.seconds.toFixed(0)} s)`,
            status: 'completed',
            gpu: g
          })
        },
        (e: unknown) => report({ ...(install ?? { step: 0, total: 6, label: 'starting', gpu: g }), status: 'failed', error: e instanceof Error ? e.message : String(e) })
      )
      return { started: true as const }
    }
  }
}
