export type { Clock, ClockTimer } from './clock.ts';
export { createManualClock, type ManualClock, type ManualClockOptions } from './manual-clock.ts';
export { systemClock } from './system-clock.ts';
