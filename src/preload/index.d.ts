// What the preload exposes to the renderer as `window.api` (desktop only; in the browser
// build window.api is undefined and the renderer talks HTTP + WebSocket instead): the type of
// the preload's own api object, so the two cannot drift apart.
import type { PreloadApi } from './index.ts'

declare global {
  interface Window {
    api?: PreloadApi
  }
}

export {}
