// Generated tokens shaded by their log-probability under the model, as running text: white where
// the model was sure (log p near 0), deeper red the less likely the token was. The text, id, log p and p of a
// token show on hover (its title) and, for keyboard users, on focus in the line below.
import { useMemo, useState } from 'react'
import { fmt } from '../lib/format.ts'

export interface LogprobToken {
  id: number
  text: string
  logprob: number
}

function shade(lp: number, scale: number): string {
  const a = Math.min(1, Math.max(0, -lp) / scale)
  return `rgba(201,72,72,${(0.04 + 0.66 * a).toFixed(3)})`
}

// the text as it reads (spaces stay spaces inside the shading); a line break shows as ↵ and breaks
const visible = (t: string): string => t.replace(/\n/g, '↵\n')

const describe = (t: LogprobToken, i: number): string => `token ${i} · "${t.text}" (id ${t.id}) · log p = ${fmt(t.logprob)} · p = ${fmt(Math.exp(t.logprob), 3)}`

export function TokenLogprobs({ tokens, testId = 'token-logprobs' }: { tokens: LogprobToken[]; testId?: string }): React.JSX.Element {
  const [focus, setFocus] = useState<number | null>(null)
  // log p = −scale and below is the full colour: the 95th percentile of −log p, at least 1 nat
  const scale = useMemo(() => {
    const a = tokens
      .map((t) => -t.logprob)
      .filter(Number.isFinite)
      .sort((x, y) => x - y)
    return Math.max(1, a.length ? a[Math.min(a.length - 1, Math.floor(a.length * 0.95))] : 1)
  }, [tokens])
  return (
    <div className="trace-viewer" data-testid={testId}>
      <div className="row gap small muted wrap" aria-hidden>
        <span>log p:</span>
        {[0, -scale / 2, -scale].map((v) => (
          <span key={v} className="tok" style={{ background: shade(v, scale), color: 'inherit' }}>
            {fmt(v, 2)}
          </span>
        ))}
        <span>white: the model was sure · red: an unlikely token</span>
      </div>
      <div className="tokens gen-tokens" role="list" aria-label="generated tokens shaded by log-probability">
        {tokens.map((t, i) => (
          <span
            key={i}
            role="listitem"
            tabIndex={0}
            className="tok"
            style={{ background: shade(t.logprob, scale), color: 'inherit' }}
            title={describe(t, i)}
            aria-label={describe(t, i)}
            data-logprob={t.logprob}
            onFocus={() => setFocus(i)}
            onMouseEnter={() => setFocus(i)}
          >
            {visible(t.text) || '∅'}
          </span>
        ))}
      </div>
      <div className="small mono" aria-live="polite" data-testid={`${testId}-hover`}>
        {focus !== null && tokens[focus] ? describe(tokens[focus], focus) : 'hover or focus a token for its log-probability'}
      </div>
    </div>
  )
}
