// What the numbers were measured on.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import * as os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  disk: string;
  os: string;
  node: string;
}

export function machine(dir: string): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    disk: disk(dir),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

/** "ext4 on /dev/vda (252G, rotational)" for the file system holding `dir`. */
function disk(dir: string): string {
  const df = spawnSync('df', ['-PTh', dir], { encoding: 'utf8' });
  const fields = df.stdout?.trim().split('\n')[1]?.split(/\s+/);
  if (!fields) return 'unknown';
  const [device, type, size] = fields;
  const kind = rotational(device);
  return `${type} on ${device} (${size}${kind ? `, ${kind}` : ''})`;
}

function rotational(device: string): string | undefined {
  const name = basename(device).replace(/p?\d+$/, '');
  const flag = `/sys/block/${name}/queue/rotational`;
  if (!existsSync(flag)) return undefined;
  return readFileSync(flag, 'utf8').trim() === '1' ? 'reported as rotational' : 'reported as SSD';
}

export function load(): number {
  return os.loadavg()[0];
}
