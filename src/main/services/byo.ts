// byo.*: bring your own log-probs (byo-service.ts does the work): import, weights under any
// settings, one trace's ρ_t, and following a JSONL log that another job appends to, named by the
// caller's followId (byo.update and byo.error events carry it).
import { ApiError, type Handlers } from '../../shared/contract.ts'
import { byoInspect, byoTraceRho, followByo, importByo, type ByoFollowHandle } from './byo-service.ts'
import type { ServiceContext } from './context.ts'

type ByoRequests = 'byo.import' | 'byo.inspect' | 'byo.traceRho' | 'byo.follow' | 'byo.unfollow'

export function byoHandlers(ctx: ServiceContext): Pick<Handlers, ByoRequests> {
  const follows = new Map<string, ByoFollowHandle>()
  ctx.onProjectClose(async () => {
    await Promise.all([...follows.values()].map((h) => h.stop().catch(() => {})))
    follows.clear()
  })
  return {
    'byo.import': async ({ path, ...o }) => {
      const r = await importByo(ctx.store, path, o)
      ctx.emit('project.changed', { what: 'datasets' })
      return r
    },
    'byo.inspect': async (input) => byoInspect(ctx.store, input),
    'byo.traceRho': async (input) => byoTraceRho(ctx.store, input),
    'byo.follow': async ({ followId, path, ...o }) => {
      if (follows.has(followId)) throw new ApiError(`"${followId}" is already following a file; unfollow it first`, 'failed')
      const h = followByo(ctx.store, path, { ...o, onError: (message) => ctx.emit('byo.error', { followId, message }) }, (u) => {
        ctx.emit('byo.update', { followId, ...u })
        ctx.emit('project.changed', { what: 'datasets' })
      })
      follows.set(followId, h)
      return { ok: true as const }
    },
    'byo.unfollow': async ({ followId }) => {
      await follows.get(followId)?.stop()
      follows.delete(followId)
      return { ok: true as const }
    }
  }
}
