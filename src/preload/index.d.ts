// What the preload exposes to the page as `window.api` (the desktop window only; in a browser
// tab window.api is undefined): the type of the preload's own api object, so the two cannot
// drift apart.
import type { PreloadApi } from './index.ts'

declare global {
  interface Window {
    api?: PreloadApi
  }
}

export {}
