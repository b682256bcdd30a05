// A virtualized table: only the rows in view (plus a few) are in the DOM, so 100,000 rows
// scroll as smoothly as 100. Fixed row height; sortable headers; arrow keys move the
// selection and Enter opens it.
import { useCallback, useEffect, useRef, useState } from 'react'

export interface Column {
  key: string
  label: string
  width: number | string
  align?: 'left' | 'right'
  sortable?: boolean
  render(row: number): React.ReactNode
}

export interface VirtualTableProps {
  rowCount: number
  columns: Column[]
  rowHeight?: number
  height: number | string
  sortKey?: string
  sortDir?: 'asc' | 'desc'
  onSort?(key: string): void
  selected?: number | null
  onSelect?(row: number): void
  onOpen?(row: number): void
  rowClass?(row: number): string
  label: string
  testId?: string
}

export function VirtualTable(p: VirtualTableProps): React.JSX.Element {
  const rh = p.rowHeight ?? 28
  const scroller = useRef<HTMLDivElement>(null)
  const [top, setTop] = useState(0)
  const [viewH, setViewH] = useState(400)
  useEffect(() => {
    const el = scroller.current
    if (!el) return
    const ro = new ResizeObserver(() => setViewH(el.clientHeight))
    ro.observe(el)
    setViewH(el.clientHeight)
    return () => ro.disconnect()
  }, [])
  const onScroll = useCallback(() => {
    const el = scroller.current
    if (el) setTop(el.scrollTop)
  }, [])
  const first = Math.max(0, Math.floor(top / rh) - 5)
  const last = Math.min(p.rowCount, Math.ceil((top + viewH) / rh) + 5)
  const template = p.columns.map((c) => (typeof c.width === 'number' ? `${c.width}px` : c.width)).join(' ')

  const ensureVisible = (row: number): void => {
    const el = scroller.current
    if (!el) return
    const y = row * rh
    if (y < el.scrollTop) el.scrollTop = y
    else if (y + rh > el.scrollTop + el.clientHeight) el.scrollTop = y + rh - el.clientHeight
  }
  const onKey = (e: React.KeyboardEvent): void => {
    if (!p.rowCount) return
    const cur = p.selected ?? -1
    let next = cur
    if (e.key === 'ArrowDown') next = Math.min(p.rowCount - 1, cur + 1)
    else if (e.key === 'ArrowUp') next = Math.max(0, cur - 1)
    else if (e.key === 'PageDown') next = Math.min(p.rowCount - 1, cur + Math.floor(viewH / rh))
    else if (e.key === 'PageUp') next = Math.max(0, cur - Math.floor(viewH / rh))
    else if (e.key === 'Home') next = 0
    else if (e.key === 'End') next = p.rowCount - 1
    else if (e.key === 'Enter' && cur >= 0) {
      p.onOpen?.(cur)
      return
    } else return
    e.preventDefault()
    p.onSelect?.(next)
    ensureVisible(next)
  }

  const rows: React.ReactNode[] = []
  for (let r = first; r < last; r++) {
    rows.push(
      <div
        key={r}
        role="row"
        aria-rowindex={r + 2}
        aria-selected={p.selected === r}
        className={`vt-row${p.selected === r ? ' selected' : ''}${r % 2 ? ' odd' : ''} ${p.rowClass?.(r) ?? ''}`}
        style={{ top: r * rh, height: rh, gridTemplateColumns: template }}
        onClick={() => p.onSelect?.(r)}
        onDoubleClick={() => p.onOpen?.(r)}
      >
        {p.columns.map((c) => (
          <div key={c.key} role="cell" className={`vt-cell${c.align === 'right' ? ' num' : ''}`}>
            {c.render(r)}
          </div>
        ))}
      </div>
    )
  }
  return (
    <div className="vt" role="table" aria-label={p.label} aria-rowcount={p.rowCount + 1} data-testid={p.testId}>
      <div className="vt-head" role="row" style={{ gridTemplateColumns: template }}>
        {p.columns.map((c) => {
          const active = p.sortKey === c.key
          return (
            <div key={c.key} role="columnheader" aria-sort={active ? (p.sortDir === 'asc' ? 'ascending' : 'descending') : 'none'} className={`vt-cell${c.align === 'right' ? ' num' : ''}`}>
              {c.sortable && p.onSort ? (
                <button className="linklike" onClick={() => p.onSort!(c.key)} title={`sort by ${c.label}`}>
                  {c.label}
                  {active ? (p.sortDir === 'asc' ? ' ▲' : ' ▼') : ''}
                </button>
              ) : (
                c.label
              )}
            </div>
          )
        })}
      </div>
      <div ref={scroller} className="vt-body" style={{ height: p.height }} onScroll={onScroll} tabIndex={0} onKeyDown={onKey} aria-label={`${p.label}: arrow keys move, Enter opens`}>
        <div style={{ height: p.rowCount * rh, position: 'relative' }}>{rows}</div>
      </div>
    </div>
  )
}
