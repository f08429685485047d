import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../shared/errors.js';

export interface TlsFileSettings {
  kafkaSsl: boolean;
  kafkaSslCaFile: string;
  kafkaSslCertFile: string;
  kafkaSslKeyFile: string;
}

/**
 * Checks Kafka's TLS files at start, so a wrong path, a non-PEM file, a certificate without its
 * key or a key that belongs to another certificate is one config error (exit 2), not a TLS
 * handshake that kafkajs retries until it gives up.
 */
export function checkKafkaTlsFiles(c: TlsFileSettings): void {
  const files: [string, string][] = [['KAFKA_SSL_CA_FILE', c.kafkaSslCaFile], ['KAFKA_SSL_CERT_FILE', c.kafkaSslCertFile], ['KAFKA_SSL_KEY_FILE', c.kafkaSslKeyFile]];
  for (const [env, path] of files) {
    // Silently ignoring a CA or client certificate because TLS is off would connect in plaintext.
    if (path && !c.kafkaSsl) throw new ConfigError(env, path, 'needs KAFKA_SSL=true');
  }
  if (c.kafkaSslCertFile && !c.kafkaSslKeyFile) throw new ConfigError('KAFKA_SSL_CERT_FILE', c.kafkaSslCertFile, 'a client certificate needs its private key: set KAFKA_SSL_KEY_FILE');
  if (c.kafkaSslKeyFile && !c.kafkaSslCertFile) throw new ConfigError('KAFKA_SSL_KEY_FILE', c.kafkaSslKeyFile, 'a private key needs its client certificate: set KAFKA_SSL_CERT_FILE');
  if (c.kafkaSslCaFile) certificate('KAFKA_SSL_CA_FILE', c.kafkaSslCaFile);
  if (!c.kafkaSslCertFile) return;
  const cert = certificate('KAFKA_SSL_CERT_FILE', c.kafkaSslCertFile);
  let key: KeyObject;
  try {
    key = createPrivateKey(read('KAFKA_SSL_KEY_FILE', c.kafkaSslKeyFile));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // The reason, never the key's bytes.
    throw new ConfigError('KAFKA_SSL_KEY_FILE', c.kafkaSslKeyFile, 'not an unencrypted PEM private key');
  }
  if (!cert.checkPrivateKey(key)) throw new ConfigError('KAFKA_SSL_KEY_FILE', c.kafkaSslKeyFile, `is not the private key of the certificate in ${c.kafkaSslCertFile}`);
}

function read(env: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(env, path, `cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function certificate(env: string, path: string): X509Certificate {
  const pem = read(env, path);
  try {
    return new X509Certificate(pem);
  } catch {
    throw new ConfigError(env, path, 'not a PEM certificate');
  }
}
