// Tokens of one trace shaded by a per-step value on a diverging scale centred at 0: blue where
// the policy q gives the token more probability than π_ref (ρ_t > 0), red where less. The value
// (and the log-probs behind it) shows on hover, through the title and for keyboard users on
// focus in the line under the tokens. Prompt (masked) tokens stay grey: they do not count.

import { useMemo, useState } from 'react'
import { fmt, visibleToken } from '../lib/format.ts'

export interface TokenRhoToken {
  id: number
  /** the tokenizer's text of the token, or null (the id is shown) */
  text: string | null
  /** a prompt token: not counted in the weight */
  masked: boolean
  /** ρ_t = log q − log π_ref */
  rho: number | null
  /** g(ρ_t) after the per-step transform */
  g?: number | null
  /** per-step weight w_t */
  w?: number | null
  logq?: number | null
  logref?: number | null
}

export type TokenShade = 'rho' | 'g' | 'logw'

/** The shaded value of a token: ρ_t, g(ρ_t), or log w_t (so that w_t = 1 is the centre). */
function shadeValue(t: TokenRhoToken, by: TokenShade): number | null {
  if (t.masked) return null
  if (by === 'rho') return t.rho
  if (by === 'g') return t.g ?? null
  return t.w === null || t.w === undefined || t.w <= 0 ? null : Math.log(t.w)
}

/** Diverging colour centred at 0; |v| ≥ scale is the full colour. */
function divergingColor(v: number | null, scale: number): string | undefined {
  if (v === null || !Number.isFinite(v)) return undefined
  const a = Math.min(1, Math.abs(v) / (scale > 0 ? scale : 1))
  return v >= 0 ? `rgba(59,130,196,${(0.08 + 0.72 * a).toFixed(3)})` : `rgba(201,72,72,${(0.08 + 0.72 * a).toFixed(3)})`
}

function describe(t: TokenRhoToken, i: number): string {
  const head = `step ${i} · ${t.text !== null ? `"${t.text}" (id ${t.id})` : `token ${t.id}`}`
  if (t.masked) return `${head} · prompt, not counted`
  const parts = [`ρ = ${fmt(t.rho)}`]
  if (t.g !== undefined && t.g !== null && t.g !== t.rho) parts.push(`g(ρ) = ${fmt(t.g)}`)
  if (t.w !== undefined && t.w !== null) parts.push(`w_t = ${fmt(t.w)}`)
  if (t.logq !== undefined && t.logq !== null) parts.push(`log q = ${fmt(t.logq)}`)
  if (t.logref !== undefined && t.logref !== null) parts.push(`log π_ref = ${fmt(t.logref)}`)
  return `${head} · ${parts.join(' · ')}`
}

export function TokenRho({ tokens, by = 'rho', scale, testId = 'token-rho' }: { tokens: TokenRhoToken[]; by?: TokenShade; scale?: number; testId?: string }): React.JSX.Element {
  const [focus, setFocus] = useState<number | null>(null)
  const s = useMemo(() => {
    if (scale && scale > 0) return scale
    // the 98th percentile of |value|, so one outlier does not wash out the rest
    const a = tokens
      .map((t) => shadeValue(t, by))
      .filter((v): v is number => v !== null && Number.isFinite(v))
      .map(Math.abs)
      .sort((x, y) => x - y)
    return a.length ? Math.max(1e-6, a[Math.min(a.length - 1, Math.floor(a.length * 0.98))]) : 1
  }, [tokens, by, scale])
  const label = by === 'rho' ? 'ρ_t' : by === 'g' ? 'g(ρ_t)' : 'log w_t'
  return (
    <div className="trace-viewer" data-testid={testId}>
      <div className="row gap small muted wrap" aria-hidden>
        <span>{label}:</span>
        <span className="tok" style={{ background: divergingColor(-s, s), color: 'inherit' }}>
          −{fmt(s, 3)}
        </span>
        <span className="tok" style={{ background: divergingColor(-s / 2, s), color: 'inherit' }}>
          −{fmt(s / 2, 3)}
        </span>
        <span className="tok" style={{ color: 'inherit' }}>
          0
        </span>
        <span className="tok" style={{ background: divergingColor(s / 2, s), color: 'inherit' }}>
          +{fmt(s / 2, 3)}
        </span>
        <span className="tok" style={{ background: divergingColor(s, s), color: 'inherit' }}>
          +{fmt(s, 3)}
        </span>
        <span>blue: q above π_ref · red: below · grey: prompt (not counted)</span>
      </div>
      <div className="tokens" role="list" aria-label={`tokens shaded by ${label}`}>
        {tokens.map((t, i) => {
          const v = shadeValue(t, by)
          const d = describe(t, i)
          return (
            <span
              key={i}
              role="listitem"
              tabIndex={0}
              className={t.masked ? 'tok' : 'tok on'}
              style={t.masked ? undefined : { background: divergingColor(v, s), color: 'inherit', fontWeight: 400 }}
              title={d}
              aria-label={d}
              onFocus={() => setFocus(i)}
              onMouseEnter={() => setFocus(i)}
              data-rho={t.rho ?? ''}
            >
              {t.text !== null ? visibleToken(t.text) : t.id}
            </span>
          )
        })}
      </div>
      <div className="small mono" aria-live="polite" data-testid={`${testId}-hover`}>
        {focus !== null && tokens[focus] ? describe(tokens[focus], focus) : 'hover or focus a token for its ρ_t'}
      </div>
    </div>
  )
}
