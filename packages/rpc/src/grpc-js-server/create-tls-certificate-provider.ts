import type { experimental } from '@grpc/grpc-js';
import type { ListenerTlsOptions } from '../create-protocol-listener.ts';
import { createTlsFiles, type TlsMaterial } from '../tls/create-tls-files.ts';
import { defaultTlsCheckIntervalMs } from '../tls/tls-settings.ts';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** A grpc-js certificate provider over our TLS files; `close` stops checking them. */
export interface TlsCertificateProvider extends CertificateProvider {
  close(): void;
}

/**
 * grpc-js' certificate provider (CA and identity) over the same files, checks and rules as the
 * connect-node listener: read and proved usable at start (a bad set throws), checked every
 * `checkIntervalMs` on the injected clock, and a changed set that does not form a usable
 * context (a rotation half written) ignored until it does. grpc-js hands each change to its
 * TLS server with `setSecureContext`: new connections get it, established ones keep theirs.
 */
export function createTlsCertificateProvider(options: ListenerTlsOptions): TlsCertificateProvider {
  const files = createTlsFiles(options, { onError: options.onReloadError });
  const caListeners = new Set<CaListener>();
  const identityListeners = new Set<IdentityListener>();
  const tellCa = (listener: CaListener, m: TlsMaterial) => listener({ caCertificate: m.ca });
  const tellIdentity = (listener: IdentityListener, m: TlsMaterial) =>
    listener({ certificate: m.cert, privateKey: m.key });
  const timer = options.clock.setInterval(() => {
    if (!files.refresh()) return;
    const material = files.current();
    // One tick: no connection is accepted between the CA and the identity update.
    for (const listener of caListeners) tellCa(listener, material);
    for (const listener of identityListeners) tellIdentity(listener, material);
    options.onReload?.();
  }, options.checkIntervalMs ?? defaultTlsCheckIntervalMs);
  timer.unref();
  // grpc-js registers its watcher only after adding these listeners: the first answer comes
  // on the next tick, as from grpc-js' own (asynchronous) file watcher.
  const later = (fn: () => void) => process.nextTick(fn);
  return {
    addCaCertificateListener(listener) {
      caListeners.add(listener);
      later(() => {
        if (caListeners.has(listener)) tellCa(listener, files.current());
      });
    },
    removeCaCertificateListener(listener) {
      caListeners.delete(listener);
    },
    addIdentityCertificateListener(listener) {
      identityListeners.add(listener);
      later(() => {
        if (identityListeners.has(listener)) tellIdentity(listener, files.current());
      });
    },
    removeIdentityCertificateListener(listener) {
      identityListeners.delete(listener);
    },
    close() {
      timer.cancel();
    },
  };
}
