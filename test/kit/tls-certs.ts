// Throwaway certificates for TLS tests, made with openssl: a CA, a broker certificate for
// 127.0.0.1 (IP SAN, so hostname checks pass), a client certificate for mutual TLS, and an
// unrelated second CA for the "wrong CA" case. All in one temp directory, deleted by cleanup().
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  /** CA certificate (PEM): what KAFKA_SSL_CA_FILE points at. */
  ca: string;
  /** A CA that signed nothing here. */
  otherCa: string;
  /** Broker key + certificate in one PEM file (Kafka's ssl.keystore.type=PEM). */
  brokerKeystore: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by the other CA (the broker does not trust it). */
  strangerCert: string;
  strangerKey: string;
  cleanup(): void;
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'scorestream-tls-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) => ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=scorestream-test-${name}`);
  const leaf = (name: string, signer: string, cn: string, ext: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  ca('ca');
  ca('other-ca');
  leaf('broker', 'ca', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'scorestream-client', 'extendedKeyUsage=clientAuth\n');
  leaf('stranger', 'other-ca', 'stranger-client', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => join(dir, n);
  // openssl 3 writes unencrypted PKCS#8 keys ("BEGIN PRIVATE KEY"), the form Kafka's PEM key store reads.
  writeFileSync(f('broker-keystore.pem'), readFileSync(f('broker.key'), 'utf8') + readFileSync(f('broker.pem'), 'utf8'));
  return {
    dir,
    ca: f('ca.pem'),
    otherCa: f('other-ca.pem'),
    brokerKeystore: f('broker-keystore.pem'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    strangerCert: f('stranger.pem'),
    strangerKey: f('stranger.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
