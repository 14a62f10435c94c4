import { readFileSync } from 'node:fs';
import type { Clock } from '@toolmesh/clock';
import type { Logger } from '@toolmesh/telemetry';
import {
  PublishingPolicyError,
  parsePublishingPolicy,
  publishingPolicyVersion,
} from './parse-publishing-policy.ts';
import { openPublishingPolicy, type PublishingPolicy } from './publishing-policy.ts';

/** The publishing policy in force, replaced when its file changes. */
export interface PublishingPolicySource {
  current(): PublishingPolicy;
  /** Reads the file now (what the timer does every `checkEveryMs`); true when the policy changed. */
  reload(): boolean;
  /** Hears every change of the policy in force. */
  onChange(listener: (policy: PublishingPolicy) => void): void;
  stop(): void;
}

/** Options of {@link createPublishingPolicySource}. */
export interface PublishingPolicySourceOptions {
  /** The policy file (TOOLMESH_PUBLISHING_POLICY); none: the open policy, with a warning. */
  path?: string;
  clock: Clock;
  logger: Logger;
  /** How often the file is checked for changes; default 5 s. */
  checkEveryMs?: number;
}

/**
 * Loads the publishing policy and keeps it current, like the assistants file: a file that
 * cannot be read or parsed at start throws (the orchestrator refuses to start); later a
 * changed file replaces the policy when good, or is refused and logged (once per version),
 * the previous one kept. A weight set to 0 thus takes effect at the next check, no restart.
 */
export function createPublishingPolicySource(options: PublishingPolicySourceOptions): PublishingPolicySource {
  const { path, logger } = options;
  const listeners: Array<(policy: PublishingPolicy) => void> = [];
  if (path === undefined) {
    logger.warn(
      'no publishing policy (TOOLMESH_PUBLISHING_POLICY): any discovered service may publish any tool name',
    );
    return {
      current: () => openPublishingPolicy,
      reload: () => false,
      onChange: (listener) => listeners.push(listener),
      stop: () => {},
    };
  }
  const read = () => {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new PublishingPolicyError(
        [{ line: 0, path: '', message: `cannot read: ${(error as Error).message}` }],
        path,
      );
    }
  };
  let text = read();
  let policy = parsePublishingPolicy(text, path);
  logger.info({ file: path, version: policy.version }, 'publishing policy loaded');
  let refused: string | undefined;

  const reload = () => {
    let next: string;
    try {
      next = read();
    } catch (error) {
      if (refused !== 'unreadable')
        logger.error({ file: path, err: error }, 'publishing policy unreadable; keeping the previous one');
      refused = 'unreadable';
      return false;
    }
    if (next === text) return false;
    try {
      policy = parsePublishingPolicy(next, path);
      text = next;
      refused = undefined;
      logger.info({ file: path, version: policy.version }, 'publishing policy reloaded');
      for (const listener of listeners) listener(policy);
      return true;
    } catch (error) {
      const version = publishingPolicyVersion(next);
      if (version !== refused) {
        refused = version;
        logger.error(
          { file: path, version, err: error, kept: policy.version },
          `publishing policy refused, keeping the previous one: ${(error as Error).message}`,
        );
      }
      return false;
    }
  };
  const timer = options.clock.setInterval(reload, options.checkEveryMs ?? 5_000).unref();
  return {
    current: () => policy,
    reload,
    onChange: (listener) => listeners.push(listener),
    stop: () => timer.cancel(),
  };
}
