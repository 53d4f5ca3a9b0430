// @ts-check
'use strict';
// How the `mlp.server.*` settings become the server's command line (src/server.js).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { resolveServerPath, serverCommand, serverOptions, findExecutable, startFailureMessage } = require('../src/server');

const ws = path.resolve('/work/project');

test('a bare name is left for PATH, whatever the workspace', () => {
  assert.equal(resolveServerPath('mlpc', ws), 'mlpc');
  assert.equal(resolveServerPath('  mlpc ', undefined), 'mlpc');
});

test('a relative path is relative to the first workspace folder', () => {
  assert.equal(resolveServerPath('target/release/mlpc', ws), path.join(ws, 'target', 'release', 'mlpc'));
  assert.equal(resolveServerPath('./mlpc', ws), path.join(ws, 'mlpc'));
  // Without a folder there is nothing to resolve against.
  assert.equal(resolveServerPath('target/release/mlpc', undefined), 'target/release/mlpc');
});

test('~ and ${workspaceFolder} are expanded; an absolute path is kept', () => {
  assert.equal(resolveServerPath('~/bin/mlpc', ws), path.join(os.homedir(), 'bin', 'mlpc'));
  assert.equal(resolveServerPath('${workspaceFolder}/bin/mlpc', ws), path.join(ws, 'bin', 'mlpc'));
  assert.equal(resolveServerPath('/opt/mlp/mlpc', ws), '/opt/mlp/mlpc');
});

test('the defaults run `mlpc lsp` in the workspace folder with the editor environment', () => {
  const cmd = serverCommand({ path: undefined, extraArgs: undefined, env: undefined }, ws, { PATH: '/bin' });
  assert.deepEqual(cmd, { command: 'mlpc', args: ['lsp'], env: { PATH: '/bin' }, cwd: ws });
  assert.equal(serverCommand({ path: '', extraArgs: [], env: {} }, undefined, {}).command, 'mlpc');
});

test('extra arguments follow `lsp`; settings of the wrong type are ignored', () => {
  const cmd = serverCommand({ path: 'mlpc', extraArgs: ['--a', 3, 'b'], env: ['X=1'] }, ws, { HOME: '/h' });
  assert.deepEqual(cmd.args, ['lsp', '--a', 'b']);
  assert.deepEqual(cmd.env, { HOME: '/h' });
  assert.deepEqual(serverCommand({ path: 42, extraArgs: 'x', env: 'y' }, ws, {}).args, ['lsp']);
});

test('mlp.server.env is laid over the editor environment', () => {
  const base = { PATH: '/bin', LD_LIBRARY_PATH: '/old' };
  const cmd = serverCommand({ path: 'mlpc', extraArgs: [], env: { LD_LIBRARY_PATH: '/opt/duckdb', RUST_LOG: 'debug', BAD: 1 } }, ws, base);
  assert.deepEqual(cmd.env, { PATH: '/bin', LD_LIBRARY_PATH: '/opt/duckdb', RUST_LOG: 'debug' });
  assert.equal(base.LD_LIBRARY_PATH, '/old', 'the base environment is not changed');
});

test('the client options name no transport, so that no --stdio is added', () => {
  const cmd = serverCommand({ path: 'mlpc', extraArgs: [], env: {} }, ws, {});
  const opts = serverOptions(cmd);
  assert.deepEqual(opts.run, { command: 'mlpc', args: ['lsp'], options: { env: {}, cwd: ws } });
  assert.deepEqual(opts.debug, opts.run);
  assert.ok(!('transport' in opts.run));
});

test('a missing executable is reported with the setting to change', () => {
  const fromClient = 'Launching server using command mlpc failed. Error: spawn mlpc ENOENT';
  assert.match(startFailureMessage('mlpc', fromClient), /not found.*mlp\.server\.path/);
  const fromNode = Object.assign(new Error('spawn mlpc ENOENT'), { code: 'ENOENT' });
  assert.match(startFailureMessage('mlpc', fromNode), /not found/);
  assert.match(startFailureMessage('mlpc', new Error('boom')), /could not start: boom/);
});

test('the executable is looked for as the operating system would', { skip: process.platform === 'win32' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-path-'));
  try {
    const exe = path.join(dir, 'mlpc');
    fs.writeFileSync(exe, '#!/bin/sh\n');
    fs.chmodSync(exe, 0o755);
    const plain = path.join(dir, 'notexec');
    fs.writeFileSync(plain, '');
    fs.chmodSync(plain, 0o644);
    const env = { PATH: ['/nonexistent', dir].join(path.delimiter) };
    assert.equal(findExecutable('mlpc', env), exe);
    assert.equal(findExecutable('mlpc', { PATH: '/nonexistent' }), undefined);
    assert.equal(findExecutable('notexec', env), undefined, 'not executable');
    assert.equal(findExecutable(exe, {}), exe);
    assert.equal(findExecutable('./mlpc', {}, dir), exe);
    assert.equal(findExecutable(path.join(dir, 'missing'), env), undefined);
    assert.equal(findExecutable(dir, { PATH: path.dirname(dir) }), undefined, 'a folder is not an executable');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
