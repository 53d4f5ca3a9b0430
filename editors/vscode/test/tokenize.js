// @ts-check
'use strict';
// Loads syntaxes/mlp.tmLanguage.json with vscode-textmate and the Oniguruma WebAssembly
// build, as VS Code does, for the tests that tokenise whole files (sanity.test.js,
// vocabulary.test.js). Not a test itself.

const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const GRAMMAR = path.join(__dirname, '..', 'syntaxes', 'mlp.tmLanguage.json');
/** The repository's root, where examples/, specs/ and the compiler are. */
const REPO = path.resolve(__dirname, '..', '..', '..');

/** @type {Promise<vsctm.IGrammar> | undefined} */
let loaded;

/** The mlp grammar, loaded once. @returns {Promise<vsctm.IGrammar>} */
function grammar() {
  if (loaded === undefined) {
    loaded = (async () => {
      const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
      await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
      const registry = new vsctm.Registry({
        onigLib: Promise.resolve({
          createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
          createOnigString: (s) => new oniguruma.OnigString(s),
        }),
        loadGrammar: async (scopeName) =>
          scopeName === 'source.mlp' ? vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR) : null,
      });
      const g = await registry.loadGrammar('source.mlp');
      if (g === null) {
        throw new Error(`cannot load ${GRAMMAR}`);
      }
      return g;
    })();
  }
  return loaded;
}

/**
 * One token: its text, its place and its scopes (outermost first).
 * @typedef {{ line: number, column: number, text: string, scopes: string[] }} Token
 */

/**
 * Tokenises `text` line by line, carrying the state across lines as an editor does.
 * @param {string} text
 * @returns {Promise<{ tokens: Token[], endDepth: number }>} every token, and the depth of the
 *   rule stack after the last line (1: back at the top level, nothing left open)
 */
async function tokenize(text) {
  const g = await grammar();
  /** @type {Token[]} */
  const tokens = [];
  let state = vsctm.INITIAL;
  text.split(/\r?\n/).forEach((line, i) => {
    const r = g.tokenizeLine(line, state);
    for (const t of r.tokens) {
      tokens.push({ line: i + 1, column: t.startIndex + 1, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
    }
    state = r.ruleStack;
  });
  // `depth` is on the implementation of StateStack, not in its declared interface.
  const endDepth = /** @type {{ depth?: number }} */ (/** @type {unknown} */ (state)).depth ?? -1;
  return { tokens, endDepth };
}

/**
 * The scopes of the token of `text` that holds the character `offset` characters into the
 * first `needle`.
 * @param {string} text
 * @param {string} needle
 * @param {number} [offset]
 * @returns {Promise<string[]>}
 */
async function scopesAt(text, needle, offset = 0) {
  const found = text.indexOf(needle);
  const at = found + offset;
  if (found < 0) {
    throw new Error(`${needle} is not in ${text}`);
  }
  const lines = text.split('\n');
  let line = 0;
  let column = at;
  while (column > lines[line].length) {
    column -= lines[line].length + 1;
    line += 1;
  }
  const { tokens } = await tokenize(text);
  const t = tokens.find((x) => x.line === line + 1 && x.column - 1 <= column && column < x.column - 1 + x.text.length);
  return t === undefined ? [] : t.scopes;
}

module.exports = { grammar, tokenize, scopesAt, REPO };
