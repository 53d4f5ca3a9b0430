// @ts-check
'use strict';
// A smoke test of the extension's server command against a real `mlpc`: the command line,
// environment and working folder src/server.js builds are spawned the way
// vscode-languageclient spawns an executable without a transport, and spoken to over stdio
// with the same JSON-RPC library. The server must initialise, publish diagnostics for an
// opened example, report an error in a broken edit, answer hover, and shut down cleanly.
//
// Runs when `MLPC` names an mlpc executable (scripts/vscode.sh sets it to the workspace's
// build when there is one) or `mlpc` is on PATH; skipped otherwise. `MLPC_LIBRARY_PATH`, when
// set, goes to the server as LD_LIBRARY_PATH through `mlp.server.env`, as a user whose mlpc
// needs libduckdb.so from elsewhere would set it.

const test = require('node:test');
const assert = require('node:assert/strict');
const cp = require('child_process');
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');
const rpc = require('vscode-languageserver-protocol/node');
const { serverCommand, serverOptions } = require('../src/server');
const { REPO } = require('./tokenize');

/** The mlpc to test, or why there is none. @returns {{ mlpc?: string, skip: string | false }} */
function findMlpc() {
  const fromEnv = process.env.MLPC;
  if (fromEnv !== undefined && fromEnv !== '') {
    return fs.existsSync(fromEnv) ? { mlpc: fromEnv, skip: false } : { skip: `MLPC=${fromEnv} does not exist` };
  }
  const onPath = cp.spawnSync('mlpc', ['--version'], { stdio: 'ignore' });
  return onPath.error === undefined ? { mlpc: 'mlpc', skip: false } : { skip: 'no mlpc: set MLPC or put mlpc on PATH' };
}

const EXAMPLE = path.join(REPO, 'examples', 'fraud');
const found = findMlpc();
const skip = found.skip || (fs.existsSync(path.join(EXAMPLE, 'features.mlp')) ? false : `no ${EXAMPLE}`);

/**
 * Resolves with the first notification of `method` whose params satisfy `accept`.
 * @template T
 * @param {rpc.MessageConnection} connection
 * @param {string} method
 * @param {(params: T) => boolean} accept
 * @returns {Promise<T>}
 */
function next(connection, method, accept) {
  return new Promise((resolve) => {
    const d = connection.onNotification(method, (/** @type {T} */ params) => {
      if (accept(params)) {
        d.dispose();
        resolve(params);
      }
    });
  });
}

test('mlpc lsp started as the extension starts it', { skip, timeout: 60_000 }, async () => {
  const env = process.env.MLPC_LIBRARY_PATH ? { LD_LIBRARY_PATH: process.env.MLPC_LIBRARY_PATH } : {};
  const cmd = serverCommand({ path: found.mlpc, extraArgs: [], env }, EXAMPLE);
  const { run } = serverOptions(cmd);
  // vscode-languageclient, for an executable without a transport: spawn(command, args, options).
  const child = cp.spawn(run.command, run.args, run.options);
  /** @type {string[]} */
  const stderr = [];
  child.stderr.on('data', (d) => stderr.push(String(d)));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const connection = rpc.createMessageConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  connection.listen();
  try {
    const root = pathToFileURL(EXAMPLE).toString();
    /** @type {rpc.InitializeResult} */
    const init = await connection.sendRequest(rpc.InitializeRequest.type, {
      processId: process.pid,
      rootUri: root,
      workspaceFolders: [{ uri: root, name: 'fraud' }],
      capabilities: {},
    });
    assert.equal(init.serverInfo?.name, 'mlpc lsp');
    assert.ok(init.capabilities.documentFormattingProvider, 'formats');
    assert.ok(init.capabilities.hoverProvider, 'hovers');
    await connection.sendNotification(rpc.InitializedNotification.type, {});

    const file = path.join(EXAMPLE, 'features.mlp');
    const uri = pathToFileURL(file).toString();
    const text = fs.readFileSync(file, 'utf8');
    const opened = next(connection, 'textDocument/publishDiagnostics', (/** @type {rpc.PublishDiagnosticsParams} */ p) => p.uri === uri);
    await connection.sendNotification(rpc.DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: 'mlp', version: 1, text },
    });
    const first = await opened;
    assert.ok(Array.isArray(first.diagnostics));

    // A broken edit: an unknown unit (E0004 in the parser's list) must come back as an error.
    const broken = `${text}\nfeatures broken {\n  entity = user\n  source = transactions\n  n: int = count(*) over 7parsecs\n}\n`;
    const errored = next(connection, 'textDocument/publishDiagnostics', (/** @type {rpc.PublishDiagnosticsParams} */ p) =>
      p.uri === uri && p.diagnostics.some((d) => d.severity === rpc.DiagnosticSeverity.Error),
    );
    await connection.sendNotification(rpc.DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version: 2 },
      contentChanges: [{ text: broken }],
    });
    const errors = (await errored).diagnostics.filter((d) => d.severity === rpc.DiagnosticSeverity.Error);
    assert.ok(errors.some((d) => d.range.start.line >= text.split('\n').length), JSON.stringify(errors));

    // Hover on a feature shows its declaration.
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.trimStart().startsWith('avg_amount_7d:'));
    assert.ok(line >= 0);
    /** @type {rpc.Hover | null} */
    const hover = await connection.sendRequest(rpc.HoverRequest.type, {
      textDocument: { uri },
      position: { line, character: lines[line].indexOf('avg_amount_7d') + 2 },
    });
    assert.ok(hover !== null, 'a hover');
    assert.match(JSON.stringify(hover.contents), /avg_amount_7d/);

    await connection.sendRequest(rpc.ShutdownRequest.type);
    await connection.sendNotification(rpc.ExitNotification.type);
    assert.deepEqual(await exited, { code: 0, signal: null }, stderr.join(''));
  } finally {
    connection.dispose();
    if (child.exitCode === null) {
      child.kill();
    }
  }
});
