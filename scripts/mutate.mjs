// Starts StrykerJS (mutation testing, configured in stryker.config.mjs) on the Node this project
// supports. Stryker's command line refuses Node < 22 at import time, but nothing it runs here
// needs 22: the check is lifted for that one import, then the real version is back in place.
//   node scripts/mutate.mjs [stryker options]     e.g. --mutate packages/core/src/buffer.ts
const real = Object.getOwnPropertyDescriptor(process, 'version');
Object.defineProperty(process, 'version', { ...real, value: 'v22.0.0' });
const { StrykerCli } = await import('@stryker-mutator/core');
Object.defineProperty(process, 'version', real);

process.title = 'stryker';
new StrykerCli([process.argv[0], process.argv[1], 'run', 'stryker.config.mjs', ...process.argv.slice(2)]).run();
