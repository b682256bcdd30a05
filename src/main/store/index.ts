// The project store: open a project file and get a ProjectStore (see types.ts).
export { openProject, StoreError, pidAlive, recoverAdvice, SCHEMA_VERSION, APPLICATION_ID, type OpenProjectOptions } from './project-store.ts'
export { encodeTensors, decodeTensors } from './blobs.ts'
export type * from './types.ts'
