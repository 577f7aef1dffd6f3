// laminate/layer: the tools for writing a layer of your own (docs/guide.md, "Write your own layer").
export * from '@laminate/core/layer';
