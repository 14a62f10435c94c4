import fs from 'node:fs';
import tls from 'node:tls';
import type { TlsSettings } from './tls-settings.ts';

/** The contents of the three files at one moment; `version` grows with every change. */
export interface TlsMaterial {
  readonly version: number;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

/** TLS material read from files, re-read when they change. */
export interface TlsFiles {
  /** The material as of the last successful read. */
  current(): TlsMaterial;
  /**
   * Looks at the files again and re-reads them when any changed: true when the material
   * changed. A set that does not form a usable context (a rotation half written: a new
   * certificate next to the old key) is reported to `onError` and ignored, the old one kept,
   * and tried again at the next refresh.
   */
  refresh(): boolean;
}

/** Options of {@link createTlsFiles}. */
export interface TlsFilesOptions {
  /** Told why changed files were not taken; default ignored (the old material stays). */
  onError?: (error: Error) => void;
}

type Stamp = string;

const roles = [
  ['certificate', 'certFile'],
  ['key', 'keyFile'],
  ['CA', 'caFile'],
] as const;

function named<T>(what: string, file: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    throw new Error(`cannot read TLS ${what} file ${file}: ${(cause as Error).message}`, { cause });
  }
}

// Follows symlinks: a Kubernetes Secret volume swaps its `..data` link atomically, which
// changes the inode of every file at once, while the files' own mtimes may be old.
function stampOf(settings: TlsSettings): Stamp {
  return roles
    .map(([what, key]) => {
      const s = named(what, settings[key], () => fs.statSync(settings[key]));
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    })
    .join('|');
}

function read(settings: TlsSettings) {
  const [cert, key, ca] = roles.map(([what, k]) =>
    named(what, settings[k], () => fs.readFileSync(settings[k])),
  );
  const material = { cert: cert as Buffer, key: key as Buffer, ca: ca as Buffer };
  try {
    // Proves the key belongs to the certificate and every PEM parses, before anything uses them.
    tls.createSecureContext(material);
  } catch (cause) {
    throw new Error(
      `unusable TLS files (certificate ${settings.certFile}, key ${settings.keyFile}, CA ${settings.caFile}): ${(cause as Error).message}`,
      { cause },
    );
  }
  return material;
}

/**
 * Reads certificate, key and CA once (throwing a clear error when they are missing or do
 * not match, so a misconfigured process fails at start) and again on {@link TlsFiles.refresh}
 * when their stat changed. Reads are synchronous: the files are small local mounts, and one
 * refresh then swaps all three together within one tick.
 */
export function createTlsFiles(settings: TlsSettings, options: TlsFilesOptions = {}): TlsFiles {
  let stamp = stampOf(settings);
  let material: TlsMaterial = { version: 1, ...read(settings) };
  return {
    current: () => material,
    refresh() {
      let next: Stamp;
      try {
        next = stampOf(settings);
        if (next === stamp) return false;
        const fresh = read(settings);
        stamp = next;
        if (
          fresh.cert.equals(material.cert) &&
          fresh.key.equals(material.key) &&
          fresh.ca.equals(material.ca)
        ) {
          return false;
        }
        material = { version: material.version + 1, ...fresh };
        return true;
      } catch (error) {
        options.onError?.(error as Error);
        return false;
      }
    },
  };
}
