// The shared contract suite (contract-suite.ts) against the in-process target (contract-targets.ts).
import { contractSuite } from './contract-suite.js'
import { inProcess } from './contract-targets.js'

contractSuite(inProcess)
