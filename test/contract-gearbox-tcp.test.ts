// The shared contract suite (contract-suite.ts) against the gearbox-tcp target (contract-targets.ts).
import { contractSuite } from './contract-suite.js'
import { gearboxTcp } from './contract-targets.js'

contractSuite(gearboxTcp)
