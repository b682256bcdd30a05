// What the preload exposes to the renderer as `window.api` (desktop only; in the browser
// build window.api is undefined and the renderer talks HTTP + WebSocket instead).
import type { WireResult } from '../shared/contract.ts'

export interface PreloadApi {
  invoke(name: string, input: unknown): Promise<WireResult<unknown>>
  on(event: string, cb: (payload: unknown) => void): () => void
  pickFile(kind: 'dataset' | 'project-open' | 'project-new' | 'folder' | 'report-html' | 'report-md' | 'report-pdf'): Promise<string | null>
  pathForFile(file: File): string
}

declare global {
  interface Window {
    api?: PreloadApi
  }
}

export {}
