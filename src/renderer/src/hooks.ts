import { useEffect, useState } from 'react'
import type { Api, DatasetColumns, PresetInfo } from '../../shared/contract.ts'

const columnsCache = new Map<string, Promise<DatasetColumns>>()

/** Per-trace columns of a dataset (cached per project+dataset+hash). */
export function useColumns(api: Api, datasetId: number | undefined, hash?: string): { cols: DatasetColumns | null; error: string | null } {
  const [cols, setCols] = useState<DatasetColumns | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    setCols(null)
    setError(null)
    if (!datasetId) return
    const key = `${datasetId}:${hash ?? ''}`
    let p = columnsCache.get(key)
    if (!p) {
      p = api.invoke('datasets.columns', { datasetId })
      columnsCache.set(key, p)
      p.catch(() => columnsCache.delete(key))
    }
    let alive = true
    p.then((c) => alive && setCols(c)).catch((e: Error) => alive && setError(e.message))
    return () => {
      alive = false
    }
  }, [api, datasetId, hash])
  return { cols, error }
}

export function usePresets(api: Api, datasetId: number | undefined, version = 0): PresetInfo[] {
  const [presets, setPresets] = useState<PresetInfo[]>([])
  useEffect(() => {
    if (!datasetId) {
      setPresets([])
      return
    }
    let alive = true
    api
      .invoke('presets.list', { datasetId })
      .then((p) => alive && setPresets(p))
      .catch(() => {})
    return () => {
      alive = false
    }
  }, [api, datasetId, version])
  return presets
}
