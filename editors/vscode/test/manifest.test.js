// @ts-check
'use strict';
// package.json, the extension code and the files they name agree: every contributed command
// is registered and every registered one contributed, every setting read is declared, the
// grammar and language configuration exist and load, and the language configuration's
// patterns compile and do what they are for.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const extension = fs.readFileSync(path.join(ROOT, 'src', 'extension.js'), 'utf8');

test('the main file exists', () => {
  assert.ok(fs.existsSync(path.join(ROOT, pkg.main)), pkg.main);
});

test('contributed and registered commands are the same', () => {
  const contributed = pkg.contributes.commands.map((/** @type {{ command: string }} */ c) => c.command).sort();
  const registered = [...extension.matchAll(/registerCommand\('([\w.]+)'/g)].map((m) => m[1]).sort();
  assert.deepEqual(registered, contributed);
  assert.ok(contributed.includes('mlp.restartServer'));
});

test('every setting the extension reads is declared', () => {
  const declared = Object.keys(pkg.contributes.configuration.properties);
  const read = [...extension.matchAll(/config\.get\('([\w.]+)'\)/g)].map((m) => `mlp.${m[1]}`);
  assert.ok(read.length >= 3, read.join(' '));
  for (const key of read) {
    assert.ok(declared.includes(key), `${key} is read but not declared`);
  }
  assert.equal(pkg.contributes.configuration.properties['mlp.server.path'].default, 'mlpc');
  // vscode-languageclient reads `<client id>.trace.server`.
  assert.match(extension, /new LanguageClient\('mlp',/);
  assert.ok(declared.includes('mlp.trace.server'));
});

test('the language, its grammar and its configuration', () => {
  const [language] = pkg.contributes.languages;
  assert.equal(language.id, 'mlp');
  assert.deepEqual(language.extensions, ['.mlp']);
  assert.match(extension, /language: 'mlp'/);
  const [grammar] = pkg.contributes.grammars;
  assert.equal(grammar.language, 'mlp');
  const tm = JSON.parse(fs.readFileSync(path.join(ROOT, grammar.path), 'utf8'));
  assert.equal(tm.scopeName, grammar.scopeName);
  assert.equal(tm.scopeName, 'source.mlp');
  JSON.parse(fs.readFileSync(path.join(ROOT, language.configuration), 'utf8'));
});

test('the language configuration', () => {
  const conf = JSON.parse(fs.readFileSync(path.join(ROOT, 'language-configuration.json'), 'utf8'));
  assert.equal(conf.comments.lineComment, '//');
  assert.deepEqual(conf.brackets, [['{', '}'], ['[', ']'], ['(', ')']]);
  const increase = new RegExp(conf.indentationRules.increaseIndentPattern);
  const decrease = new RegExp(conf.indentationRules.decreaseIndentPattern);
  for (const line of ['project fraud {', '  inputs = [', '  model = route(', '  sla {']) {
    assert.ok(increase.test(line), `indents after ${line}`);
  }
  for (const line of ['  owner = "a"', '  offline = duckdb() // {', '  sla { latency_p99 = 20ms }', '  path = "{"']) {
    assert.ok(!increase.test(line), `does not indent after ${line}`);
  }
  for (const line of ['}', '  ]', '  )']) {
    assert.ok(decrease.test(line), `outdents ${line}`);
  }
  const word = new RegExp(`^(?:${conf.wordPattern})$`);
  for (const w of ['avg_amount_7d', '7d', '20ms', '0.5', '10%', '1_000_000', '512MiB']) {
    assert.ok(word.test(w), `${w} is one word`);
  }
  assert.ok(!word.test('user_stats.avg_amount_7d'), 'a member path is two words');
  const [docRule] = conf.onEnterRules;
  assert.ok(new RegExp(docRule.beforeText).test('  /// Mean amount.'));
  assert.ok(!new RegExp(docRule.beforeText).test('  // a comment'));
  assert.ok(!new RegExp(docRule.beforeText).test('//// not a doc comment'));
  new RegExp(conf.folding.markers.start);
  new RegExp(conf.folding.markers.end);
});

test('the engine and the API types agree', () => {
  // vsce refuses a package whose @types/vscode is newer than engines.vscode.
  const engine = pkg.engines.vscode.replace(/^\^/, '').split('.').map(Number);
  const types = pkg.devDependencies['@types/vscode'].replace(/^[~^]/, '').split('.').map(Number);
  assert.ok(types[0] < engine[0] || (types[0] === engine[0] && types[1] <= engine[1]), `${types} > ${engine}`);
});
