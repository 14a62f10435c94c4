import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The files of one certificate, as a service's TLS settings name them. */
export interface TestCertificateFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** CAs and certificates for one test file, made with the machine's openssl in a folder of their own. */
export interface TestPki {
  readonly dir: string;
  /** The path of `name` in the folder. */
  file(name: string): string;
  /** A CA: `${name}.key` and `${name}.crt` (P-256, valid two days). */
  ca(name: string): void;
  /**
   * A key and a certificate for `cn` signed by `ca`, with `san` as its subjectAltName (e.g.
   * `DNS:order,IP:127.0.0.1`), written to `${out}.key` and `${out}.crt` by rename, as a Secret
   * volume or cert-manager swaps them. Answers the certificate's serial number.
   */
  issue(ca: string, out: string, cn: string, san?: string): string;
  /** `who`'s certificate and key with the CA `ca` (default `ca`). */
  files(who: string, ca?: string): TestCertificateFiles;
  /** Removes the folder. */
  remove(): void;
}

const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Creates a {@link TestPki}; throws with openssl's own message when openssl is missing. */
export function createTestPki(prefix = 'toolmesh-pki-'): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  return {
    dir,
    file,
    ca(name) {
      openssl(
        'req',
        '-x509',
        ...newKey,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        file(`${name}.key`),
        '-out',
        file(`${name}.crt`),
      );
    },
    issue(ca, out, cn, san) {
      const tmp = file(`${out}.${randomBytes(6).toString('hex')}`);
      openssl('req', ...newKey, '-subj', `/CN=${cn}`, '-keyout', `${tmp}.key`, '-out', `${tmp}.csr`);
      fs.writeFileSync(`${tmp}.ext`, san ? `subjectAltName=${san}\n` : 'basicConstraints=CA:FALSE\n');
      const serial = `0x${randomBytes(8).toString('hex')}`;
      openssl(
        'x509',
        '-req',
        '-in',
        `${tmp}.csr`,
        '-CA',
        file(`${ca}.crt`),
        '-CAkey',
        file(`${ca}.key`),
        '-set_serial',
        serial,
        '-days',
        '2',
        '-extfile',
        `${tmp}.ext`,
        '-out',
        `${tmp}.crt`,
      );
      fs.renameSync(`${tmp}.key`, file(`${out}.key`));
      fs.renameSync(`${tmp}.crt`, file(`${out}.crt`));
      return new X509Certificate(fs.readFileSync(file(`${out}.crt`))).serialNumber;
    },
    files: (who, ca = 'ca') => ({
      certFile: file(`${who}.crt`),
      keyFile: file(`${who}.key`),
      caFile: file(`${ca}.crt`),
    }),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
