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
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        // Reached only for the backends whose feature is off in this build.
        _ if ["ndarray", "wgpu", "cuda"].contains(&name) => Err(unavailable(&format!(
            "rebuild with `--features {name}` to enable it"
        ))),
        _ => Err(unavailable("unknown backend")),
    }
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
}
