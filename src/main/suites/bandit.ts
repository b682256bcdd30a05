// The toy bandit (paper §3.5): SFT vs iw-SFT with q = π_θ on the same data per seed.
import { defaultConfig, type Method } from '../../shared/config.ts'
import { registerSuite, ResultTable, runInSuite } from './suite.ts'

registerSuite('bandit', {
  metric: 'expected_reward',
  description: 'toy bandit (paper §3.5): SFT vs iw-SFT with q = π_θ, same data per seed',
  expectation: 'expected: SFT → 5/6 ≈ 0.833 (π(right) = 2/3); iw-SFT → 1',
  async run(ctx) {
    const table = new ResultTable('expected_reward')
    for (const method of ['sft', 'iw-sft'] as Method[]) {
      for (let seed = 0; seed < ctx.seeds; seed++) {
        const config = { ...defaultConfig('bandit'), method, seed, name: `bandit ${method} seed ${seed}` }
        const { final, diagnostics } = await runInSuite(ctx, `${method} seed ${seed}`, config)
        table.diagnose(method, diagnostics)
        table.add(method, 'expected_reward', final.expected_reward)
        table.add(method, 'p_right', final.p_right)
      }
    }
    return table.results()
  }
})
