// Where build/bin/cni-ts is the launcher in front of cni-ts.bun (launcher.c is x86-64 Linux
// only); elsewhere cni-ts is the Bun executable itself. The build and the tests ask here.
export const launcherBuilt = process.arch === 'x64';
