// @ts-check
'use strict';
// What `vsce package` puts in the .vsix (`vsce ls`, the same list) is what the extension
// needs and no more: no tests or dev dependencies, and a copy of just those files, away from
// this folder's node_modules, loads: src/extension.js and vscode-languageclient find every
// module they require (with a stand-in for the `vscode` module, which VS Code provides).

const test = require('node:test');
const assert = require('node:assert/strict');
const cp = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const Module = require('module');

const ROOT = path.join(__dirname, '..');

/** The files vsce would package, relative to ROOT. @returns {string[]} */
function packagedFiles() {
  const vsce = path.join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
  const out = cp.execFileSync(process.execPath, [vsce, 'ls'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/**
 * A stand-in for any value of the `vscode` API: every property, call and `new` gives another
 * stand-in; not a thenable.
 * @param {string} name
 * @returns {any}
 */
function standIn(name) {
  const target = function () {};
  return new Proxy(target, {
    get(t, p) {
      if (p === 'prototype') return t.prototype;
      if (p === 'then') return undefined;
      if (p === Symbol.toPrimitive) return () => name;
      return standIn(`${name}.${String(p)}`);
    },
    apply: () => standIn(`${name}()`),
    construct: () => standIn(`new ${name}`),
  });
}

test('the package holds the extension and its runtime dependencies only', () => {
  const files = packagedFiles();
  for (const needed of ['package.json', 'src/extension.js', 'src/server.js', 'syntaxes/mlp.tmLanguage.json', 'language-configuration.json', 'LICENSE', 'README.md']) {
    assert.ok(files.includes(needed), `${needed} is not packaged`);
  }
  assert.ok(files.some((f) => f.startsWith('node_modules/vscode-languageclient/')), 'vscode-languageclient is not packaged');
  const unwanted = files.filter(
    (f) =>
      f.startsWith('test/') ||
      f.startsWith('.vscode/') ||
      f.endsWith('.vsix') ||
      /^node_modules\/(typescript|@types|@vscode\/vsce|vscode-tmgrammar-test|vscode-textmate|vscode-oniguruma)\//.test(f),
  );
  assert.deepEqual(unwanted, []);
});

test('a copy of the packaged files loads on its own', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-vsix-'));
  // @ts-expect-error: Module._resolveFilename is internal to Node.
  const resolve = Module._resolveFilename;
  try {
    for (const f of packagedFiles()) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    }
    const vscode = standIn('vscode');
    /** @type {string[]} */
    const outside = [];
    // @ts-expect-error: see above.
    Module._resolveFilename = function (request, parent, ...rest) {
      if (request === 'vscode') {
        return 'vscode';
      }
      const resolved = resolve.call(this, request, parent, ...rest);
      if (path.isAbsolute(resolved) && !resolved.startsWith(dir + path.sep)) {
        outside.push(`${request} -> ${resolved}`);
      }
      return resolved;
    };
    require.cache.vscode = /** @type {any} */ ({ id: 'vscode', filename: 'vscode', loaded: true, exports: vscode });
    const extension = require(path.join(dir, 'src', 'extension.js'));
    assert.equal(typeof extension.activate, 'function');
    assert.equal(typeof extension.deactivate, 'function');
    assert.deepEqual(outside, [], 'modules loaded from outside the package');
  } finally {
    // @ts-expect-error: see above.
    Module._resolveFilename = resolve;
    delete require.cache.vscode;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
