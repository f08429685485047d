import { pino, destination, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** JSON logs on stderr (stdout may carry predictions); pretty when stderr is a terminal. */
export function createLogger(level: string): Logger {
  if (process.stderr.isTTY) {
    return pino({ level, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino({ level, base: { pid: process.pid } }, destination({ dest: 2, sync: false }));
}
