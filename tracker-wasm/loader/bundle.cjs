// Assembles the served ssrm.js for scripts/build-tracker.sh: renames the glue's import and export
// names to the short ones wasm-opt gave them (--minify-imports-and-exports-and-modules), pastes
// the glue into the loader at its GLUE marker, and writes both, unminified, into OUT_DIR
// (glue.js alone, for scripts/tracker-size.sh; ssrm.full.js, for terser). It only moves
// text around; it must fail loudly rather than write a glue that does not match the module.
// Usage: node bundle.cjs LOADER GLUE NAME_MAP WASM OUT_DIR
'use strict';
const fs = require('fs');

const [loaderPath, gluePath, mapPath, wasmPath, outDir] = process.argv.slice(2);
const fail = (message) => {
  console.error('bundle: ' + message);
  process.exit(1);
};

let glue = fs.readFileSync(gluePath, 'utf8');
if (!glue.startsWith('let wasm_bindgen = ')) fail('the glue no longer starts with "let wasm_bindgen = "');
const map = JSON.parse(fs.readFileSync(mapPath, 'utf8'));

// Imports are keys of the imports object (`name: function`), exports are read as `wasm.name`;
// both are long identifiers with hashes, so only those exact spots change.
const escape = (name) => name.replace(/\$/g, '\\$');
const renames = [
  ...map.imports.map(([, name, short]) => [new RegExp('\\b' + escape(name) + '(?=:)', 'g'), short + '', name]),
  ...map.exports.map(([name, short]) => [new RegExp('\\bwasm\\.' + escape(name) + '\\b', 'g'), 'wasm.' + short, name]),
];
for (const [pattern, replacement, name] of renames) {
  const before = glue;
  glue = glue.replace(pattern, () => replacement);
  // wasm-bindgen exports two globals the glue does not read.
  if (before === glue && !/^__(abort_handler|instance_terminated)$/.test(name)) {
    fail('name ' + name + ' from wasm-opt is not in the glue');
  }
}

// The module names every import's module the same short name; the glue's imports object has one
// key for it.
const wasmModule = new WebAssembly.Module(fs.readFileSync(wasmPath));
const importModules = new Set(WebAssembly.Module.imports(wasmModule).map((entry) => entry.module));
if (importModules.size !== 1) fail('expected one import module, found ' + [...importModules].join(', '));
const [importModule] = importModules;
const moduleKey = /"\.\/ssrm_bg\.js": import0/;
if (!moduleKey.test(glue)) fail('the glue no longer names its imports "./ssrm_bg.js": import0');
glue = glue.replace(moduleKey, () => JSON.stringify(importModule) + ': import0');

// Every import the module asks for must now be defined by the glue, every export it reads exist.
for (const entry of WebAssembly.Module.imports(wasmModule)) {
  const key = new RegExp('(?<![\\w$])' + escape(entry.name) + ':');
  if (!key.test(glue)) fail('the glue lacks import ' + entry.name);
}
const exported = new Set(WebAssembly.Module.exports(wasmModule).map((entry) => entry.name));
for (const [, name] of glue.matchAll(/\bwasm\.([A-Za-z_$][\w$]*)/g)) {
  if (!exported.has(name)) fail('the glue reads wasm.' + name + ', which the module does not export');
}

// Parts of wasm-bindgen's loading code the tracker never runs, replaced so terser can drop them
// (about 220 bytes brotli): the loader always passes `{module_or_path: URL}`, the resolver
// always serves `application/wasm` (so `instantiateStreaming` needs no fallback; a browser
// without it keeps the queue, like one that refuses WebAssembly), and `initSync` is never called.
const replaceOnce = (what, from, to) => {
  const at = glue.indexOf(from);
  if (at < 0 || glue.indexOf(from, at + 1) >= 0) fail('the glue no longer has exactly one ' + what);
  glue = glue.slice(0, at) + to + glue.slice(at + from.length);
};
const loadStart = glue.indexOf('async function __wbg_load(module, imports) {');
const loadEnd = glue.indexOf('function initSync(module) {');
if (loadStart < 0 || loadEnd < loadStart) fail('the glue no longer has __wbg_load before initSync');
glue =
  glue.slice(0, loadStart) +
  'async function __wbg_load(module, imports) {\nreturn await WebAssembly.instantiateStreaming(module, imports);\n}\n' +
  glue.slice(loadEnd);
replaceOnce('export of initSync', 'Object.assign(__wbg_init, { initSync }, exports)', 'Object.assign(__wbg_init, exports)');
replaceOnce(
  'warning about deprecated parameters',
  "console.warn('using deprecated parameters for the initialization function; pass a single object instead')",
  "throw 'ssrm: wasm_bindgen takes {module_or_path}'"
);

// Doc comments and indentation go before pasting; terser does the rest afterwards.
glue = glue
  .split('\n')
  .filter((line) => !/^\s*(\/\*\*|\*|\/\/)/.test(line))
  .map((line) => line.trim())
  .filter((line) => line !== '')
  .join('\n');

const loader = fs.readFileSync(loaderPath, 'utf8');
const marker = '/*GLUE*/';
if (loader.split(marker).length !== 2) fail('the loader must hold exactly one ' + marker);
fs.writeFileSync(outDir + '/glue.js', glue + '\n');
fs.writeFileSync(outDir + '/ssrm.full.js', loader.replace(marker, () => glue));
