//! Where the venv's libtorch is, for the build scripts of mlp-serving and mlpc (both include
//! this file): the `lib` folder of the torch package that `MLP_VENV`'s Python (else
//! `python3`) imports.

/// The libtorch folder, or `None` when no Python with torch answers.
pub fn torch_lib_dir() -> Option<String> {
    println!("cargo:rerun-if-env-changed=MLP_VENV");
    let python = std::env::var("MLP_VENV")
        .map(|v| format!("{v}/bin/python"))
        .unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!dir.is_empty()).then_some(dir)
}
