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

/** Loads @laminate/cas when a cas or catalog command runs, so other commands never load it. */
export async function loadCas(): Promise<CasModule> {
  return (await import('@laminate/cas')) as CasModule;
}
