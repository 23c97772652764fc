// pino JSON logs, a child logger per component (`peernet:operator:reconcile` ...).
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = Pick<PinoLogger, 'debug' | 'info' | 'warn' | 'error' | 'child' | 'level'>;

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const base = pino(
    { level, base: { pid: process.pid } },
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
  return base;
}

export const component = (logger: Logger, name: string): Logger =>
  logger.child({ name: `peernet:operator:${name}` });
