// @ts-check
'use strict';
// Keeps the grammar's word lists in step with the compiler: every declaration keyword,
// reserved word, attribute, nested block, value type, unit, built-in, call form and
// attribute choice the compiler knows is highlighted as one, read from the compiler's own
// sources (not from a copy here):
//   compiler/syntax/src/grammar.pest   declaration keywords, reserved words
//   compiler/syntax/src/units.rs       duration, size and rate units
//   compiler/sema/src/support.rs       attributes and nested blocks of every block
//   compiler/sema/src/decls.rs         value types
//   compiler/sema/src/*.rs             call forms (`cron(...)`) and choices (`catchup = latest`)
//   stdlib/src/builtins.mlp            built-in functions, metrics, sinks, stores, combiners
// A word added to the compiler and not to syntaxes/mlp.tmLanguage.json fails here.
// Skipped when the extension is built outside the repository.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { scopesAt, REPO } = require('./tokenize');

const inRepo = fs.existsSync(path.join(REPO, 'compiler', 'sema', 'src', 'support.rs'));
const skip = inRepo ? false : `not inside the mlp repository (${REPO})`;

/** @param {string} rel @returns {string} */
const read = (rel) => fs.readFileSync(path.join(REPO, rel), 'utf8');

/**
 * Every capture 1 of `re` in `text`.
 * @param {string} text
 * @param {RegExp} re global
 * @returns {string[]}
 */
const all = (text, re) => [...text.matchAll(re)].map((m) => m[1]);

/**
 * The quoted words of the first parenthesised alternation of a pest rule (decl_kind, keyword).
 * @param {string} rule
 * @returns {string[]}
 */
function pestWords(rule) {
  const grammar = read('compiler/syntax/src/grammar.pest');
  const m = new RegExp(`^${rule}\\s*=\\s*@?\\{\\s*\\(([^)]*)\\)`, 'm').exec(grammar);
  assert.ok(m, `rule ${rule} not found in grammar.pest`);
  return all(m[1], /"(\w+)"/g);
}

/**
 * Asserts that the token at the first `needle` in `text`, `offset` characters into it, has
 * `scope`.
 * @param {string} text
 * @param {string} needle
 * @param {string} scope
 * @param {number} [offset]
 */
async function expectScope(text, needle, scope, offset = 0) {
  const scopes = await scopesAt(text, needle, offset);
  assert.ok(scopes.includes(scope), `${JSON.stringify(needle)} in ${JSON.stringify(text)}: expected ${scope}, got ${scopes.join(' ')}`);
}

test('declaration keywords', { skip }, async () => {
  const kinds = pestWords('decl_kind');
  const support = read('compiler/sema/src/support.rs');
  const declared = all(support.slice(support.indexOf('pub const DECLARATIONS')), /^\s*\("(\w+)",/gm);
  assert.ok(kinds.length >= 11, kinds.join(' '));
  assert.deepEqual([...declared].sort(), [...kinds].sort(), 'grammar.pest and support.rs disagree');
  for (const k of kinds) {
    await expectScope(`${k} x {\n}`, k, 'keyword.declaration.mlp');
  }
});

test('reserved words', { skip }, async () => {
  const words = pestWords('keyword');
  assert.ok(words.length >= 10, words.join(' '));
  /** @type {Record<string, [string, string]>} */
  const where = {
    check: ['monitor m {\n  check x\n}', 'keyword.control.check.mlp'],
    require: ['pipeline p {\n  step s {\n    require x\n  }\n}', 'keyword.control.require.mlp'],
    step: ['pipeline p {\n  step s {\n  }\n}', 'keyword.declaration.step.mlp'],
    over: ['features f {\n  x: int = count(*) over 7d\n}', 'keyword.other.over.mlp'],
    and: ['features f {\n  x: bool = a and b\n}', 'keyword.operator.logical.mlp'],
    or: ['features f {\n  x: bool = a or b\n}', 'keyword.operator.logical.mlp'],
    not: ['features f {\n  x: bool = not b\n}', 'keyword.operator.logical.mlp'],
    true: ['features f {\n  x: bool = true\n}', 'constant.language.boolean.mlp'],
    false: ['features f {\n  x: bool = false\n}', 'constant.language.boolean.mlp'],
    null: ['features f {\n  x: int = null\n}', 'constant.language.null.mlp'],
  };
  for (const w of words) {
    assert.ok(w in where, `reserved word ${w} has no expectation here: add one, and a rule to the grammar`);
    await expectScope(where[w][0], w, where[w][1]);
  }
});

test('attributes and nested blocks of every block', { skip }, async () => {
  const support = read('compiler/sema/src/support.rs');
  const table = support.slice(support.indexOf('pub const BLOCKS'), support.indexOf('pub fn block('));
  const attrs = new Set();
  const blocks = new Set();
  for (const m of table.matchAll(/attrs: &\[([\s\S]*?)\],[\s\S]*?blocks: &\[([\s\S]*?)\]/g)) {
    all(m[1], /\("(\w+)"/g).forEach((a) => attrs.add(a));
    all(m[2], /\("(\w+)"/g).forEach((b) => blocks.add(b));
  }
  assert.ok(attrs.size >= 50 && attrs.has('latency_p99') && attrs.has('owner'), [...attrs].join(' '));
  assert.ok(blocks.has('sla') && blocks.has('training_set'), [...blocks].join(' '));
  for (const a of attrs) {
    await expectScope(`deployment d {\n  ${a} = 1\n}`, `\n  ${a} =`, 'entity.other.attribute-name.mlp', 3);
  }
  for (const b of blocks) {
    await expectScope(`deployment d {\n  ${b} {\n  }\n}`, `\n  ${b} {`, 'keyword.other.block.mlp', 3);
  }
});

test('value types', { skip }, async () => {
  const m = /let names = \[([^\]]*)\]/.exec(read('compiler/sema/src/decls.rs'));
  assert.ok(m, 'the value types are not where decls.rs kept them');
  const types = all(m[1], /"(\w+)"/g);
  assert.deepEqual([...types].sort(), ['bool', 'float', 'int', 'string', 'timestamp']);
  for (const t of types) {
    await expectScope(`request r {\n  x: ${t}\n}`, t, 'support.type.primitive.mlp');
  }
});

test('units', { skip }, async () => {
  const units = read('compiler/syntax/src/units.rs');
  /** @param {string} name */
  const table = (name) => {
    const m = new RegExp(`pub const ${name}: [^=]*= &\\[([\\s\\S]*?)\\];`).exec(units);
    assert.ok(m, `${name} not found in units.rs`);
    return all(m[1], /\("(\w+)"/g);
  };
  for (const u of table('DURATION_UNITS')) {
    await expectScope(`features f {\n  x: int = count(*) over 3${u}\n}`, `3${u}`, 'constant.numeric.duration.mlp');
  }
  for (const u of table('SIZE_UNITS')) {
    await expectScope(`deployment d {\n  resources {\n    memory = 3${u}\n  }\n}`, `3${u}`, 'constant.numeric.size.mlp');
  }
  for (const u of table('RATE_UNITS')) {
    await expectScope(`deployment d {\n  sla {\n    throughput = 3/${u}\n  }\n}`, `3/${u}`, 'constant.numeric.rate.mlp');
  }
  await expectScope('deployment d {\n  sla {\n    error_rate = 3%\n  }\n}', '3%', 'constant.numeric.percentage.mlp');
});

test('stdlib built-ins', { skip }, async () => {
  const stdlib = read('stdlib/src/builtins.mlp');
  const decls = [...stdlib.matchAll(/^(aggregate|scalar|metric|sink|store|combiner) (\w+)(\()?/gm)];
  assert.ok(decls.length >= 60, `${decls.length} built-ins`);
  for (const [, kind, name, paren] of decls) {
    if (kind === 'combiner') {
      await expectScope(`deployment d {\n  model = combine(${name}, a@1, b@2)\n}`, `${name},`, 'support.constant.combiner.mlp');
    } else if (paren) {
      await expectScope(`monitor m {\n  check ${name}(x) > 1\n}`, name, 'support.function.builtin.mlp');
    } else {
      // A metric or sink without arguments: `check latency_p99 < 20ms`, `alert = [log]`.
      await expectScope(`monitor m {\n  check ${name} > 1\n  alert = [${name}]\n}`, `${name} >`, 'support.function.builtin.mlp');
      await expectScope(`monitor m {\n  alert = [${name}]\n}`, `${name}]`, 'support.function.builtin.mlp');
    }
  }
});

test('call forms the checker reads', { skip }, async () => {
  const dir = path.join(REPO, 'compiler', 'sema', 'src');
  const sema = fs.readdirSync(dir).filter((f) => f.endsWith('.rs')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
  const forms = new Set(all(sema, /ExprKind::Call \{ name(?:: \w+)?, args \} if \w+\.name == "(\w+)"/g));
  for (const m of sema.matchAll(/^\s*("\w+"(?:\s*\|\s*"\w+")*)\s*=>\s*self\.\w+_node\(/gm)) {
    all(m[1], /"(\w+)"/g).forEach((f) => forms.add(f));
  }
  for (const f of ['cron', 'sample', 'previous', 'chain', 'route', 'combine']) {
    assert.ok(forms.has(f), `${f} not found in compiler/sema/src (found ${[...forms].join(' ')})`);
  }
  for (const f of forms) {
    await expectScope(`deployment d {\n  model = ${f}(a@1, b@2)\n}`, f, 'support.function.builtin.mlp');
  }
});

test('the choices of attributes', { skip }, async () => {
  const dir = path.join(REPO, 'compiler', 'sema', 'src');
  const sema = fs.readdirSync(dir).filter((f) => f.endsWith('.rs')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
  const choices = [...sema.matchAll(/self\.choice\(\s*\w+,\s*"(\w+)",\s*&\[([^\]]*)\]\s*\)/g)];
  assert.ok(choices.length >= 6, `${choices.length} choices found`);
  for (const [, attr, list] of choices) {
    for (const value of all(list, /"(\w+)"/g)) {
      if (value === 'sample') {
        // `log = sample(10%)`: a call form, checked above.
        continue;
      }
      await expectScope(`deployment d {\n  ${attr} = ${value}\n}`, `= ${value}`, 'constant.language.option.mlp', 2);
    }
  }
});
