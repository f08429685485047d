import { isIP } from 'node:net';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

export interface TlsNames {
  caFile: string;
  certFile: string;
}

/** Node's certificate-verification error codes that mean "not signed by a CA we trust". */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED']);
/** TLS alerts a broker sends when it rejects the client's certificate (or its absence). */
const REFUSED = /^ERR_SSL_(SSLV3_ALERT_BAD_CERTIFICATE|SSLV3_ALERT_CERTIFICATE_UNKNOWN|TLSV13_ALERT_CERTIFICATE_REQUIRED|TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_HANDSHAKE_FAILURE)$/;

/**
 * The operator-facing reason of a TLS failure. kafkajs puts the socket error's message into its
 * "Connection error: ..." (the line the engine exits with), and openssl's own text for a refused
 * client certificate is a 200-character dump that names neither the broker nor the setting.
 */
export function explainTlsError(err: Error & { code?: string }, broker: string, names: TlsNames): Error {
  const code = err.code ?? '';
  // "...:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:..." → "sslv3 alert bad certificate"
  const reason = /SSL routines:[^:]*:([^:]+)/.exec(err.message)?.[1] ?? err.message;
  let why: string | null = null;
  if (UNTRUSTED.has(code)) why = `broker ${broker}'s certificate is not signed by a trusted CA (${names.caFile ? `KAFKA_SSL_CA_FILE=${names.caFile}` : 'system CAs; set KAFKA_SSL_CA_FILE'})`;
  else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') why = `broker ${broker}'s certificate is outside its validity period`;
  else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') why = `broker ${broker}'s certificate does not name the host it was reached at`;
  else if (REFUSED.test(code)) {
    why = names.certFile
      ? `broker ${broker} refused the client certificate KAFKA_SSL_CERT_FILE=${names.certFile} (not signed by a CA it trusts?)`
      : `broker ${broker} requires a client certificate (mutual TLS): set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE`;
  }
  if (!why) return err;
  const out = new Error(`TLS: ${why} [${code}: ${reason}]`, { cause: err }) as Error & { code?: string };
  out.code = code;
  return out;
}

/** kafkajs's default socket factory, with TLS errors explained (explainTlsError). */
export function explainingSocketFactory(names: TlsNames): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    if (!ssl) {
      const s = netConnect({ host, port }, onConnect);
      s.setKeepAlive(true, 60_000);
      return s;
    }
    const socket = tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect);
    socket.setKeepAlive(true, 60_000);
    // kafkajs attaches its 'error' listener after this returns: translate the error on its way to it.
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => (event === 'error' ? emit('error', explainTlsError(args[0] as Error, `${host}:${port}`, names)) : emit(event, ...args))) as typeof socket.emit;
    return socket;
  };
}
