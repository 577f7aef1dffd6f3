// Packages without type declarations of their own.
declare module 'libbzip2-wasm' {
  const createModule: () => unknown;
  export default createModule;
}
declare module 'seek-bzip' {
  const Bunzip: { decode(input: Buffer, output?: Buffer, multistream?: boolean): Buffer };
  export default Bunzip;
}
