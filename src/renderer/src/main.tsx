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
  const client = createClient()
  root.render(
    <StrictMode>
      <AppProvider client={client}>
        <App />
      </AppProvider>
    </StrictMode>
  )
}
