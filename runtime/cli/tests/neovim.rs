//! A real editor that nobody here wrote: headless Neovim (Debian's package; `scripts/test.sh`
//! installs it) with its built-in LSP client attached to `mlpc lsp`. It opens a copy of
//! examples/fraud with an injected error, waits for the diagnostics Neovim itself reports
//! (`vim.diagnostic.get`), then fixes the line in the buffer (Neovim sends the `didChange`)
//! and waits for them to clear. The code, line, column and message are compared with what
//! `mlpc check` says about the same copy.
//!
//! Without `nvim` on PATH the test fails, unless `MLP_SKIP_NEOVIM=1` says to skip it.

use serde_json::Value;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the Lua driver waits for each thing before it gives up with exit code 2.
const WAIT_MS: u64 = 20_000;
/// How long nvim may run in all before the test kills it (so that nothing can hang).
const KILL_AFTER: Duration = Duration::from_secs(60);

/// What a user puts in their init.lua to get `mlpc lsp` on `.mlp` files (the snippet for
/// docs/editors.md), run here as is: Debian's Neovim 0.7 takes its `start_client` branch.
const CONFIG_LUA: &str = r#"-- mlp: `mlpc lsp` for *.mlp files, Neovim 0.7 and later.
vim.api.nvim_create_autocmd({ "BufRead", "BufNewFile" }, {
  pattern = "*.mlp",
  callback = function(args) vim.bo[args.buf].filetype = "mlp" end,
})
local mlp_clients = {} -- 0.7: one client per project folder
vim.api.nvim_create_autocmd("FileType", {
  pattern = "mlp",
  callback = function(args)
    -- A project is the folder of its .mlp files, as `mlpc check` reads it.
    local root = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(args.buf), ":p:h")
    local config = { name = "mlpc", cmd = { "mlpc", "lsp" }, root_dir = root }
    if vim.lsp.start then -- 0.8+: reuses the client of the same name and root
      vim.lsp.start(config, { bufnr = args.buf })
    else -- 0.7
      local id = mlp_clients[root]
      if not id or vim.lsp.client_is_stopped(id) then
        id = vim.lsp.start_client(config)
        mlp_clients[root] = id
      end
      if id then vim.lsp.buf_attach_client(args.buf, id) end
    end
  end,
})
"#;

/// The test's side: opens the file, waits on conditions (never a fixed sleep), writes what
/// Neovim reports as JSON. Exit 2 when a wait times out, 3 on any other error.
const DRIVER_LUA: &str = r#"
local function env(name)
  local v = os.getenv(name)
  if not v or v == "" then error("missing " .. name) end
  return v
end
local function die(code, msg)
  io.stderr:write("nvim driver: " .. msg .. "\n")
  vim.cmd("cquit " .. code)
end
-- Neovim's diagnostics, without user_data (which holds the raw LSP fields).
local function simple(ds)
  local out = {}
  for _, d in ipairs(ds) do
    table.insert(out, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      severity = d.severity, code = d.code, message = d.message, source = d.source,
    })
  end
  return out
end
local ok, err = pcall(function()
  local wait_ms = tonumber(env("MLP_NVIM_WAIT_MS"))
  vim.cmd("edit " .. vim.fn.fnameescape(env("MLP_NVIM_FILE")))
  local buf = vim.api.nvim_get_current_buf()
  if not vim.wait(wait_ms, function() return #vim.diagnostic.get(buf) > 0 end, 20) then
    die(2, "no diagnostics within " .. wait_ms .. " ms")
  end
  local before = simple(vim.diagnostic.get(buf))
  local clients = {}
  for _, c in pairs(vim.lsp.buf_get_clients(buf)) do
    table.insert(clients, { name = c.name, cmd = c.config.cmd, root_dir = c.config.root_dir })
  end
  -- The fix, as an edit of the buffer: Neovim's change tracking sends didChange.
  local line = tonumber(env("MLP_NVIM_FIX_LINE"))
  vim.api.nvim_buf_set_lines(buf, line, line + 1, true, { env("MLP_NVIM_FIX_TEXT") })
  if not vim.wait(wait_ms, function() return #vim.diagnostic.get(buf) == 0 end, 20) then
    die(2, "the diagnostics did not clear within " .. wait_ms .. " ms of the fix: "
      .. vim.fn.json_encode(simple(vim.diagnostic.get(buf))))
  end
  local report = {
    nvim = vim.version(),
    filetype = vim.bo[buf].filetype,
    mlpc = vim.fn.exepath("mlpc"),
    clients = clients,
    before = before,
    after = simple(vim.diagnostic.get(buf)),
  }
  vim.fn.writefile({ vim.fn.json_encode(report) }, env("MLP_NVIM_OUT"))
  for _, c in pairs(vim.lsp.get_active_clients()) do c.stop() end
  if not vim.wait(wait_ms, function() return #vim.lsp.get_active_clients() == 0 end, 20) then
    die(2, "the client did not stop within " .. wait_ms .. " ms")
  end
  vim.cmd("qa!")
end)
if not ok then die(3, tostring(err)) end
"#;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `nvim --version`'s first line, or `None` when there is no `nvim` on PATH.
fn nvim_version() -> Option<String> {
    match Command::new("nvim")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => panic!("cannot run nvim: {e}"),
    }
}

/// The example's `.mlp` files and `env/` folder, what `mlpc check` reads, copied to `to`.
fn copy_example(from: &Path, to: &Path) {
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let name = path.file_name().unwrap_or_else(|| panic!("no file name"));
        if path.is_dir() && name == "env" {
            let env = to.join("env");
            std::fs::create_dir_all(&env).unwrap_or_else(|e| panic!("{e}"));
            for file in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{e}")) {
                let file = file.unwrap_or_else(|e| panic!("{e}")).path();
                let name = file.file_name().unwrap_or_else(|| panic!("no file name"));
                std::fs::copy(&file, env.join(name)).unwrap_or_else(|e| panic!("{e}"));
            }
        } else if path.is_file() && path.extension().is_some_and(|x| x == "mlp") {
            std::fs::copy(&path, to.join(name)).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// `mlpc check --format json` of `dir`: its diagnostics.
fn check_json(dir: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .arg("check")
        .arg(dir)
        .args(["--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("mlpc: {e}"));
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    json["diagnostics"].as_array().cloned().unwrap_or_default()
}

#[test]
fn neovim_reports_the_code_and_line_of_an_injected_error_and_clears_it_when_fixed() {
    let Some(version) = nvim_version() else {
        if std::env::var("MLP_SKIP_NEOVIM").as_deref() == Ok("1") {
            eprintln!("SKIPPED: no `nvim` on PATH and MLP_SKIP_NEOVIM=1");
            return;
        }
        panic!(
            "no `nvim` on PATH: this test drives Debian's Neovim. Run scripts/test.sh (it \
             installs the `neovim` package), or `apt-get install neovim`; set \
             MLP_SKIP_NEOVIM=1 to skip it knowingly"
        );
    };
    eprintln!("{version}");

    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let project = tmp.path().join("fraud");
    std::fs::create_dir_all(&project).unwrap_or_else(|e| panic!("{e}"));
    copy_example(&root().join("examples/fraud"), &project);
    assert!(
        check_json(&project).is_empty(),
        "the untouched copy of examples/fraud checks clean"
    );

    let injected = inject_an_error(&project);
    let checker_message = the_checker_reports_it(&project, &injected);
    let (child, out, xdg) = start_neovim(tmp.path(), &project, &injected);
    let said = wait_for_neovim(child, &xdg);
    let report = neovim_ran_the_mlpc_just_built(&out, &said, &project);
    neovim_reports_what_the_checker_says_and_clears_it(&report, &injected, &checker_message);
}

/// The injected error in models.mlp, and the line it replaced.
struct Injected {
    models: PathBuf,
    /// The 0-based line of the error.
    line: usize,
    /// The byte column of the misspelled name on it.
    col: usize,
    /// The line as it was: the fix.
    good_line: String,
}

/// The injected error: a misspelled feature in the second model's inputs.
fn inject_an_error(project: &Path) -> Injected {
    let models = project.join("models.mlp");
    let text = std::fs::read_to_string(&models).unwrap_or_else(|e| panic!("{e}"));
    let (good, bad) = ("user_stats.countries_30d,", "user_stats.countries_30x,");
    assert_eq!(
        text.matches(good).count(),
        1,
        "models.mlp names `{good}` once"
    );
    let line = text
        .lines()
        .position(|l| l.contains(good))
        .unwrap_or_else(|| panic!("no `{good}`"));
    let good_line = text.lines().nth(line).unwrap_or("").to_string();
    let col = good_line.find("countries_30d").unwrap_or(0);
    std::fs::write(&models, text.replace(good, bad)).unwrap_or_else(|e| panic!("{e}"));
    Injected {
        models,
        line,
        col,
        good_line,
    }
}

/// What the command line says about it: E0109 at the line and column, and its message,
/// which is returned.
fn the_checker_reports_it(project: &Path, injected: &Injected) -> String {
    let Injected { line, col, .. } = *injected;
    let checked = check_json(project);
    assert_eq!(checked.len(), 1, "{checked:#?}");
    let checker = &checked[0];
    assert_eq!(checker["code"], "E0109", "{checker:#}");
    assert_eq!(checker["line"], line + 1, "{checker:#}");
    assert_eq!(checker["column"], col + 1, "{checker:#}");
    let checker_message = checker["message"].as_str().unwrap_or("").to_string();
    assert_eq!(
        checker_message,
        "`user_stats` has no feature `countries_30x`"
    );
    checker_message
}

/// Neovim, with nothing of the user's: `--clean`, its state and logs in the temp folder,
/// and the `mlpc` just built first on PATH (the config says `cmd = { "mlpc", "lsp" }`).
/// Returns the child, the file its report goes to and its XDG folder.
fn start_neovim(tmp: &Path, project: &Path, injected: &Injected) -> (Child, PathBuf, PathBuf) {
    let Injected {
        models,
        line,
        good_line,
        ..
    } = injected;
    let config = tmp.join("config.lua");
    let driver = tmp.join("driver.lua");
    let out = tmp.join("out.json");
    let xdg = tmp.join("xdg");
    std::fs::write(&config, CONFIG_LUA).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&driver, DRIVER_LUA).unwrap_or_else(|e| panic!("{e}"));
    let mlpc = PathBuf::from(env!("CARGO_BIN_EXE_mlpc"));
    let bin = mlpc.parent().unwrap_or_else(|| panic!("no folder"));
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new("nvim")
        .args(["--headless", "--clean", "-u", "NONE", "-n"])
        .arg("-c")
        .arg(format!("luafile {}", config.display()))
        .arg("-c")
        .arg(format!("luafile {}", driver.display()))
        .current_dir(project)
        .env("PATH", path)
        .env("XDG_CONFIG_HOME", xdg.join("config"))
        .env("XDG_DATA_HOME", xdg.join("data"))
        .env("XDG_STATE_HOME", xdg.join("state"))
        .env("XDG_CACHE_HOME", xdg.join("cache"))
        .env("MLP_NVIM_WAIT_MS", WAIT_MS.to_string())
        .env("MLP_NVIM_FILE", models)
        .env("MLP_NVIM_FIX_LINE", line.to_string())
        .env("MLP_NVIM_FIX_TEXT", good_line)
        .env("MLP_NVIM_OUT", &out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("nvim: {e}"));
    (child, out, xdg)
}

/// Waits for nvim, whose exit must be a success, under a guard that kills it if it has not
/// exited after KILL_AFTER. Returns what it said, for the messages of later assertions.
fn wait_for_neovim(child: Child, xdg: &Path) -> String {
    // The guard: kills nvim if it has not exited after KILL_AFTER.
    let pid = child.id();
    let (done, exited) = mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if exited.recv_timeout(KILL_AFTER) == Err(mpsc::RecvTimeoutError::Timeout) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::KILL) {
                    // It may have exited in the meantime; the assertion below tells.
                    eprintln!("could not kill nvim ({pid:?}): {e}");
                }
            }
            return true;
        }
        false
    });
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("nvim: {e}"));
    // The guard may have given up waiting already (it then killed nvim): nothing to tell.
    done.send(()).ok();
    let killed = guard.join().unwrap_or(false);
    let log = std::fs::read_to_string(xdg.join("cache/nvim/lsp.log")).unwrap_or_default();
    let said = format!(
        "nvim {:?}{}\nstdout: {}\nstderr: {}\nlsp.log:\n{log}",
        output.status,
        if killed {
            " (killed by the test's guard)"
        } else {
            ""
        },
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success() && !killed, "{said}");
    said
}

/// Neovim's report: the file is of type `mlp`, and its client is the `mlpc` just built,
/// rooted at the project.
fn neovim_ran_the_mlpc_just_built(out: &Path, said: &str, project: &Path) -> Value {
    let mlpc = PathBuf::from(env!("CARGO_BIN_EXE_mlpc"));
    let report: Value = serde_json::from_slice(
        &std::fs::read(out).unwrap_or_else(|e| panic!("{}: {e}\n{said}", out.display())),
    )
    .unwrap_or_else(|e| panic!("{e}\n{said}"));
    eprintln!("what Neovim reported: {report:#}");
    assert_eq!(report["filetype"], "mlp", "{report:#}");
    assert_eq!(
        report["mlpc"].as_str().map(PathBuf::from),
        Some(mlpc.clone()),
        "the mlpc just built is the one Neovim ran: {report:#}"
    );
    assert_eq!(report["clients"][0]["name"], "mlpc", "{report:#}");
    assert_eq!(
        report["clients"][0]["root_dir"].as_str().map(PathBuf::from),
        Some(project.to_path_buf()),
        "{report:#}"
    );
    report
}

/// What Neovim reports (0-based line and byte column), against the checker; after the fix in
/// the buffer, Neovim's list for the file is empty.
fn neovim_reports_what_the_checker_says_and_clears_it(
    report: &Value,
    injected: &Injected,
    checker_message: &str,
) {
    let Injected { line, col, .. } = *injected;
    // What Neovim reports (0-based line and byte column), against the checker.
    let before = report["before"].as_array().cloned().unwrap_or_default();
    assert_eq!(before.len(), 1, "{report:#}");
    let d = &before[0];
    assert_eq!(d["code"], "E0109", "{report:#}");
    assert_eq!(d["lnum"], line, "{report:#}");
    assert_eq!(d["col"], col, "{report:#}");
    assert_eq!(d["end_lnum"], line, "{report:#}");
    assert_eq!(d["end_col"], col + "countries_30x".len(), "{report:#}");
    // vim.diagnostic.severity.ERROR
    assert_eq!(d["severity"], 1, "{report:#}");
    let message = d["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with(checker_message),
        "Neovim shows the checker's message: {message:?} vs {checker_message:?}"
    );
    assert!(
        message.contains("did you mean `countries_30d`?"),
        "{message:?}"
    );

    // After the fix in the buffer, Neovim's list for the file is empty.
    assert_eq!(report["after"], serde_json::json!([]), "{report:#}");
}
