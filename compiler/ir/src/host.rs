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
