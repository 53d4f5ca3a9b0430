// @ts-check
'use strict';
// How the extension starts the language server: the command line and environment of
// `mlpc lsp` from the `mlp.server.*` settings. Kept free of the `vscode` module so that the
// unit tests (test/server.test.js) and the smoke test against a real `mlpc`
// (test/lsp.test.js) run under plain Node.

const fs = require('fs');
const os = require('os');
const path = require('path');

/**
 * The `mlp.server.*` settings, as read from the configuration.
 * @typedef {object} ServerSettings
 * @property {unknown} path `mlp.server.path`: `mlpc` by default.
 * @property {unknown} extraArgs `mlp.server.extraArgs`: arguments after `lsp`.
 * @property {unknown} env `mlp.server.env`: environment variables over the editor's.
 */

/**
 * What to run.
 * @typedef {object} ServerCommand
 * @property {string} command The executable: a name looked up on PATH or an absolute path.
 * @property {string[]} args `lsp` and the extra arguments.
 * @property {NodeJS.ProcessEnv} env The whole environment of the server.
 * @property {string | undefined} cwd The first workspace folder, when there is one.
 */

/**
 * Expands `~` and `${workspaceFolder}` in a configured path, and makes a relative path
 * with a directory part (`target/release/mlpc`) relative to the first workspace folder. A
 * bare name (`mlpc`) is left for the operating system to find on PATH.
 * @param {string} configured
 * @param {string | undefined} workspaceFolder
 * @returns {string}
 */
function resolveServerPath(configured, workspaceFolder) {
  let p = configured.trim();
  if (workspaceFolder !== undefined) {
    p = p.split('${workspaceFolder}').join(workspaceFolder);
  }
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) {
    p = path.join(os.homedir(), p.slice(1));
  }
  const bareName = !p.includes('/') && !p.includes('\\');
  if (bareName || path.isAbsolute(p) || workspaceFolder === undefined) {
    return p;
  }
  return path.resolve(workspaceFolder, p);
}

/**
 * The command line and environment of the language server.
 * @param {ServerSettings} settings
 * @param {string | undefined} workspaceFolder The first workspace folder's path, if any.
 * @param {NodeJS.ProcessEnv} [baseEnv] The environment to extend (the editor's own).
 * @returns {ServerCommand}
 */
function serverCommand(settings, workspaceFolder, baseEnv = process.env) {
  const configured = typeof settings.path === 'string' && settings.path.trim() !== '' ? settings.path : 'mlpc';
  const extra = Array.isArray(settings.extraArgs) ? settings.extraArgs.filter((a) => typeof a === 'string') : [];
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...baseEnv };
  if (settings.env !== null && typeof settings.env === 'object' && !Array.isArray(settings.env)) {
    for (const [name, value] of Object.entries(settings.env)) {
      if (typeof value === 'string') {
        env[name] = value;
      }
    }
  }
  return {
    command: resolveServerPath(configured, workspaceFolder),
    args: ['lsp', ...extra],
    env,
    cwd: workspaceFolder,
  };
}

/**
 * Where `command` would be run from: itself when it names a file (an absolute or relative
 * path), else the first match on the PATH of `env` (with PATHEXT's extensions on Windows);
 * `undefined` when there is no such executable file. Checked before starting the client, so
 * that a missing `mlpc` gets one clear message instead of the client's generic one.
 * @param {string} command
 * @param {NodeJS.ProcessEnv} env
 * @param {string | undefined} [cwd] what a relative path is relative to
 * @returns {string | undefined}
 */
function findExecutable(command, env, cwd) {
  const windows = process.platform === 'win32';
  const exts = windows ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter((e) => e !== '')] : [''];
  /** @param {string} file */
  const runnable = (file) => {
    for (const ext of exts) {
      try {
        const candidate = file + ext;
        if (fs.statSync(candidate).isFile()) {
          fs.accessSync(candidate, windows ? fs.constants.F_OK : fs.constants.X_OK);
          return candidate;
        }
      } catch {
        // Not this one.
      }
    }
    return undefined;
  };
  if (command.includes('/') || command.includes('\\')) {
    return runnable(path.resolve(cwd ?? process.cwd(), command));
  }
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter((d) => d !== '');
  for (const dir of dirs) {
    const found = runnable(path.join(dir, command));
    if (found !== undefined) {
      return found;
    }
  }
  return undefined;
}

/**
 * The message shown when the server cannot be started.
 * @param {string} command
 * @param {unknown} error
 * @returns {string}
 */
function startFailureMessage(command, error) {
  // vscode-languageclient rejects with a string ("Launching server using command mlpc
  // failed. Error: spawn mlpc ENOENT"), Node itself with an error whose code is ENOENT.
  const code = error !== null && typeof error === 'object' && 'code' in error ? error.code : undefined;
  if (code === 'ENOENT' || (typeof error === 'string' && error.includes('ENOENT'))) {
    return `mlp: the language server \`${command}\` was not found. Install mlpc (cargo build --release -p mlpc) and put it on PATH, or set "mlp.server.path".`;
  }
  const text = error instanceof Error ? error.message : String(error);
  return `mlp: the language server \`${command} lsp\` could not start: ${text}`;
}

/**
 * The `ServerOptions` of vscode-languageclient for a command. No `transport`: with
 * `TransportKind.stdio` the client would add `--stdio` to the arguments, which `mlpc lsp`
 * rejects; without one it still talks over the process's stdin and stdout.
 * @param {ServerCommand} cmd
 * @returns {{ run: Executable, debug: Executable }}
 */
function serverOptions(cmd) {
  /** @type {Executable} */
  const executable = { command: cmd.command, args: cmd.args, options: { env: cmd.env, cwd: cmd.cwd } };
  return { run: executable, debug: executable };
}

/**
 * An executable as vscode-languageclient's `Executable` describes it.
 * @typedef {object} Executable
 * @property {string} command
 * @property {string[]} args
 * @property {{ env: NodeJS.ProcessEnv, cwd: string | undefined }} options
 */

module.exports = { resolveServerPath, serverCommand, serverOptions, findExecutable, startFailureMessage };
