import { EventEmitter } from 'node:events';
import type { Pool } from '@toolmesh/db';
import type { TaskRecord } from './task-record.ts';

/**
 * In-process signals between the parts of one service that share a task table:
 * an enqueue nudges the local workers, and a worker's updates reach local
 * watchers at once. Other processes are reached by polling instead.
 */
export interface TaskEvents {
  /** A task was enqueued here. */
  enqueued(): void;
  /** A task changed here. */
  changed(record: TaskRecord): void;
  onEnqueued(listener: () => void): () => void;
  onChanged(taskId: string, listener: (record: TaskRecord) => void): () => void;
}

// Keyed by pool, then schema: the store, workers and service a service creates
// separately from the same options find the same bus, and it goes with the pool.
const buses = new WeakMap<Pool, Map<string, TaskEvents>>();

function createTaskEvents(): TaskEvents {
  const emitter = new EventEmitter();
  // One listener per watcher and per worker: a count, not a leak.
  emitter.setMaxListeners(0);
  return {
    enqueued: () => emitter.emit('enqueued'),
    changed: (record) => emitter.emit(`changed:${record.taskId}`, record),
    onEnqueued(listener) {
      emitter.on('enqueued', listener);
      return () => emitter.off('enqueued', listener);
    },
    onChanged(taskId, listener) {
      emitter.on(`changed:${taskId}`, listener);
      return () => emitter.off(`changed:${taskId}`, listener);
    },
  };
}

/** The in-process task bus of a pool and schema. */
export function taskEvents(pool: Pool, schema: string): TaskEvents {
  let bySchema = buses.get(pool);
  if (!bySchema) {
    bySchema = new Map();
    buses.set(pool, bySchema);
  }
  let events = bySchema.get(schema);
  if (!events) {
    events = createTaskEvents();
    bySchema.set(schema, events);
  }
  return events;
}
