// How the executable is told to run dns-hosts' long-running modes (entry/dispatch.ts dispatches on
// them before anything else loads): the resolver's supervisor (what a call starts), the resolver
// it runs and restarts, and the resolver's UDP threads.
export const RESOLVER_FLAG = '--resolver=';
export const SERVER_FLAG = '--resolver-serve=';
export const UDP_THREAD_FLAG = '--resolver-udp';
/** Set by a call that started the supervisor in a systemd scope of its own: no cgroups to make. */
export const IN_SCOPE = 'CNI_TS_RESOLVER_SCOPE';
