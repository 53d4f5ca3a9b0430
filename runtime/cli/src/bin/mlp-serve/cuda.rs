//! The CUDA libraries load only when a deployment asks for them. `mlp-serve` links libtorch
//! without keeping `libtorch_cuda` (and with it cuBLAS, cuDNN, NCCL, ...): a server whose
//! deployments all run on the CPU never maps them. When a deployment says `device = cuda`,
//! or `device = auto` on a machine with an NVIDIA driver, the server starts itself again
//! with `libtorch_cuda.so` from the same folder as the `libtorch_cpu.so` it runs with
//! preloaded (`LD_PRELOAD`), so that libtorch registers its CUDA backend at start-up.

use mlp_ir::{Plan, Spec};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// Set in the environment of the restarted server, so that it restarts once at most.
const PRELOADED: &str = "MLP_TORCH_CUDA_PRELOADED";

/// Whether this machine has an NVIDIA driver loaded.
pub fn gpu_present() -> bool {
    Path::new("/proc/driver/nvidia/version").exists() || Path::new("/dev/nvidiactl").exists()
}

/// Whether a deployment of `plan` runs on CUDA here: `device = cuda`, or `auto` with a GPU.
pub fn wanted(plan: &Plan, gpu: bool) -> bool {
    plan.resources().any(|r| match &r.spec {
        Spec::Deployment { device, .. } => device == "cuda" || (device == "auto" && gpu),
        _ => false,
    })
}

/// `libtorch_cuda.so` beside the `libtorch_cpu.so` this process has mapped, if it exists.
fn torch_cuda_library() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let cpu = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))?;
    let cuda = Path::new(cpu).with_file_name("libtorch_cuda.so");
    cuda.is_file().then_some(cuda)
}

/// Restarts this process with libtorch's CUDA backend preloaded when `plan` needs it and it
/// is not loaded yet. Returns only when no restart is needed or possible (then saying why
/// on stderr; deployments that need CUDA fail to load with the loader's error).
pub fn restart_with_cuda_if_needed(plan: &Plan) {
    if std::env::var_os(PRELOADED).is_some() || !wanted(plan, gpu_present()) {
        return;
    }
    let Some(lib) = torch_cuda_library() else {
        eprintln!(
            "serve: a deployment asks for CUDA, but no libtorch_cuda.so is beside this process's libtorch_cpu.so (a CPU-only torch?); serving on the CPU"
        );
        return;
    };
    let preload = match std::env::var("LD_PRELOAD") {
        Ok(p) if !p.is_empty() => format!("{}:{p}", lib.display()),
        _ => lib.display().to_string(),
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("serve: cannot restart with CUDA ({e}); serving on the CPU");
            return;
        }
    };
    let err = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .env("LD_PRELOAD", preload)
        .env(PRELOADED, "1")
        .exec();
    eprintln!("serve: cannot restart with CUDA ({err}); serving on the CPU");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_is_wanted_for_cuda_or_auto_with_a_gpu() {
        let plan = |device: &str| {
            let src = format!(
                "project p {{}}\nrequest r {{ x: float }}\nmodel m {{ inputs = [r.x]  output = y: float }}\ndeployment d {{\n  model  = m@1\n  device = {device}\n}}\n"
            );
            let checked = mlp_driver::check_sources(&[("p.mlp".into(), src)], None);
            checked
                .plan
                .unwrap_or_else(|| panic!("{:?}", checked.diagnostics))
        };
        assert!(wanted(&plan("cuda"), false));
        assert!(!wanted(&plan("cpu"), true));
        assert!(wanted(&plan("auto"), true));
        assert!(!wanted(&plan("auto"), false));
    }
}
