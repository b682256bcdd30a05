// Small, fast run configs shared by the integration tests.
import { defaultConfig, type RunConfig } from '../../src/shared/config.ts'

/** The bandit on the cpu backend: 400 pulls, 60 steps of 32, logs every 10, snapshots at 30 and 60. */
export function quickBandit(o: Partial<RunConfig> = {}): RunConfig {
  const base = defaultConfig('bandit')
  return {
    ...base,
    backend: 'cpu',
    dataset_options: { pulls: 400 },
    train: { ...base.train, steps: 60, batch_size: 32, log_every: 10, snapshot_every: 30, eval_every: 20 },
    ...o
  }
}
