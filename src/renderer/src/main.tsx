import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { createClient } from './api.ts'
import { App } from './App.tsx'
import { AppProvider } from './state.tsx'
import './styles.css'

const root = createRoot(document.getElementById('root')!)
if (location.hash === '#bench') {
  // the UI benchmark (tests/e2e/bench-ui.ts): real components and plotly, synthetic data
  void import('./bench.tsx').then(({ Bench }) => root.render(<Bench />))
} else {
  void createClient().then((client) =>
    root.render(
      client.tokenMissing ? (
        <main className="token-missing" data-testid="token-missing">
          <h1>IW-SFT Workbench</h1>
          <p>
            This page has no access token. Open the link that <code>iwsft serve</code> printed (it carries the token after <code>#</code>), or start the desktop app.
          </p>
        </main>
      ) : (
        <StrictMode>
          <AppProvider client={client}>
            <App />
          </AppProvider>
        </StrictMode>
      )
    )
  )
}
