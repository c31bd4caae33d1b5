import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log/logger.js';

export interface Schedule {
  stop(): Promise<void>;
}

/** Routes node-cron's own messages (missed or overlapping runs) into our logger instead of stderr. */
export function routeCronLogs(log: Logger): void {
  cron.setLogger({
    info: (message) => log.debug({ source: 'node-cron' }, message),
    warn: (message) => log.warn({ source: 'node-cron' }, message),
    error: (message) => log.error({ source: 'node-cron' }, String(message)),
    debug: (message) => log.debug({ source: 'node-cron' }, String(message)),
  });
}

/**
 * Runs `poll` on a node-cron schedule (seconds field allowed). The caller runs the first poll
 * at start-up; overlap is handled by the poller itself, which skips and counts a tick that
 * comes while the previous poll is still running.
 */
export function startSchedule(expression: string, poll: () => Promise<void>): Schedule {
  const task: ScheduledTask = cron.schedule(
    expression,
    () => {
      void poll();
    },
    { name: 'cph-exporter-poll' },
  );
  return {
    stop: async () => {
      await task.stop();
      await task.destroy();
    },
  };
}
