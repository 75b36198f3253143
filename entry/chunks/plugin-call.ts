// A plugin call: the skeleton runs the plugin and the process ends with its exit status.
import type { Plugin } from '../../shared/cni/plugin.ts';
import { runPlugin } from '../../shared/cni/skel.ts';
import { exitCall } from '../../shared/os/native.ts';
import { mark } from '../../shared/os/trace.ts';

export async function runPluginCall(plugin: Plugin<any>): Promise<never> {
  mark('plugin loaded');
  exitCall(await runPlugin(plugin));
}
