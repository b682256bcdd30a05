// launch.* and python.*: "Run on" — the Python trainer (TRL + accelerate) on this machine, a job
// folder for a cluster, following a job folder's stream, and the trainer's Python environment
// (issue 18). SCAFFOLD: the contract is fixed (src/shared/launch.ts); the handlers are being
// built on branch bridge-ts and replace this file before anything lands.
import { ApiError, type Handlers } from '../../shared/contract.ts'
import type { ServiceContext } from './context.ts'

type LaunchRequests = 'launch.plan' | 'launch.start' | 'launch.emit' | 'launch.follow' | 'python.status' | 'python.install'

export function launchHandlers(_ctx: ServiceContext): Pick<Handlers, LaunchRequests> {
  const notYet = (name: string) => async (): Promise<never> => {
    throw new ApiError(`${name}: not built yet (issue 18)`, 'failed')
  }
  return {
    'launch.plan': notYet('launch.plan'),
    'launch.start': notYet('launch.start'),
    'launch.emit': notYet('launch.emit'),
    'launch.follow': notYet('launch.follow'),
    'python.status': notYet('python.status'),
    'python.install': notYet('python.install')
  }
}
