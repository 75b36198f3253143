// The spec's error codes and the error type every plugin throws. (A const enum: the bundler puts
// the numbers in place, so no table is built at each call's start.)
export const enum ErrCode {
  IncompatibleVersion = 1,
  UnsupportedField = 2,
  UnknownContainer = 3,
  InvalidEnv = 4,
  IOFailure = 5,
  DecodingFailure = 6,
  InvalidConfig = 7,
  TryAgainLater = 11,
  NotAvailable = 50,
  LimitedConnectivity = 51,
  /** first plugin-specific code: a failure with no more specific code */
  Plugin = 100,
  /** IPAM: the requested address is outside every range, reserved, or held by another container */
  AddressUnavailable = 101,
  /** IPAM: no free address left in a range set */
  AddressesExhausted = 102,
}

export class CniError extends Error {
  constructor(readonly code: number, msg: string, readonly details?: string) {
    super(msg);
  }
}

/** Any thrown value as a CniError: CniErrors pass through, others become plugin code 100. */
export function asCniError(e: unknown, context?: string): CniError {
  if (e instanceof CniError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new CniError(ErrCode.Plugin, context ? `${context}: ${msg}` : msg);
}
