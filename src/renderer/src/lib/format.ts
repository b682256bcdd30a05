export function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–'
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞'
  const a = Math.abs(v)
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2)
  return Number(v.toPrecision(digits)).toString()
}

export function fmtInt(v: number): string {
  return v.toLocaleString('en-US')
}

export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–'
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${s % 60} s`
  return `${Math.floor(m / 60)} h ${m % 60} min`
}

export function pct(v: number, digits = 1): string {
  return `${(v * 100).toFixed(digits)}%`
}

/** Metric keys the trainer logs every step; anything else is an evaluation metric. */
const TRAIN_KEYS = new Set([
  'loss',
  'lr',
  'grad_norm',
  'logw_raw_min',
  'logw_raw_median',
  'logw_raw_max',
  'logw_min',
  'logw_median',
  'logw_max',
  'ess',
  'ess_fraction',
  'clamp_fraction',
  'tokens_per_s'
])
const EVAL_PREFERENCE = ['normalized_score', 'eval_normalized_score', 'expected_reward', 'eval_return', 'return', 'score']

export function evalKey(keys: Iterable<string>): string | null {
  const all = [...keys]
  for (const k of EVAL_PREFERENCE) if (all.includes(k)) return k
  return all.find((k) => !TRAIN_KEYS.has(k)) ?? null
}

/** One token's text for the per-token displays, with its white space made visible (a space ␣, a
 *  line break ⏎, a tab ⇥: glyphs that Linux's common DejaVu fonts have, unlike ␠) and an empty
 *  piece as ∅, so every token is seen and where it starts and ends reads. */
export function visibleToken(text: string): string {
  return text.replace(/ /g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥') || '∅'
}
