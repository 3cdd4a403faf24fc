import type { Priority } from '../api.js'
import { InvalidArgumentError } from '../errors.js'
import { PRIORITY_HIGH, PRIORITY_LOW, PRIORITY_NORMAL, type PriorityLevel } from '../core/job.js'

export { epochOption, intOption, limitOption, signalOption, stringArg } from '../options.js'

export function priorityLevel(value: Priority | undefined): PriorityLevel {
  switch (value) {
    case undefined:
    case 'normal':
      return PRIORITY_NORMAL
    case 'high':
      return PRIORITY_HIGH
    case 'low':
      return PRIORITY_LOW
    default:
      throw new InvalidArgumentError('priority', "'high', 'normal' or 'low'", value)
  }
}

export const PRIORITY_NAMES: readonly Priority[] = ['high', 'normal', 'low']
