// The one place where an error of the back end becomes the contract's wire error (services.call
// applies it to whatever a handler throws). A handler throws ApiError itself only where it knows
// more than the error's type: what was not found, or which file a parse error belongs to.
import { ConfigError, type FieldIssue } from '../../shared/config.ts'
import { ApiError } from '../../shared/contract.ts'
import { DatasetError } from '../common/trace.ts'
import { ExportExistsError, ExportPathError } from '../export/atomic.ts'

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e
  const message = e instanceof Error ? e.message : String(e)
  // a run's settings: every offending field, for the form
  if (e instanceof ConfigError) return new ApiError(message, 'invalid_config', e.issues)
  // a file would be replaced: the app asks, then retries with overwrite
  if (e instanceof ExportExistsError) return new ApiError(`${e.path} already exists. Replace it?`, 'exists', [{ path: e.path, message: 'already exists' }])
  if (e instanceof ExportPathError) return new ApiError(message, 'invalid_input')
  // data that is not what it claims (an import, imported log-probs)
  if (e instanceof DatasetError) return new ApiError(message, 'invalid_data')
  return new ApiError(message, 'failed')
}

/** The field issues of an error: a ConfigError's own (path + message each), else the whole
 *  message as one issue of no particular field. */
export function configIssues(e: unknown): FieldIssue[] {
  if (e instanceof ConfigError) return e.issues
  return [{ path: '', message: e instanceof Error ? e.message : String(e) }]
}
