// A module hook: resolve the workspace packages to their TypeScript sources
// (the "source" export condition), as `node --conditions=source` would.
export async function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions.includes('source') ? context.conditions : [...context.conditions, 'source'];
  return nextResolve(specifier, { ...context, conditions });
}
