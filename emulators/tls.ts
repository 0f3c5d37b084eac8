import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface SelfSignedCertificate {
  /** PEM; being self-signed it is also the CA a client must trust. */
  cert: string;
  key: string;
}

// Long enough for any test run or demo, short enough that a leaked key is worthless soon.
const VALID_DAYS = 2;

/**
 * A fresh self-signed certificate for 127.0.0.1 and localhost, made by the `openssl` CLI in
 * `dir`. Emulators that must speak HTTPS (the Azure SDK refuses bearer tokens over plain HTTP)
 * serve it and hand the PEM to their clients.
 */
export async function createSelfSignedCertificate(dir: string): Promise<SelfSignedCertificate> {
  await mkdir(dir, { recursive: true });
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    String(VALID_DAYS),
    '-subj',
    '/CN=mlfleet emulator',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { cert, key };
}
