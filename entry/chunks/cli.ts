// cni-ts under its own name: the operator CLI.
import { runCli } from '../../cli/main.ts';

export function run(): never {
  process.exit(runCli(process.argv.slice(2)));
}
