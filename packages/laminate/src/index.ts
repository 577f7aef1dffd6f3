// laminate: the one package to install. Each layer family lives in its own
// package; this one re-exports them all under their own names.
export * from '@laminate/core';
export * from '@laminate/codecs';
export * from '@laminate/arrow';
export * from '@laminate/net';
export * from '@laminate/pool';
