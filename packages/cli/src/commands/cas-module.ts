import type { AnyStore } from '@laminate/core';

/** What the cas and catalog commands use of @laminate/cas. */
export interface CasModule {
  cas(store: AnyStore): {
    put(content: AsyncIterable<Uint8Array>): Promise<string>;
    open(id: string): AsyncIterable<Uint8Array>;
  };
  catalog(store: AnyStore): {
    list(query: Record<string, string>): Promise<readonly CatalogRow[]>;
  };
}

export interface CatalogRow {
  id: string;
  kind: string;
  name: string;
  size: number;
  dataset: string;
  job?: string;
  partition?: string;
}

/**
 * Loads @laminate/cas when a cas or catalog command runs, so other commands
 * never load it. Where this package does not list it as a dependency yet
 * (the workspace before its next install), the built copy beside this
 * package is used instead.
 */
export async function loadCas(): Promise<CasModule> {
  const name = '@laminate/cas';
  try {
    return (await import(name)) as CasModule;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return (await import(new URL('../../../cas/dist/index.js', import.meta.url).href)) as CasModule;
  }
}
