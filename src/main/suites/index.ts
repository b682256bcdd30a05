// Every suite registers itself on import.
import './bandit.ts'
import './control.ts'
import './llm.ts'
import './sequence.ts'

export { getSuite, suiteNames, type Suite, type SuiteResult } from './suite.ts'
