// The native file pickers the desktop's preload offers (window.api.pickFile); the shell refuses
// any other kind, and lets the back end use what the user picked (and nothing else outside the
// project's folder). Its own file so that the shell's bundle does not carry the contract's
// schemas (contract.ts re-exports it).
const PICKERS = ['dataset', 'project-open', 'project-new', 'folder', 'report-html', 'report-md', 'report-pdf'] as const
export type PickKind = (typeof PICKERS)[number]
export const PICK_KINDS: readonly string[] = PICKERS
