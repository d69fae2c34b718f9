//! Choosing the compute device by name, as configs and command lines spell it.
//!
//! burn 0.22 dispatches on the `Device` value at run time, so switching backend is a matter of
//! building a different device: no model or training code names a backend. Backends other than
//! `flex` exist only when the matching cargo feature is on.

use burn::tensor::Device;

use crate::{Error, Result};

/// The backend used when a config does not name one: burn's `flex` CPU backend, measured on the
/// width-16 U-Net here 14x faster than the deprecated `ndarray` backend (see `BENCHMARKS.md`).
pub const DEFAULT_BACKEND: &str = "flex";

/// The backend names compiled into this binary.
pub fn available_backends() -> Vec<&'static str> {
    let mut names = vec!["flex"];
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    names
}

/// The inference device for a backend name (`flex`, `ndarray`, `wgpu`, `cuda`).
pub fn device(name: &str) -> Result<Device> {
    let unavailable = |reason: &str| Error::Backend {
        name: name.to_string(),
        reason: format!(
            "{reason}; available in this build: {}",
            available_backends().join(", ")
        ),
    };
    match name {
        "flex" => Ok(Device::flex()),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)] // kept only to compare against flex
        "ndarray" => Ok(Device::ndarray()),
        #[cfg(feature = "wgpu")]
        "wgpu" => wgpu_runtime::get()
            .map(|(device, _)| device.clone())
            .map_err(|reason| unavailable(&reason)),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        // Reached only for the backends whose feature is off in this build.
        _ if ["ndarray", "wgpu", "cuda"].contains(&name) => Err(unavailable(&format!(
            "rebuild with `--features {name}` to enable it"
        ))),
        _ => Err(unavailable("unknown backend")),
    }
}

/// What a backend name runs on, for the log and the manifests: the CPU model for the CPU
/// backends, the adapter, its graphics API and its driver for wgpu (e.g. `llvmpipe (LLVM 15.0.6,
/// 256 bits), Cpu, Vulkan, driver llvmpipe Mesa 22.3.6`, which says a run used Mesa's
/// software Vulkan and not a GPU).
pub fn describe(name: &str) -> Result<String> {
    device(name)?;
    Ok(match name {
        #[cfg(feature = "wgpu")]
        "wgpu" => wgpu_runtime::get()
            .map(|(_, description)| format!("wgpu: {description}"))
            .unwrap_or_default(),
        #[cfg(feature = "cuda")]
        "cuda" => "cuda: device 0".to_string(),
        _ => format!("{name}: {} (CPU)", cpu_model()),
    })
}

/// The CPU's model name from `/proc/cpuinfo`, or `unknown CPU` where there is none.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

/// burn's wgpu runtime, initialised once per process through `init_with_setup`: that is the
/// one call that hands back the adapter, so the manifests can say which device (and driver)
/// ran. A runtime can be initialised only once, so every wgpu device of the harness comes from
/// here, never from `Device::wgpu` directly.
#[cfg(feature = "wgpu")]
mod wgpu_runtime {
    use std::sync::OnceLock;

    use burn::tensor::Device;

    static RUNTIME: OnceLock<Result<(Device, String), String>> = OnceLock::new();

    /// The device and a description of its adapter, or why there is none (no Vulkan, Metal
    /// or DX12 driver: install `mesa-vulkan-drivers` for a software one).
    pub fn get() -> Result<&'static (Device, String), String> {
        RUNTIME
            .get_or_init(|| {
                let (device, setup) = Device::wgpu_options().init_with_setup().map_err(|err| {
                    format!(
                        "no wgpu adapter ({err}); a GPU needs its Vulkan driver, a CPU-only \
                         machine Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`)"
                    )
                })?;
                let info = setup.adapter.get_info();
                let description = format!(
                    "{}, {:?}, {:?}, driver {} {}",
                    info.name, info.device_type, info.backend, info.driver, info.driver_info
                );
                Ok((device, description))
            })
            .as_ref()
            .map_err(String::clone)
    }
}

/// Use `threads` worker threads for all CPU work (burn's `flex` kernels and the engine both
/// run on rayon's global pool). Must be called before any computation; the pool can be sized
/// once per process.
pub fn set_worker_threads(threads: usize) -> Result<()> {
    if threads == 0 {
        return Err(Error::Backend {
            name: "threads".into(),
            reason: "--threads must be at least 1".into(),
        });
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|err| Error::Backend {
            name: "threads".into(),
            reason: format!("the worker pool was already started: {err}"),
        })
}

/// Worker threads of the CPU pool (one per core unless [`set_worker_threads`] or
/// `RAYON_NUM_THREADS` said otherwise).
pub fn worker_threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_backends_are_named_with_the_alternatives() {
        let err = device("tpu").expect_err("no such backend");
        let message = err.to_string();
        assert!(
            message.contains("tpu") && message.contains("flex"),
            "{message}"
        );
        assert!(device(DEFAULT_BACKEND).is_ok());
    }

    #[test]
    fn the_cpu_backend_is_described_by_its_processor() {
        let description = describe("flex").expect("flex is always built");
        assert!(description.starts_with("flex: "), "{description}");
        assert!(description.ends_with("(CPU)"), "{description}");
        assert!(describe("tpu").is_err());
    }
}
