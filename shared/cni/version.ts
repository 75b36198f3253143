// CNI spec versions: what we speak, and comparisons between them.
import { CniError, ErrCode } from './errors.ts';

export const CURRENT_VERSION = '1.1.0';
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** The answer to VERSION. */
export const versionReply = (): string => `${JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n`;

function parts(v: string): [number, number, number] {
  // X.Y.Z, decimal digits only (by hand: every call compares versions before its work)
  const out: number[] = [];
  let n = -1;
  for (let i = 0; i <= v.length; i++) {
    const c = i < v.length ? v.charCodeAt(i) : 46;
    if (c >= 48 && c <= 57) { n = (n < 0 ? 0 : n * 10) + (c - 48); continue; }
    if (c !== 46 || n < 0) { out.length = 0; break; }
    out.push(n);
    n = -1;
  }
  if (out.length !== 3) throw new CniError(ErrCode.DecodingFailure, `invalid version "${v}": the version is empty or not of the form X.Y.Z`);
  return out as [number, number, number];
}

export function compareVersions(a: string, b: string): number {
  const x = parts(a), y = parts(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

export const versionAtLeast = (v: string, min: string): boolean => compareVersions(v, min) >= 0;

/** The config's cniVersion (absent or empty means 0.1.0), checked to be one we speak. */
export function checkVersion(v: string): string {
  parts(v);
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(ErrCode.IncompatibleVersion, 'incompatible CNI versions',
      `config is "${v}", plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`);
  }
  return v;
}
