/**
 * Where a process's mutual-TLS material lives (PEM files). @toolmesh/config's `tlsSettings`
 * answers this shape from `TOOLMESH_TLS_CERT_FILE`, `TOOLMESH_TLS_KEY_FILE` and
 * `TOOLMESH_TLS_CA_FILE`.
 */
export interface TlsSettings {
  /** Certificate chain this process presents to its peers. */
  certFile: string;
  /** Private key of that certificate. */
  keyFile: string;
  /** CA bundle a peer's certificate must be signed by (both directions: the mesh has one CA). */
  caFile: string;
}

/** {@link TlsSettings} of a client, which may expect another name than the host it dials. */
export interface ClientTlsSettings extends TlsSettings {
  /**
   * Name the server's certificate must carry (and the SNI sent), when it is not the host of
   * the address dialled: e.g. the headless Service's DNS name while dialling a pod IP that DNS
   * discovery found. A function answers it per address (a pool dials many services);
   * undefined there means the address's host.
   */
  serverName?: string | ((address: string) => string | undefined);
}

/** How often certificate, key and CA files are checked for a change unless told otherwise. */
export const defaultTlsCheckIntervalMs = 10_000;
