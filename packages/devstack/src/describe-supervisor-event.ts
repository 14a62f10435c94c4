import type { ProcessExit, SupervisorEvent } from './supervise-service.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const how = (exit: ProcessExit) => (exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`);
const who = (service: string, pid: number | undefined) => (pid ? `${service} (pid ${pid})` : service);

/** One line for a human about what the supervisor saw or did. */
export function describeSupervisorEvent(event: SupervisorEvent): string {
  switch (event.type) {
    case 'exited':
      return `${who(event.service, event.pid)} exited unexpectedly (${how(event.exit)}) after ${seconds(event.uptimeMs)}; restarting in ${seconds(event.restartInMs)} (restart ${event.restart})`;
    case 'restarted':
      return `${who(event.service, event.pid)} started again (restart ${event.restart}), waiting until it serves`;
    case 'up':
      return `${who(event.service, event.pid)} is back up, ${seconds(event.downMs)} after it went down`;
    case 'not-ready':
      return `${who(event.service, event.pid)} runs but does not serve: ${event.error}`;
    case 'gave-up':
      return `${event.service} crashed ${event.crashes} times within ${seconds(event.windowMs)} (last: ${how(event.exit)}); giving up on it, the rest of the mesh keeps running. Its log above says why; fix it and start the mesh again`;
  }
}
