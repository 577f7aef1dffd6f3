// The profiler the profile-*.ts drivers share: the same sampling profiler as
// node --cpu-prof (100 µs), started and stopped around each measured phase
// only, so start-up and building the corpus stay out of the profile.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export interface PhaseProfiler {
  /** Runs `fn`, returns its milliseconds, and with a directory writes DIR/<prefix>-<name>.cpuprofile. */
  phase(name: string, fn: () => Promise<void>): Promise<number>;
  close(): void;
}

/** `profDir` undefined: phases are only timed. */
export async function phaseProfiler(prefix: string, profDir: string | undefined): Promise<PhaseProfiler> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  return {
    async phase(name, fn) {
      if (profDir) await session.post('Profiler.start');
      const t0 = performance.now();
      await fn();
      const ms = performance.now() - t0;
      if (profDir) writeFileSync(`${profDir}/${prefix}-${name}.cpuprofile`, JSON.stringify((await session.post('Profiler.stop')).profile));
      return ms;
    },
    close: () => session.disconnect(),
  };
}
