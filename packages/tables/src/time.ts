/**
 * Times and durations as tables takes them: epoch milliseconds (a number or
 * a string of digits), a Date, an ISO 8601 string, or `now`, `now-1d`,
 * `now+30m` relative to the current time. Durations are a number of
 * milliseconds or a number with a unit: 500ms, 10s, 5m, 1h, 1d, 1w.
 */
import { typeError } from '@laminate/core/layer';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const RELATIVE = /^now(?:\s*([+-])\s*(\d+(?:\.\d+)?)(ms|s|m|h|d|w))?$/;
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** `value` as epoch milliseconds; `name` is the option, for the error. */
export function parseTime(value: unknown, name: string, now: number = Date.now()): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value instanceof Date && Number.isFinite(value.getTime())) return value.getTime();
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^-?\d+$/.test(text)) return Number(text);
    const relative = RELATIVE.exec(text);
    if (relative) {
      if (relative[1] === undefined) return now;
      const offset = Number(relative[2]) * UNITS[relative[3]];
      return relative[1] === '-' ? now - offset : now + offset;
    }
    if (ISO.test(text)) {
      const ms = Date.parse(text);
      if (Number.isFinite(ms)) return ms;
    }
  }
  throw typeError('ERR_INVALID_OPTION', `${name} must be a time: epoch milliseconds, a Date, an ISO 8601 string (2026-01-31T12:00:00Z) or now / now-1d / now+2h; got ${JSON.stringify(value) ?? String(value)}.`);
}

/** `value` as a positive number of milliseconds. */
export function parseDuration(value: unknown, name: string): number {
  let ms: number | undefined;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const match = DURATION.exec(value.trim());
    if (match) ms = Number(match[1]) * UNITS[match[2]];
    else if (/^\d+$/.test(value.trim())) ms = Number(value.trim());
  }
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw typeError('ERR_INVALID_OPTION', `${name} must be a duration above zero: milliseconds, or a number with a unit (500ms, 10s, 5m, 1h, 1d, 1w); got ${JSON.stringify(value) ?? String(value)}.`);
  }
  return ms;
}

/** A sample rate such as `1/s`, `12/m`, `1/h` (samples per unit), as samples per millisecond. */
export function parseRate(value: unknown, name = 'rate'): number {
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)\/(ms|s|m|h|d|w)$/.exec(value.trim()) : null;
  const perMs = match ? Number(match[1]) / UNITS[match[2]] : NaN;
  if (!(perMs > 0) || !Number.isFinite(perMs)) {
    throw typeError('ERR_INVALID_OPTION', `${name} must be samples per unit of time, such as "1/s", "12/m" or "1/h"; got ${JSON.stringify(value) ?? String(value)}.`);
  }
  return perMs;
}
