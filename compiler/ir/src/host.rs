//! What a plan's constructs need from the machine they run on, looked up the same way by the
//! checker (which rejects what cannot run here) and by the runtime (which uses it).

use std::path::PathBuf;

/// Where `sendmail` is, for the `email` alert sink: `/usr/sbin/sendmail`,
/// `/usr/lib/sendmail`, then `PATH`. `None` when this machine has none.
pub fn sendmail() -> Option<PathBuf> {
    let fixed = ["/usr/sbin/sendmail", "/usr/lib/sendmail"].map(PathBuf::from);
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("sendmail"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    fixed.into_iter().chain(on_path).find(|p| p.is_file())
}

/// The environment variable that puts a project's state folder elsewhere than `DIR/.mlp`.
pub const STATE_DIR_VAR: &str = "MLP_STATE_DIR";

/// Where the state of the project in `project_dir` lives: the applied plan, the registry and
/// its blobs, run history, step outputs, the prediction log, monitor history, the local online
/// store. `DIR/.mlp`, unless `MLP_STATE_DIR` names another folder: a volume the servers of a
/// cluster share (docs/scale-out.md). One such folder holds one project's state.
pub fn state_dir(project_dir: &std::path::Path) -> PathBuf {
    match std::env::var_os(STATE_DIR_VAR) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => project_dir.join(".mlp"),
    }
}

/// `path` (relative to the project, as the registry records artifacts: `.mlp/registry/…`)
/// resolved against the project folder, with a leading `.mlp/` under [`state_dir`].
pub fn project_path(project_dir: &std::path::Path, path: &str) -> PathBuf {
    match path.strip_prefix(".mlp/") {
        Some(rest) => state_dir(project_dir).join(rest),
        None => project_dir.join(path),
    }
}
