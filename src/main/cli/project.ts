// Which project file a command works on: --project FILE, else ./project.iwsft in the current
// folder, created (with the built-in datasets) on first use.
import { resolve } from 'node:path'
import { ensureBuiltinDatasets } from '../jobs/builtin-datasets.ts'
import { openProject } from '../store/index.ts'
import type { ProjectStore } from '../store/types.ts'
import { strFlag, type Args } from './args.ts'

export const DEFAULT_PROJECT = 'project.iwsft'

export function projectPath(args: Args): string {
  return resolve(strFlag(args, 'project') ?? DEFAULT_PROJECT)
}

export async function openProjectFor(args: Args): Promise<ProjectStore> {
  const store = openProject(projectPath(args))
  await ensureBuiltinDatasets(store)
  return store
}
