// This build's id: the build writes it into the executable and its launcher (build/build.ts),
// so that a launcher hands its calls only to an agent of the same build. Sources run by tsx
// (the tests' helpers) have none of their own: "dev".
declare const __CNI_TS_BUILD__: string | undefined;
export const BUILD_ID: string = typeof __CNI_TS_BUILD__ === 'string' ? __CNI_TS_BUILD__ : 'dev';
