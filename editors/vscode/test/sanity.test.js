// @ts-check
'use strict';
// Snapshot-free checks of the grammar over the repository's own mlp code, as it is today:
// every example project (examples/*/*.mlp) and every ```mlp block of specs/language.md and
// docs/suggest.md (all of which `mlpc check` accepts) tokenises
//   - with nothing marked invalid,
//   - with every non-blank character in a scope that says what it is (not only `source.mlp`
//     and `meta.*`: text the grammar did not recognise), and
//   - back at the top level after each file or block (no block, list, call or string left
//     open).
// Every other .mlp file and ```mlp block of the repository (the diagnostics tests and the
// error pages, which are wrong on purpose) must tokenise too, quickly: a regular expression
// that backtracks without end would hang VS Code.
// Skipped when the extension is built outside the repository.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { tokenize, REPO } = require('./tokenize');

const inRepo = fs.existsSync(path.join(REPO, 'examples')) && fs.existsSync(path.join(REPO, 'specs', 'language.md'));
const skip = inRepo ? false : `not inside the mlp repository (${REPO})`;

/**
 * Every file under `dir` whose name ends in `suffix`, leaving out build and tool folders.
 * @param {string} dir
 * @param {string} suffix
 * @returns {string[]}
 */
function walk(dir, suffix) {
  /** @type {string[]} */
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!['node_modules', 'target', '.git', '.venv', '.deps', 'editors'].includes(entry.name) && !entry.name.startsWith('.')) {
        found.push(...walk(p, suffix));
      }
    } else if (entry.isFile() && entry.name.endsWith(suffix)) {
      found.push(p);
    }
  }
  return found;
}

/**
 * The ```mlp blocks of a Markdown file, each with the line it starts on.
 * @param {string} file
 * @returns {{ name: string, text: string }[]}
 */
function mlpBlocks(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  /** @type {{ name: string, text: string }[]} */
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '```mlp') {
      const start = i + 1;
      let end = start;
      while (end < lines.length && lines[end].trim() !== '```') {
        end++;
      }
      let text = lines.slice(start, end).join('\n');
      // An indented block is the inside of a declaration (docs/suggest.md shows what
      // `mlpc suggest --write` puts into a deployment): tokenise it inside one.
      if (/^\s/.test(text.split('\n').find((l) => l.trim() !== '') ?? '')) {
        text = `deployment fragment {\n${text}\n}`;
      }
      blocks.push({ name: `${path.relative(REPO, file)}:${start + 1}`, text });
      i = end;
    }
  }
  return blocks;
}

/**
 * What is wrong with how `text` tokenises; empty when nothing is.
 * @param {string} text
 * @returns {Promise<string[]>}
 */
async function problems(text) {
  const { tokens, endDepth } = await tokenize(text);
  /** @type {string[]} */
  const found = [];
  for (const t of tokens) {
    const where = `${t.line}:${t.column} ${JSON.stringify(t.text)} (${t.scopes.join(' ')})`;
    if (t.scopes.some((s) => s.startsWith('invalid.'))) {
      found.push(`invalid: ${where}`);
    } else if (t.text.trim() !== '' && t.scopes.every((s) => s === 'source.mlp' || s.startsWith('meta.'))) {
      found.push(`not recognised: ${where}`);
    }
  }
  if (endDepth !== 1) {
    found.push(`left open at the end (rule stack depth ${endDepth})`);
  }
  return found;
}

/** The code `mlpc check` accepts: the examples and the reference's blocks. */
function acceptedCode() {
  const examples = fs
    .readdirSync(path.join(REPO, 'examples'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => walk(path.join(REPO, 'examples', d.name), '.mlp'))
    .map((f) => ({ name: path.relative(REPO, f), text: fs.readFileSync(f, 'utf8') }));
  const blocks = ['specs/language.md', 'docs/suggest.md']
    .map((f) => path.join(REPO, f))
    .filter((f) => fs.existsSync(f))
    .flatMap(mlpBlocks);
  return [...examples, ...blocks];
}

test('the examples and the reference tokenise cleanly', { skip }, async (t) => {
  const code = acceptedCode();
  assert.ok(code.length >= 10, `only ${code.length} files and blocks found`);
  assert.ok(code.some((c) => c.name.startsWith('examples/fraud/')), 'examples/fraud is missing');
  for (const c of code) {
    await t.test(c.name, async () => {
      assert.deepEqual(await problems(c.text), []);
    });
  }
});

test('every other mlp file and block of the repository tokenises quickly', { skip }, async () => {
  const files = walk(REPO, '.mlp').map((f) => ({ name: path.relative(REPO, f), text: fs.readFileSync(f, 'utf8') }));
  const blocks = walk(REPO, '.md').flatMap(mlpBlocks);
  const all = [...files, ...blocks];
  assert.ok(all.length > 20, `only ${all.length} files and blocks found`);
  for (const c of all) {
    const started = process.hrtime.bigint();
    await tokenize(c.text);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 2000, `${c.name} took ${ms.toFixed(0)} ms to tokenise`);
  }
});

test('the checker finds a problem when there is one', async () => {
  // The checks above must be able to fail: an unknown escape, an unknown unit and an
  // unclosed block each show up.
  assert.match((await problems('project p {\n  owner = "a\\qb"\n}')).join('\n'), /invalid: 2:/);
  assert.match((await problems('features f {\n  x: int = 5parsecs\n}')).join('\n'), /invalid:/);
  assert.match((await problems('features f {\n  x: int = 1\n')).join('\n'), /left open/);
  assert.match((await problems('project p {\n  owner = "a"\n}\n}')).join('\n'), /invalid: 4:1/);
  assert.deepEqual(await problems('project p {\n  owner = "a"\n}\n'), []);
});
