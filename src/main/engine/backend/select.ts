// The backend selection rule, apart from tfjs so that it can be tested anywhere:
// 'auto' takes the first backend that activates in the order native-gpu, native-cpu, wasm, cpu;
// a forced backend that cannot activate is an error that says why and what to do.
import type { BackendChoice } from '../../../shared/config.ts'

export type BackendName = 'native-gpu' | 'native-cpu' | 'wasm' | 'cpu'

export const BACKEND_ORDER: readonly BackendName[] = ['native-gpu', 'native-cpu', 'wasm', 'cpu']

/** The name each backend registers under in tfjs. Both native variants are tfjs-node's 'tensorflow'. */
export const TFJS_NAME: Record<BackendName, string> = {
  'native-gpu': 'tensorflow',
  'native-cpu': 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu'
}

/** Thrown by an activator when its backend cannot be used here: `reason` says why, `advice` what to do. */
export class BackendUnavailable extends Error {
  constructor(
    readonly backend: BackendName,
    readonly reason: string,
    readonly advice: string
  ) {
    super(`${backend}: ${reason}`)
    this.name = 'BackendUnavailable'
  }
}

export function isBackendName(s: string): s is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(s)
}

export interface Selection {
  name: BackendName
  /** the backends tried before it, and why each was passed over */
  skipped: Array<{ name: BackendName; reason: string }>
}

/**
 * Choose a backend. `activate(name)` makes `name` the active backend or throws (a
 * BackendUnavailable for a known reason, anything else for an unexpected failure).
 */
export async function selectBackend(choice: BackendChoice, activate: (name: BackendName) => Promise<void>): Promise<Selection> {
  if (choice !== 'auto') {
    if (!isBackendName(choice)) {
      throw new Error(`unknown backend "${String(choice)}": choose one of auto, ${BACKEND_ORDER.join(', ')}`)
    }
    try {
      await activate(choice)
      return { name: choice, skipped: [] }
    } catch (e) {
      const reason = e instanceof BackendUnavailable ? e.reason : ((e as Error)?.message ?? String(e))
      const advice = e instanceof BackendUnavailable ? e.advice : 'run `npx iwsft doctor` to see which backends load here'
      throw new Error(`backend "${choice}" was asked for but cannot be used: ${reason}. To fix: ${advice}; or use --backend auto (first of ${BACKEND_ORDER.join(', ')} that loads).`, {
        cause: e
      })
    }
  }
  const skipped: Selection['skipped'] = []
  for (const name of BACKEND_ORDER) {
    try {
      await activate(name)
      return { name, skipped }
    } catch (e) {
      skipped.push({ name, reason: e instanceof BackendUnavailable ? e.reason : ((e as Error)?.message ?? String(e)) })
    }
  }
  throw new Error(`no tfjs backend could be activated: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`)
}
