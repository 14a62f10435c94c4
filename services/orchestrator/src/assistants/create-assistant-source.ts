import { readFileSync } from 'node:fs';
import type { Clock } from '@toolmesh/clock';
import type { Logger } from '@toolmesh/telemetry';
import type { AssistantCatalog, ModelBackend } from './assistant-catalog.ts';
import { AssistantsFileError } from './assistants-file-error.ts';
import { neutralCatalog } from './neutral-catalog.ts';
import { assistantsFileVersion, parseAssistantsFile } from './parse-assistants-file.ts';

/** The catalog in force, replaced when the file changes. */
export interface AssistantSource {
  /** The catalog to use now; take it once per turn so a turn never sees two. */
  current(): AssistantCatalog;
  /** Stops watching the file. */
  stop(): void;
}

/** Options of {@link createAssistantSource}. */
export interface AssistantSourceOptions {
  /** The assistants file (TOOLMESH_ASSISTANTS); none: {@link neutralCatalog}. */
  path?: string;
  /** The orchestrator's own model backend (see ParseAssistantsFileOptions.envModel). */
  envModel: ModelBackend;
  env: Record<string, string | undefined>;
  clock: Clock;
  logger: Logger;
  /** How often the file (and the key files it names) is checked for changes; default 5 s. */
  checkEveryMs?: number;
}

const read = (path: string) => readFileSync(path, 'utf8');

/**
 * Loads the assistants file and keeps it current. A file that cannot be read or parsed at start
 * throws (the orchestrator refuses to start). Afterwards the file, and the key files it names,
 * are re-read every `checkEveryMs` on the injected clock; a changed file is parsed, and replaces
 * the catalog when good, or is refused and logged (once per version) when not, the old kept.
 */
export async function createAssistantSource(options: AssistantSourceOptions): Promise<AssistantSource> {
  const { path, logger } = options;
  if (path === undefined) {
    const catalog = neutralCatalog(options.envModel);
    logger.info({ assistants: [...catalog.assistants.keys()] }, 'no assistants file: the neutral assistant');
    return { current: () => catalog, stop: () => {} };
  }

  // What one load read: the file's text and every key file's content, to notice a change of either.
  type Snapshot = { text: string; keyFiles: Map<string, string> };
  const load = (): { catalog: AssistantCatalog; snapshot: Snapshot } => {
    let text: string;
    try {
      text = read(path);
    } catch (error) {
      throw new AssistantsFileError(
        [{ line: 0, path: '', message: `cannot read: ${(error as Error).message}` }],
        path,
      );
    }
    const keyFiles = new Map<string, string>();
    try {
      const catalog = parseAssistantsFile(text, {
        envModel: options.envModel,
        env: options.env,
        readFile: (file) => {
          const content = read(file);
          keyFiles.set(file, content);
          return content;
        },
      });
      return { catalog, snapshot: { text, keyFiles } };
    } catch (error) {
      if (error instanceof AssistantsFileError) throw new AssistantsFileError(error.issues, path);
      throw error;
    }
  };
  const changed = (s: Snapshot): boolean => {
    try {
      if (read(path) !== s.text) return true;
      for (const [file, content] of s.keyFiles) if (read(file) !== content) return true;
      return false;
    } catch {
      return true; // unreadable now: load() reports it
    }
  };
  const describe = (catalog: AssistantCatalog) => ({
    file: path,
    version: catalog.version,
    assistants: [...catalog.assistants.keys()],
    default: catalog.defaultAssistant,
  });

  let { catalog, snapshot } = load();
  logger.info(describe(catalog), 'assistants loaded');
  let refused: string | undefined; // the version last refused, logged once

  const check = () => {
    if (!changed(snapshot)) return;
    try {
      ({ catalog, snapshot } = load());
      refused = undefined;
      logger.info(describe(catalog), 'assistants reloaded');
    } catch (error) {
      let version: string;
      try {
        version = assistantsFileVersion(read(path));
      } catch {
        version = 'unreadable';
      }
      if (version === refused) return;
      refused = version;
      logger.error(
        { file: path, version, err: error, kept: catalog.version },
        `assistants file refused, keeping the previous one: ${(error as Error).message}`,
      );
    }
  };
  const timer = options.clock.setInterval(check, options.checkEveryMs ?? 5_000).unref();
  return { current: () => catalog, stop: () => timer.cancel() };
}
