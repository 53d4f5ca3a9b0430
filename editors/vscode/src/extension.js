// @ts-check
'use strict';
// The mlp extension: starts the language server (`mlpc lsp`, over stdin and stdout) for
// `.mlp` documents with vscode-languageclient, and restarts it on `mlp.restartServer` or when
// an `mlp.server.*` setting changes. Highlighting is the TextMate grammar of
// syntaxes/mlp.tmLanguage.json, which needs no code.

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');
const { serverCommand, serverOptions, findExecutable, startFailureMessage } = require('./server');

/** The running client, if any. @type {LanguageClient | undefined} */
let client;
/** Where the client and the server's stderr write; shared by every restart. @type {vscode.OutputChannel | undefined} */
let output;

/**
 * @param {vscode.ExtensionContext} context
 */
async function activate(context) {
  const channel = vscode.window.createOutputChannel('mlp');
  output = channel;
  context.subscriptions.push(
    channel,
    vscode.commands.registerCommand('mlp.restartServer', () => restart()),
    vscode.commands.registerCommand('mlp.showOutput', () => channel.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('mlp.server')) {
        channel.appendLine('mlp.server settings changed: restarting the language server');
        void restart();
      }
    }),
  );
  await start();
}

/** Starts a client with the current settings; reports a failure instead of throwing. */
async function start() {
  if (output === undefined) {
    return;
  }
  const config = vscode.workspace.getConfiguration('mlp');
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const cmd = serverCommand(
    {
      path: config.get('server.path'),
      extraArgs: config.get('server.extraArgs'),
      env: config.get('server.env'),
    },
    folder,
  );
  output.appendLine(`starting ${[cmd.command, ...cmd.args].join(' ')}`);
  if (findExecutable(cmd.command, cmd.env, cmd.cwd) === undefined) {
    // Not awaited: activation must not wait for the notification to be dismissed.
    void reportStartFailure(startFailureMessage(cmd.command, { code: 'ENOENT' }));
    return;
  }
  const c = new LanguageClient('mlp', 'mlp language server', serverOptions(cmd), {
    // The server reads a document's project from its folder on disk: files only.
    documentSelector: [{ scheme: 'file', language: 'mlp' }],
    outputChannel: output,
    traceOutputChannel: output,
  });
  client = c;
  try {
    await c.start();
  } catch (e) {
    // The client has logged the failure and said so in a notification of its own.
    client = undefined;
    output.appendLine(startFailureMessage(cmd.command, e));
  }
}

/**
 * Logs why the server did not start and offers the settings.
 * @param {string} message
 */
async function reportStartFailure(message) {
  output?.appendLine(message);
  const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Output');
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'mlp.server');
  } else if (choice === 'Show Output') {
    output?.show(true);
  }
}

/** Stops the running client, if any, and starts a new one with the current settings. */
async function restart() {
  await stop();
  await start();
}

/** Stops the running client, if any. */
async function stop() {
  const c = client;
  client = undefined;
  if (c === undefined) {
    return;
  }
  try {
    // Within two seconds: a server that hangs must not keep the restart waiting.
    await c.stop(2000);
  } catch (e) {
    output?.appendLine(`stopping the language server: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
