// The checks a run's start makes on its language models before it writes anything (one place,
// used by executeRun and by config.validate, so New run refuses exactly what the start would):
//   policy.model     θ's model must read the dataset as it was tokenised (an LLM policy)
//   reference.model  π_ref's model likewise, when the method uses π_ref (not SFT on all data)
import { trainsOnAllData, type RunConfig } from '../../shared/config.ts'
import type { ProjectStore } from '../store/types.ts'
import { checkRunModel } from './llm-policy.ts'
import { ModelReferenceError, resolveModelReference } from './model-reference.ts'

export type RunModelField = 'policy.model' | 'reference.model'

/**
 * Run the checks; returns π_ref's model reference when the run scores with one. Without `onIssue`
 * the first failing check throws its ModelReferenceError (a run start); with it each failure is
 * reported against its field and the checks go on (validation). When π_ref is the start model, a
 * failure is reported once, on policy.model.
 */
export function checkRunModels(
  store: ProjectStore,
  config: RunConfig,
  datasetId: number,
  onIssue?: (field: RunModelField, e: ModelReferenceError) => void
): ReturnType<typeof resolveModelReference> | undefined {
  let policyFailed = false
  const guard = <T>(field: RunModelField, f: () => T): T | undefined => {
    if (!onIssue) return f()
    try {
      return f()
    } catch (e) {
      if (!(e instanceof ModelReferenceError)) throw e
      if (field === 'policy.model') policyFailed = true
      onIssue(field, e)
      return undefined
    }
  }
  const policy = config.policy
  if (policy.kind === 'llm') guard('policy.model', () => checkRunModel(store, policy, datasetId))
  const ref = config.reference
  if (ref.kind !== 'model' || trainsOnAllData(config.method)) return undefined
  if (policyFailed && policy.kind === 'llm' && policy.model === ref.model) return undefined
  return guard('reference.model', () => resolveModelReference(store, ref.model, datasetId))
}
