// The layers of src/ (BRIEF.md, README "How the code is laid out"), checked by `npm run lint`:
//   src/shared          plain types, schemas and pure functions; no Node; the renderer may import only this
//   src/main/common     data types and pure functions shared by the engine and the store
//   src/main/engine     the science: imports no store, services, jobs, CLI, Electron, report or export
//   src/main/store, jobs, services, cli, report, export, suites   the back end around it
//   src/main/electron + src/preload   the only places that import `electron`
//   src/renderer        the React UI: src/shared and browser packages only
//   src/main/cli        argument parsing and printing; everything else through the services
//                       (the contract as its API), like the app's IPC and HTTP front ends
// and no import cycles anywhere in src/ (type-only imports count: a cycle of types is still
// two modules that cannot be understood apart).

// The CLI's engine tools, which reach the engine directly because going through the services
// would add nothing (each file says why): backend install/status, bench, doctor, datasets
// make/refs, and the project opener they share. Every other command calls the services (the
// contract as its API), like the app's HTTP front end. Nothing else may be added here.
const CLI_EXCEPTIONS = {
  'src/main/cli/commands/backend.ts': [
    'src/main/engine/backend/bench-mlp.ts',
    'src/main/engine/backend/gpu.ts',
    'src/main/engine/backend/index.ts',
    'src/main/engine/backend/install.ts',
    'src/main/engine/backend/native.ts',
    'src/main/engine/backend/paths.ts',
    'src/main/engine/backend/readback.ts'
  ],
  'src/main/cli/commands/bench.ts': [
    'src/main/engine/backend/bench-entries.ts',
    'src/main/engine/backend/bench-peer.ts',
    'src/main/engine/backend/bench-profile.ts',
    'src/main/engine/backend/index.ts',
    'src/main/engine/llm/bench-entries.ts',
    'src/main/engine/policies/index.ts',
    'src/main/engine/rng.ts',
    'src/main/engine/train/scoring.ts',
    'src/main/engine/train/trainer.ts'
  ],
  'src/main/cli/commands/datasets.ts': [
    'src/main/engine/datasets/control-behaviour.ts',
    'src/main/engine/datasets/control-cache.ts',
    'src/main/engine/datasets/control-experts.ts',
    'src/main/engine/datasets/control-train-experts.ts',
    'src/main/engine/datasets/control.ts',
    'src/main/engine/envs/registry.ts'
  ],
  'src/main/cli/commands/doctor.ts': ['src/main/engine/backend/index.ts', 'src/main/engine/backend/install.ts', 'src/main/engine/backend/paths.ts'],
  'src/main/cli/project.ts': ['src/main/jobs/builtin-datasets.ts', 'src/main/store/index.ts', 'src/main/store/types.ts']
}

const exact = (path) => `^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`
const CLI_FORBIDDEN = '^src/main/(engine|store|jobs)/'
const CLI_COMMENT = 'the CLI parses arguments and prints; it reaches the engine, the store and the jobs through the services'

/** The CLI rule: one rule for the files without exceptions, one a file for those with them. */
const cliRules = [
  {
    name: 'cli-through-services',
    severity: 'error',
    comment: CLI_COMMENT,
    from: { path: '^src/main/cli/', pathNot: Object.keys(CLI_EXCEPTIONS).map(exact) },
    to: { path: CLI_FORBIDDEN }
  },
  ...Object.entries(CLI_EXCEPTIONS).map(([file, allowed]) => ({
    name: 'cli-through-services',
    severity: 'error',
    comment: `${CLI_COMMENT} (listed exceptions aside, see CLI_EXCEPTIONS)`,
    from: { path: exact(file) },
    to: { path: CLI_FORBIDDEN, pathNot: allowed.map(exact) }
  }))
]

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'modules that import each other, directly or round a circle',
      from: {},
      to: { circular: true }
    },
    {
      name: 'engine-below-the-back-end',
      severity: 'error',
      comment: 'the engine (the science) must not know the store, the jobs, the services, the CLI, Electron, reports or exports',
      from: { path: '^src/main/engine/' },
      to: { path: ['^src/main/(store|services|jobs|cli|electron|report|export|suites)/', '^src/(renderer|preload)/'] }
    },
    {
      name: 'electron-only-in-the-shell',
      severity: 'error',
      comment: '`electron` is imported only by src/main/electron and src/preload',
      from: { path: '^src/', pathNot: ['^src/main/electron/', '^src/preload/'] },
      to: { path: '(^|/)node_modules/electron/' }
    },
    {
      name: 'renderer-imports-shared-only',
      severity: 'error',
      comment: 'the renderer runs in a browser: it imports src/shared (and itself), never src/main or src/preload',
      from: { path: '^src/renderer/' },
      to: { path: '^src/', pathNot: ['^src/renderer/', '^src/shared/'] }
    },
    {
      name: 'renderer-no-node',
      severity: 'error',
      comment: 'the renderer runs in a browser: no node:* modules',
      from: { path: '^src/renderer/' },
      to: { dependencyTypes: ['core'] }
    },
    {
      name: 'renderer-no-node-packages',
      severity: 'error',
      comment: 'the renderer runs in a browser: no npm package that needs Node (native addons, file or socket access)',
      from: { path: '^src/renderer/' },
      to: { path: '(^|/)node_modules/(better-sqlite3|ws|yauzl|tsx|electron|@tensorflow/tfjs-node[^/]*)/' }
    },
    {
      name: 'shared-no-node-no-main',
      severity: 'error',
      comment: 'src/shared is imported by the renderer: no node:* modules and nothing from src/main',
      from: { path: '^src/shared/' },
      to: { path: '^src/(main|renderer|preload)/' }
    },
    {
      name: 'shared-no-node',
      severity: 'error',
      comment: 'src/shared is imported by the renderer: no node:* modules',
      from: { path: '^src/shared/' },
      to: { dependencyTypes: ['core'] }
    },
    {
      name: 'common-imports-shared-only',
      severity: 'error',
      comment: 'src/main/common is below the engine and the store: it imports src/shared, npm and node only',
      from: { path: '^src/main/common/' },
      to: { path: '^src/', pathNot: ['^src/main/common/', '^src/shared/'] }
    },
    ...cliRules
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.node.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'] },
    reporterOptions: { text: { highlightFocused: true } }
  }
}
