// The shared contract suite (contract-suite.ts) against the gearmand target (contract-targets.ts).
import { contractSuite } from './contract-suite.js'
import { gearmand } from './contract-targets.js'

contractSuite(gearmand)
