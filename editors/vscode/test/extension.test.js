// @ts-check
'use strict';
// src/extension.js against stand-ins for the `vscode` API and vscode-languageclient's
// LanguageClient that record what the extension asks of them: activation registers the
// commands and starts one client with the settings' command line; a missing `mlpc` is
// reported once, with the setting to change, and starts nothing; `mlp.restartServer` and
// a change of an `mlp.server.*` setting replace the client; deactivation stops it.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const Module = require('module');

const EXTENSION = require.resolve('../src/extension.js');
const CLIENT = require.resolve('vscode-languageclient/node');

/** @typedef {{ id: string, name: string, serverOptions: any, clientOptions: any, started: number, stopped: number }} FakeClient */

/**
 * Loads a fresh copy of the extension with stand-ins; `settings` are the `mlp.*` values.
 * @param {Record<string, unknown>} settings
 */
function load(settings) {
  /** @type {FakeClient[]} */
  const clients = [];
  /** @type {Record<string, (...args: any[]) => any>} */
  const commands = {};
  /** @type {string[]} */
  const errors = [];
  /** @type {string[]} */
  const lines = [];
  /** @type {((e: { affectsConfiguration: (s: string) => boolean }) => void)[]} */
  const configListeners = [];
  const disposable = { dispose() {} };
  const vscode = {
    window: {
      createOutputChannel: () => ({ appendLine: (/** @type {string} */ l) => lines.push(l), show() {}, dispose() {} }),
      showErrorMessage: async (/** @type {string} */ m) => {
        errors.push(m);
        return undefined;
      },
    },
    commands: {
      registerCommand: (/** @type {string} */ id, /** @type {(...args: any[]) => any} */ fn) => {
        commands[id] = fn;
        return disposable;
      },
      executeCommand: async () => undefined,
    },
    workspace: {
      workspaceFolders: [{ uri: { fsPath: path.resolve('/work/project') } }],
      getConfiguration: (/** @type {string} */ section) => {
        assert.equal(section, 'mlp');
        return { get: (/** @type {string} */ key) => settings[key] };
      },
      onDidChangeConfiguration: (/** @type {any} */ listener) => {
        configListeners.push(listener);
        return disposable;
      },
    },
  };
  class LanguageClient {
    /** @param {string} id @param {string} name @param {any} serverOptions @param {any} clientOptions */
    constructor(id, name, serverOptions, clientOptions) {
      /** @type {FakeClient} */
      this.record = { id, name, serverOptions, clientOptions, started: 0, stopped: 0 };
      clients.push(this.record);
    }
    async start() {
      this.record.started++;
    }
    async stop() {
      this.record.stopped++;
    }
  }
  delete require.cache[EXTENSION];
  require.cache[CLIENT] = /** @type {any} */ ({ id: CLIENT, filename: CLIENT, loaded: true, exports: { LanguageClient } });
  require.cache.vscode = /** @type {any} */ ({ id: 'vscode', filename: 'vscode', loaded: true, exports: vscode });
  // @ts-expect-error: Module._resolveFilename is internal to Node.
  const resolve = Module._resolveFilename;
  // @ts-expect-error: see above.
  Module._resolveFilename = function (request, ...rest) {
    return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
  };
  try {
    const extension = require(EXTENSION);
    const context = { subscriptions: /** @type {{ dispose(): void }[]} */ ([]) };
    return { extension, context, clients, commands, errors, lines, configListeners };
  } finally {
    // @ts-expect-error: see above.
    Module._resolveFilename = resolve;
    delete require.cache[CLIENT];
    delete require.cache.vscode;
  }
}

// Any executable file will do for `mlp.server.path`: nothing is spawned by the stand-in.
const present = { 'server.path': process.execPath, 'server.extraArgs': ['--x'], 'server.env': { A: 'b' } };

test('activation registers the commands and starts one client', async () => {
  const t = load(present);
  await t.extension.activate(t.context);
  assert.deepEqual(Object.keys(t.commands).sort(), ['mlp.restartServer', 'mlp.showOutput']);
  assert.ok(t.context.subscriptions.length >= 4, 'everything is disposed with the extension');
  assert.equal(t.clients.length, 1);
  const [c] = t.clients;
  assert.equal(c.id, 'mlp');
  assert.equal(c.started, 1);
  assert.equal(c.serverOptions.run.command, process.execPath);
  assert.deepEqual(c.serverOptions.run.args, ['lsp', '--x']);
  assert.equal(c.serverOptions.run.options.env.A, 'b');
  assert.equal(c.serverOptions.run.options.cwd, path.resolve('/work/project'));
  assert.equal(c.serverOptions.run.transport, undefined);
  assert.deepEqual(c.clientOptions.documentSelector, [{ scheme: 'file', language: 'mlp' }]);
  assert.deepEqual(t.errors, []);
  assert.match(t.lines.join('\n'), /starting .* lsp --x/);
});

test('a missing mlpc is reported once and starts nothing', async () => {
  const t = load({ 'server.path': '/nonexistent/mlpc' });
  await t.extension.activate(t.context);
  assert.equal(t.clients.length, 0);
  assert.equal(t.errors.length, 1);
  assert.match(t.errors[0], /\/nonexistent\/mlpc` was not found.*mlp\.server\.path/);
  // The commands are there all the same, to restart once the setting is fixed.
  assert.ok('mlp.restartServer' in t.commands);
});

test('restarting replaces the client', async () => {
  const t = load(present);
  await t.extension.activate(t.context);
  await t.commands['mlp.restartServer']();
  assert.equal(t.clients.length, 2);
  assert.equal(t.clients[0].stopped, 1);
  assert.equal(t.clients[1].started, 1);
});

test('a change of mlp.server.* restarts the server, other changes do not', async () => {
  const t = load(present);
  await t.extension.activate(t.context);
  const [listener] = t.configListeners;
  listener({ affectsConfiguration: (s) => s === 'editor' });
  await new Promise((r) => setImmediate(r));
  assert.equal(t.clients.length, 1);
  listener({ affectsConfiguration: (s) => s === 'mlp.server' || s === 'mlp' });
  await new Promise((r) => setImmediate(r));
  assert.equal(t.clients.length, 2);
  assert.equal(t.clients[0].stopped, 1);
});

test('deactivation stops the client', async () => {
  const t = load(present);
  await t.extension.activate(t.context);
  await t.extension.deactivate();
  assert.equal(t.clients[0].stopped, 1);
  await t.extension.deactivate(); // nothing left to stop
  assert.equal(t.clients[0].stopped, 1);
});
