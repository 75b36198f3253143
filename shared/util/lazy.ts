// Node built-ins only some calls need, loaded at first use. In the compiled binary every
// eagerly required built-in costs start-up (node:child_process pulls in streams and node:net),
// and start-up dominates a plugin call.
export const childProcess = (): typeof import('node:child_process') => process.getBuiltinModule('node:child_process');
export const nodeFs = (): typeof import('node:fs') => process.getBuiltinModule('node:fs');
export const nodeOs = (): typeof import('node:os') => process.getBuiltinModule('node:os');
export const nodeCrypto = (): typeof import('node:crypto') => process.getBuiltinModule('node:crypto');
