// How the executable is told to run dns-hosts' long-running modes (entry/dispatch.ts dispatches on
// them before anything else loads): the resolver, and its UDP thread.
export const RESOLVER_FLAG = '--resolver=';
export const UDP_THREAD_FLAG = '--resolver-udp';
