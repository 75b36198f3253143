// The two plugin tables name the same plugins: plugins/registry.ts (data: the names, and the module
// and export each executable chunk imports) and entry/loaders.ts (the Node bundles' loaders). A name
// in one and not the other, or a chunk that would import another module than the loader
// loads, is a plugin that works in one build and not the other.
import { join } from 'node:path';
import t from 'tap';
import { PLUGIN_MODULES, PLUGIN_NAMES, isPluginName, pluginChunk } from '../../plugins/registry.ts';
import { PLUGINS } from '../../entry/loaders.ts';

const root = join(import.meta.dirname, '../..');

t.same(PLUGIN_NAMES, Object.keys(PLUGINS), 'the same names, in the same order');
for (const name of PLUGIN_NAMES) {
  t.test(name, async (t) => {
    const [module, exported] = PLUGIN_MODULES[name]!;
    const viaChunk = (await import(join(root, module)))[exported];
    t.ok(viaChunk, `${module} exports ${exported}`);
    t.equal(viaChunk, await PLUGINS[name]!(), 'the chunk imports what the loader loads');
    t.ok(isPluginName(name));
    t.equal(PLUGIN_MODULES[pluginChunk(name)]![0], module, 'its chunk is one of its module');
  });
}
t.equal(pluginChunk('dnsname'), 'dns-hosts', "dnsname runs dns-hosts' chunk");
t.notOk(isPluginName('toString'), 'a property every object has is not a plugin');
t.notOk(isPluginName('cni-ts'));
