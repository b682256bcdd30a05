// Light and dark themes follow the system (prefers-color-scheme). Colours for plots come from
// here so that every chart matches the page.
import { useEffect, useState } from 'react'

export type ThemeName = 'light' | 'dark'

export function useTheme(): ThemeName {
  const q = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null
  const [dark, setDark] = useState(q?.matches ?? false)
  useEffect(() => {
    if (!q) return
    const f = (e: MediaQueryListEvent): void => setDark(e.matches)
    q.addEventListener('change', f)
    return () => q.removeEventListener('change', f)
  }, [])
  return dark ? 'dark' : 'light'
}

export interface PlotColors {
  text: string
  muted: string
  grid: string
  bg: string
  accent: string
  series: string[]
}

const SERIES = ['#3b82c4', '#d9822b', '#3a9e6f', '#c2477a', '#7b61c9', '#b59a2e', '#2a9fa8', '#8c6d55', '#5c7cfa', '#e0607e']

export function plotColors(t: ThemeName): PlotColors {
  return t === 'dark'
    ? { text: '#d8dce3', muted: '#8a93a2', grid: '#2c313a', bg: 'rgba(0,0,0,0)', accent: '#6aa7e0', series: SERIES }
    : { text: '#1f2630', muted: '#6b7482', grid: '#e4e7ec', bg: 'rgba(0,0,0,0)', accent: '#2f6fb0', series: SERIES }
}

/** Quality-bin colours: discarded, then multiplicity 1..N. */
export function binColor(m: number, t: ThemeName): string {
  if (m <= 0) return t === 'dark' ? '#5b6270' : '#b8bec8'
  return ['#3b82c4', '#3a9e6f', '#d9822b', '#c2477a', '#7b61c9'][(m - 1) % 5]
}
